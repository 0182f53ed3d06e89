package controllers

import (
	"fmt"
	"maps"
	"testing"
	"time"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	"github.com/hookwarden/hookwarden/internal/metrics/metricstest"
)

// TestReconcileOnRequest: setting reconcile.hookwarden.io/requestedAt
// reconciles at once, long before the interval, and status echoes the
// value handled.
func TestReconcileOnRequest(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.withSecret("on-request")
	h.integration("on-request", []string{"acme/api"}) // interval: an hour
	gi := h.waitReady("on-request")
	if gi.Status.LastHandledReconcileAt != "" {
		t.Errorf("lastHandledReconcileAt %q before any request", gi.Status.LastHandledReconcileAt)
	}
	hs, _ := hookStatusOf(gi, "acme/api")
	if err := h.sim.DeleteHook("acme/api", hs.ID); err != nil {
		t.Fatal(err)
	}

	for _, requestedAt := range []string{"2026-11-30T08:00:00Z", "2026-11-30T08:05:00Z"} {
		h.update("on-request", func(gi *hookv1.GitHubIntegration) {
			if gi.Annotations == nil {
				gi.Annotations = map[string]string{}
			}
			gi.Annotations[hookv1.ReconcileRequestAnnotation] = requestedAt
		})
		h.eventually(10*time.Second, func() error {
			if got := h.get("on-request").Status.LastHandledReconcileAt; got != requestedAt {
				return fmt.Errorf("lastHandledReconcileAt %q, want %q", got, requestedAt)
			}
			return nil
		})
		if hooks := h.simHooks("acme/api"); len(hooks) != 1 {
			t.Errorf("after the request of %s, acme/api has %d hooks, want the deleted one registered again", requestedAt, len(hooks))
		}
	}
}

// TestConditionSeriesFollowTheIntegration: hookwarden_integration_condition
// shows each condition the integration has, 1 for its status and 0 for the
// others, drops a condition that goes, and leaves nothing once the
// integration is deleted; hooks_registered goes with it.
func TestConditionSeriesFollowTheIntegration(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	// No Secret yet: the integration cannot be Ready.
	h.integration("watched", []string{"acme/api"})
	ours := map[string]string{"namespace": h.ns, "name": "watched"}
	h.eventually(10*time.Second, func() error { return h.conditionSeriesMatch("watched") })
	if v, _ := metricstest.Value(t, "hookwarden_integration_condition", with(ours, "type", "Ready", "status", "False")); v != 1 {
		t.Errorf("Ready False series %v before the Secret exists, want 1", v)
	}

	h.withSecret("watched")
	h.waitReady("watched")
	h.eventually(10*time.Second, func() error { return h.conditionSeriesMatch("watched") })
	for _, gone := range []string{hookv1.ConditionReconciling, hookv1.ConditionStalled} {
		if s := metricstest.Series(t, "hookwarden_integration_condition", with(ours, "type", gone)); len(s) > 0 {
			t.Errorf("Ready integration keeps %s series: %v", gone, s)
		}
	}
	if v, _ := metricstest.Value(t, "hookwarden_hooks_registered", ours); v != 1 {
		t.Errorf("hooks_registered %v, want 1", v)
	}

	h.deleteAndWaitGone("watched", 20*time.Second)
	h.eventually(5*time.Second, func() error {
		for _, name := range []string{"hookwarden_integration_condition", "hookwarden_hooks_registered", "hookwarden_redeliveries_total"} {
			if s := metricstest.Series(t, name, ours); len(s) > 0 {
				return fmt.Errorf("the deleted integration left %s series: %v", name, s)
			}
		}
		return nil
	})
}

// conditionSeriesMatch reports whether the condition series of the
// integration are exactly its conditions: per type, 1 for its status and 0
// for the two others.
func (h *harness) conditionSeriesMatch(name string) error {
	gi := h.get(name)
	want := map[string]float64{}
	for _, c := range gi.Status.Conditions {
		for _, s := range []string{"True", "False", "Unknown"} {
			v := 0.0
			if s == string(c.Status) {
				v = 1
			}
			want[c.Type+"="+s] = v
		}
	}
	got := map[string]float64{}
	for _, s := range metricstest.Series(h.t, "hookwarden_integration_condition", map[string]string{"namespace": h.ns, "name": name}) {
		got[s.Labels["type"]+"="+s.Labels["status"]] = s.Value
	}
	if len(want) == 0 || !maps.Equal(got, want) {
		return fmt.Errorf("condition series %v, want %v (conditions %+v)", got, want, gi.Status.Conditions)
	}
	return nil
}

// with returns labels and the key/value pairs kv added.
func with(labels map[string]string, kv ...string) map[string]string {
	out := maps.Clone(labels)
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}
