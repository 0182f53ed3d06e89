package webhookserver

import (
	"net/http"
	"testing"

	"k8s.io/apimachinery/pkg/types"

	"github.com/hookwarden/hookwarden/internal/delivery"
	"github.com/hookwarden/hookwarden/internal/metrics/metricstest"
)

// TestDeliverySeriesNameTheIntegrationAndGoWithIt: the deliveries of an
// integration are counted under separate namespace and name labels, as
// kube-state-metrics and Flux label objects, and once the integration is
// deleted none of its series is left, and none comes back.
func TestDeliverySeriesNameTheIntegrationAndGoWithIt(t *testing.T) {
	s := newHandlerServer(t, Options{})
	gi := testIntegration()
	gi.Name = "short-lived"
	key := types.NamespacedName{Namespace: gi.Namespace, Name: gi.Name}
	s.store.upsert(newIntegration(gi))
	s.store.setSecrets(key, &secretState{secrets: delivery.Secrets{Current: []byte(testSecret)}})
	ours := map[string]string{"namespace": gi.Namespace, "name": gi.Name}

	answers := serveAll(t, s, []*http.Request{
		deliveryTo(key, "push", pushExample, testSecret),
		deliveryTo(key, "push", pushExample, "not-the-secret"),
	})
	if answers[0].code != http.StatusOK || answers[1].code != http.StatusUnauthorized {
		t.Fatalf("answers %v, want 200 and 401", answers)
	}
	if v, ok := metricstest.Value(t, "hookwarden_deliveries_total", map[string]string{
		"namespace": gi.Namespace, "name": gi.Name, "event": "push", "result": "processed"}); !ok || v != 1 {
		t.Errorf("processed push counted %v (series %v), want 1", v, ok)
	}
	if v, ok := metricstest.Value(t, "hookwarden_deliveries_total", map[string]string{
		"namespace": gi.Namespace, "name": gi.Name, "result": "rejected"}); !ok || v != 1 {
		t.Errorf("rejected delivery counted %v (series %v), want 1", v, ok)
	}
	for _, sample := range metricstest.Series(t, "hookwarden_deliveries_total", nil) {
		if _, glued := sample.Labels["integration"]; glued {
			t.Fatalf("series %v still has the glued namespace/name label", sample.Labels)
		}
	}

	s.onIntegrationDeleted(gi)
	if left := metricstest.Series(t, "hookwarden_deliveries_total", ours); len(left) > 0 {
		t.Errorf("the deleted integration left series: %v", left)
	}
	// A request that found the integration just before the deletion is
	// counted just after it: its series does not come back.
	receiverMetrics.observe(deliveryLabels{namespace: gi.Namespace, name: gi.Name, event: "push", result: resultProcessed},
		http.StatusOK, 0.001, s.store.has)
	if left := metricstest.Series(t, "hookwarden_deliveries_total", ours); len(left) > 0 {
		t.Errorf("an answer racing the deletion brought series back: %v", left)
	}
	// Its URL now names nothing: the answer creates no series either.
	if answers := serveAll(t, s, []*http.Request{deliveryTo(key, "push", pushExample, testSecret)}); answers[0].code != http.StatusNotFound {
		t.Errorf("a delivery for the deleted integration answered %v, want 404", answers[0])
	}
	if left := metricstest.Series(t, "hookwarden_deliveries_total", ours); len(left) > 0 {
		t.Errorf("a delivery after the deletion created series: %v", left)
	}
	// The test integration is still counted as before.
	if answers := serveAll(t, s, []*http.Request{newDelivery("push", pushExample)}); answers[0].code != http.StatusOK {
		t.Fatalf("a delivery for the remaining integration answered %v", answers[0])
	}
	if len(metricstest.Series(t, "hookwarden_deliveries_total", map[string]string{"namespace": testNS, "name": testName})) == 0 {
		t.Error("the other integration's series went too")
	}
}
