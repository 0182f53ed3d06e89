package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
)

// TestEachStatusFieldHasOneWriter: the reconciler and the receiver each
// write their own part of the status, under their own field manager, and
// the API server's record of who owns which field says so: no field is
// owned by both, and each owns exactly its part.
func TestEachStatusFieldHasOneWriter(t *testing.T) {
	t.Parallel()
	repos := []string{"acme/api"}
	e := startE2E(t, repos)
	e.readyIntegration("owners", repos, e2eOldSecret, func(gi *hookv1.GitHubIntegration) {
		gi.Spec.Interval = metav1.Duration{Duration: time.Minute}
	})
	if code := e.deliver("owners", e2eOldSecret); code != http.StatusOK {
		t.Fatalf("delivery answered %d, want 200", code)
	}
	var owned map[string][]string
	e.eventually(30*time.Second, func() error {
		gi := e.get("owners")
		if gi.Status.Deliveries.Processed == 0 || gi.Status.LastDelivery == nil {
			return fmt.Errorf("the delivery is not recorded yet")
		}
		owned = statusFieldsByManager(t, gi)
		if len(owned[hookv1.ReceiverFieldManager]) == 0 || len(owned[hookv1.ReconcilerFieldManager]) == 0 {
			return fmt.Errorf("status fields by manager: %v", owned)
		}
		return nil
	})

	reconciler := []string{"conditions", "hookCount", "hooks", "observedGeneration", "payloadURL", "target", "webhookSecret"}
	receiver := []string{"deliveries.processed", "deliveries.received", "eventCounts", "lastDelivery"}
	for manager, fields := range owned {
		switch manager {
		case hookv1.ReconcilerFieldManager:
			for _, f := range reconciler {
				if !slices.Contains(fields, f) {
					t.Errorf("the reconciler does not own status.%s: it owns %v", f, fields)
				}
			}
			for _, f := range fields {
				if slices.Contains(receiver, f) || strings.HasPrefix(f, "deliveries.") && f != "deliveries.redelivered" {
					t.Errorf("the reconciler owns status.%s, a field of the receiver", f)
				}
			}
		case hookv1.ReceiverFieldManager:
			for _, f := range receiver {
				if !slices.Contains(fields, f) {
					t.Errorf("the receiver does not own status.%s: it owns %v", f, fields)
				}
			}
			for _, f := range fields {
				if slices.Contains(reconciler, f) || f == "deliveries.redelivered" {
					t.Errorf("the receiver owns status.%s, a field of the reconciler", f)
				}
			}
		default:
			t.Errorf("status fields written by %q: %v; only %s and %s write status",
				manager, fields, hookv1.ReconcilerFieldManager, hookv1.ReceiverFieldManager)
		}
	}
}

// statusFieldsByManager lists, per field manager, the status fields it owns
// (a top-level field, or deliveries.<counter>), from managedFields.
func statusFieldsByManager(t *testing.T, gi *hookv1.GitHubIntegration) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, mf := range gi.ManagedFields {
		if mf.FieldsV1 == nil {
			continue
		}
		var fields map[string]map[string]any
		if err := json.Unmarshal(mf.FieldsV1.GetRawBytes(), &fields); err != nil {
			t.Fatal(err)
		}
		for key, sub := range fields["f:status"] {
			name, ok := strings.CutPrefix(key, "f:")
			if !ok {
				continue
			}
			if name == "deliveries" {
				for counter := range sub.(map[string]any) {
					if c, ok := strings.CutPrefix(counter, "f:"); ok {
						out[mf.Manager] = append(out[mf.Manager], "deliveries."+c)
					}
				}
				continue
			}
			out[mf.Manager] = append(out[mf.Manager], name)
		}
	}
	for m := range out {
		slices.Sort(out[m])
	}
	return out
}
