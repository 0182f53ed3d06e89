package webhookserver

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
)

// Two workers may record an issue's deliveries in either order; status must
// show the issue as the newest delivery left it.
func TestIssueTrackingIgnoresRecordingOrder(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	k := itemKey{"acme/api", 1}
	labeled := &record{time: t0, result: hookv1.DeliveryProcessed, issue: &hookv1.IssueStatus{
		Repository: "acme/api", Number: 1, State: "open", Title: "Spelling", UpdatedTime: metav1.NewTime(t0)}}
	unlabeled := &record{time: t0.Add(time.Second), result: hookv1.DeliveryProcessed, untrackIssue: &k}

	for name, order := range map[string][]*record{
		"in order":     {labeled, unlabeled},
		"out of order": {unlabeled, labeled},
	} {
		t.Run(name, func(t *testing.T) {
			d := newStatusDelta()
			for _, r := range order {
				d.add(r)
			}
			st := &hookv1.GitHubIntegrationStatus{}
			d.applyTo(st)
			if len(st.Issues) != 0 {
				t.Errorf("issues = %+v, want none: the label was removed last", st.Issues)
			}
		})
	}
}
