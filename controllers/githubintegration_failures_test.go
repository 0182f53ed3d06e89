package controllers

import (
	"fmt"
	"testing"
	"time"

	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	"github.com/hookwarden/hookwarden/internal/githubsim"
)

func TestBadInputStallsWithAClearMessage(t *testing.T) {
	cases := []struct {
		name    string
		data    map[string]string // nil: no Secret
		events  []string
		repo    string
		reason  string
		message []string
	}{
		{name: "no-secret", reason: hookv1.ReasonSecretNotFound,
			message: []string{`Secret "no-secret" not found in namespace`}},
		{name: "no-token", data: map[string]string{"webhook_secret": testWebhookSecret}, reason: hookv1.ReasonInvalidSecret,
			message: []string{`has no key "token"`, "admin:repo_hook"}},
		{name: "no-webhook-secret", data: map[string]string{"token": testToken}, reason: hookv1.ReasonInvalidSecret,
			message: []string{`has no key "webhook_secret"`, "at least 16 characters"}},
		{name: "short-secret", data: map[string]string{"token": testToken, "webhook_secret": "short"}, reason: hookv1.ReasonInvalidSecret,
			message: []string{`key "webhook_secret" holds 5 characters`}},
		{name: "padded-secret", data: map[string]string{"token": testToken, "webhook_secret": testWebhookSecret + "\n"}, reason: hookv1.ReasonInvalidSecret,
			message: []string{`key "webhook_secret" has leading or trailing whitespace`}},
		{name: "bad-token", data: map[string]string{"token": "ghp_not_a_token_github_knows_0000000", "webhook_secret": testWebhookSecret},
			reason:  hookv1.ReasonUnauthorized,
			message: []string{`token in key "token" of Secret "bad-token"`, "401", "Bad credentials", `"admin:repo_hook" scope`, `"Webhooks: write" permission`}},
		{name: "missing-repo", repo: "acme/missing", reason: hookv1.ReasonTargetNotFound,
			message: []string{"acme/missing: repository not found", `key "token"`}},
		{name: "rejected", events: []string{"push", "not_an_event"}, reason: hookv1.ReasonInvalid,
			message: []string{`acme/rejected: GitHub rejected the hook: Validation Failed: Invalid event: "not_an_event"`}},
	}
	var repos []string
	for _, tc := range cases {
		repos = append(repos, "acme/"+tc.name)
	}
	h := newHarness(t, harnessOptions{repos: repos, concurrency: 4})
	for _, tc := range cases {
		if tc.data == nil && tc.name != "no-secret" {
			tc.data = map[string]string{"token": testToken, "webhook_secret": testWebhookSecret}
		}
		if tc.data != nil {
			h.secret(tc.name, tc.data)
		}
		repo := tc.repo
		if repo == "" {
			repo = "acme/" + tc.name
		}
		h.integration(tc.name, []string{repo}, func(gi *hookv1.GitHubIntegration) {
			if tc.events != nil {
				gi.Spec.Events = tc.events
			}
		})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			gi := h.waitStalledSaying(t, tc.name, tc.reason, 15*time.Second, tc.message,
				testToken, "ghp_not_a_token", testWebhookSecret, `"short"`)
			if got := kstatus(t, gi); got != status.FailedStatus {
				t.Errorf("kstatus = %s, want Failed", got)
			}
			if condition(gi, hookv1.ConditionReconciling) != nil {
				t.Error("a stalled object also reports Reconciling")
			}
			if evs := h.recorder.find(tc.name, tc.reason); len(evs) == 0 || evs[0].eventType != "Warning" {
				t.Errorf("Warning events with reason %s: %+v", tc.reason, evs)
			}
			if hooks := h.simHooks("acme/" + tc.name); len(hooks) != 0 {
				t.Errorf("%d hooks registered despite the bad input", len(hooks))
			}
		})
	}

	// Stalled objects are not retried in a loop: a Secret error waits for
	// the Secret, which the index-backed watch notices. The objects' own
	// writes wake them once more (the protection finalizer added to a
	// referenced Secret is a change of that Secret): let that settle, then
	// nothing may follow.
	h.eventually(10*time.Second, func() error {
		settled := h.reconciles.Load()
		time.Sleep(300 * time.Millisecond)
		if n := h.reconciles.Load() - settled; n > 0 {
			return fmt.Errorf("%d reconciles in 300ms", n)
		}
		return nil
	})
	before := h.reconciles.Load()
	time.Sleep(time.Second)
	if n := h.reconciles.Load() - before; n > 0 {
		t.Errorf("%d reconciles of stalled objects within a second", n)
	}
	h.withSecret("no-secret")
	gi := h.waitReady("no-secret")
	if gi.Status.HookCount != 1 || len(h.simHooks("acme/no-secret")) != 1 {
		t.Errorf("after the Secret appeared: %+v", gi.Status)
	}
}

func TestPartialFailureKeepsTheOtherTargets(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.withSecret("partial")
	h.integration("partial", []string{"acme/api", "acme/gone", "acme/web"})
	gi := h.waitCondition("partial", hookv1.ConditionReady, metav1.ConditionFalse, hookv1.ReasonTargetNotFound, 15*time.Second)
	ready := condition(gi, hookv1.ConditionReady)
	if err := contains(ready.Message, "1 of 3 targets failed (acme/gone)", "acme/gone: repository not found"); err != nil {
		t.Error(err)
	}
	for _, repo := range []string{"acme/api", "acme/web"} {
		hooks := h.simHooks(repo)
		hs, err := hookStatusOf(gi, repo)
		if err != nil || len(hooks) != 1 || hs.ID != hooks[0].ID || hs.LastError != "" {
			t.Errorf("%s: status %+v, %d hooks on GitHub (%v)", repo, hs, len(hooks), err)
		}
	}
	gone, err := hookStatusOf(gi, "acme/gone")
	if err != nil || gone.ID != 0 || gone.LastError != "GitHub answered 404: Not Found" {
		t.Errorf("acme/gone status: %+v (%v)", gone, err)
	}
	if gi.Status.HookCount != 2 || gi.Status.Target != "acme/api +2" {
		t.Errorf("summary: hookCount %d target %q", gi.Status.HookCount, gi.Status.Target)
	}
}

func TestDeletionPolicies(t *testing.T) {
	h := newHarness(t, harnessOptions{repos: []string{"acme/api", "acme/web", "acme/orphan", "acme/stuck"}})
	for name, repos := range map[string][]string{"remove": {"acme/api", "acme/web"}, "orphan": {"acme/orphan"}, "stuck": {"acme/stuck"}} {
		h.withSecret(name)
		h.integration(name, repos, func(gi *hookv1.GitHubIntegration) {
			if name == "orphan" {
				gi.Spec.DeletionPolicy = hookv1.DeletionPolicyOrphan
			}
		})
	}
	remove := h.waitReady("remove")
	h.waitReady("orphan")
	h.waitReady("stuck")

	// Delete: every hook goes; one already deleted on GitHub counts.
	web, _ := hookStatusOf(remove, "acme/web")
	if err := h.sim.DeleteHook("acme/web", web.ID); err != nil {
		t.Fatal(err)
	}
	h.deleteAndWaitGone("remove", 10*time.Second)
	for _, repo := range []string{"acme/api", "acme/web"} {
		if hooks := h.simHooks(repo); len(hooks) != 0 {
			t.Errorf("%s keeps %d hooks after deletion", repo, len(hooks))
		}
	}
	if n := len(h.recorder.find("remove", hookv1.EventHookDeleted)); n != 2 {
		t.Errorf("%d HookDeleted events, want 2", n)
	}

	// Orphan: the hooks stay.
	h.deleteAndWaitGone("orphan", 10*time.Second)
	if hooks := h.simHooks("acme/orphan"); len(hooks) != 1 {
		t.Errorf("acme/orphan has %d hooks after an Orphan deletion, want 1", len(hooks))
	}
	if n := len(h.recorder.find("orphan", hookv1.EventHooksOrphaned)); n != 1 {
		t.Errorf("%d HooksOrphaned events", n)
	}

	// GitHub failing: the finalizer stays, retries back off, and switching
	// to Orphan releases the object.
	h.sim.SetFault("DELETE /repos/{owner}/{repo}/hooks/{hook_id}", githubsim.Fault{ErrorRate: 1, ErrorStatus: 502})
	h.sim.ResetStats()
	if err := env.Client.Delete(h.ctx, h.get("stuck")); err != nil {
		t.Fatal(err)
	}
	gi := h.waitCondition("stuck", hookv1.ConditionReady, metav1.ConditionFalse, hookv1.ReasonGitHubUnavailable, 10*time.Second)
	if err := contains(condition(gi, hookv1.ConditionReady).Message, "acme/stuck", "502", "set spec.deletionPolicy to Orphan"); err != nil {
		t.Error(err)
	}
	time.Sleep(3 * time.Second)
	gi = h.get("stuck")
	deletes := h.sim.Stats().ByRoute["DELETE /repos/{owner}/{repo}/hooks/{hook_id}"]
	if gi.DeletionTimestamp == nil || len(gi.Finalizers) == 0 {
		t.Fatalf("the object went while GitHub failed: %+v", gi.ObjectMeta)
	}
	// Exponential backoff from 5ms: about 10 attempts in 3s, not hundreds.
	if deletes < 3 || deletes > 15 {
		t.Errorf("%d DELETE attempts in ~3s, want a few retries with backoff", deletes)
	}
	h.update("stuck", func(gi *hookv1.GitHubIntegration) { gi.Spec.DeletionPolicy = hookv1.DeletionPolicyOrphan })
	h.waitGone("stuck", 10*time.Second)
	if hooks := h.simHooks("acme/stuck"); len(hooks) != 1 {
		t.Errorf("acme/stuck has %d hooks after release with Orphan, want 1", len(hooks))
	}
}

func (h *harness) deleteAndWaitGone(name string, timeout time.Duration) {
	h.t.Helper()
	if err := env.Client.Delete(h.ctx, h.get(name)); err != nil {
		h.t.Fatal(err)
	}
	h.waitGone(name, timeout)
}

func (h *harness) waitGone(name string, timeout time.Duration) {
	h.t.Helper()
	h.eventually(timeout, func() error {
		err := h.read(name, &hookv1.GitHubIntegration{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("%s still exists (%w)", name, err)
	})
}

func TestGitHubOutageIsRetriedWithBackoff(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.sim.SetFault(githubsim.FaultAll, githubsim.Fault{ErrorRate: 1, ErrorStatus: 503})
	h.withSecret("outage")
	h.integration("outage", []string{"acme/api"})
	gi := h.waitCondition("outage", hookv1.ConditionReady, metav1.ConditionFalse, hookv1.ReasonGitHubUnavailable, 10*time.Second)
	if err := contains(condition(gi, hookv1.ConditionReady).Message, "acme/api", "503", "retrying with backoff"); err != nil {
		t.Error(err)
	}
	if c := condition(gi, hookv1.ConditionReconciling); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("Reconciling = %+v, want True during an outage", c)
	}
	if got := kstatus(t, gi); got != status.InProgressStatus {
		t.Errorf("kstatus during an outage = %s, want InProgress", got)
	}
	if gi.Status.ObservedGeneration == gi.Generation {
		t.Error("observedGeneration claims the generation was handled during an outage")
	}
	time.Sleep(2 * time.Second)
	if n := h.sim.Stats().Total; n > 15 {
		t.Errorf("%d requests in ~2s of outage: retries do not back off", n)
	}
	h.sim.ClearFaults()
	h.poke("outage") // the workqueue's backoff has grown meanwhile
	h.waitReady("outage")
	if hooks := h.simHooks("acme/api"); len(hooks) != 1 {
		t.Errorf("%d hooks after the outage", len(hooks))
	}
}
