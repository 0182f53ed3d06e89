package controllers

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	"github.com/hookwarden/hookwarden/internal/githubsim"
	"github.com/hookwarden/hookwarden/internal/webhooksecret"
)

func TestCreateRegistersOneHookPerRepository(t *testing.T) {
	h := newHarness(t, harnessOptions{repos: []string{"acme/api", "acme/web", "acme/docs"}})
	h.withSecret("experiments")
	h.integration("experiments", []string{"acme/api", "acme/web"}, func(gi *hookv1.GitHubIntegration) {
		gi.Spec.Events = []string{"push", "issues"}
	})
	h.withSecret("docs")
	h.integration("docs", []string{"acme/docs"}, func(gi *hookv1.GitHubIntegration) {
		gi.Spec.ContentType = hookv1.ContentTypeForm
		gi.Spec.InsecureSSL = true
		gi.Spec.Active = ptr.To(false)
	})

	gi := h.waitReady("experiments")
	if c := condition(gi, hookv1.ConditionReady); c.Reason != hookv1.ReasonSucceeded {
		t.Errorf("Ready reason %s, want %s", c.Reason, hookv1.ReasonSucceeded)
	}
	if got := kstatus(t, gi); got != status.CurrentStatus {
		t.Errorf("kstatus = %s, want Current; conditions %+v", got, gi.Status.Conditions)
	}
	for _, repo := range []string{"acme/api", "acme/web"} {
		hooks := h.simHooks(repo)
		if len(hooks) != 1 {
			t.Fatalf("%s has %d hooks on GitHub, want 1", repo, len(hooks))
		}
		hook := hooks[0]
		want := githubsim.HookConfig{URL: h.payloadURL("experiments"), ContentType: "json", Secret: testWebhookSecret, InsecureSSL: "0"}
		if hook.Config != want || !hook.Active || !slices.Equal(sorted(hook.Events), []string{"issues", "push"}) || hook.Name != "web" {
			t.Errorf("%s hook on GitHub: %+v, want config %+v, events [issues push], active", repo, hook, want)
		}
		hs, err := hookStatusOf(gi, repo)
		if err != nil {
			t.Fatal(err)
		}
		if hs.ID != hook.ID || !hs.Active || !slices.Equal(hs.Events, []string{"issues", "push"}) || hs.LastSyncTime == nil || hs.LastError != "" {
			t.Errorf("status of %s: %+v, want hook %d", repo, hs, hook.ID)
		}
		if hs.SecretFingerprint != webhooksecret.Fingerprint([]byte(testWebhookSecret), string(gi.UID)) {
			t.Errorf("status of %s: fingerprint %q", repo, hs.SecretFingerprint)
		}
	}
	if gi.Status.HookCount != 2 || gi.Status.Target != "acme/api +1" || gi.Status.PayloadURL != h.payloadURL("experiments") ||
		gi.Status.WebhookSecret == nil || gi.Status.WebhookSecret.Fingerprint != webhooksecret.Fingerprint([]byte(testWebhookSecret), string(gi.UID)) ||
		gi.Status.ObservedGeneration != gi.Generation {
		t.Errorf("status summary: %+v", gi.Status)
	}
	if !slices.Contains(gi.Finalizers, hookv1.Finalizer) {
		t.Errorf("finalizers %v", gi.Finalizers)
	}
	if n := len(h.recorder.find("experiments", hookv1.EventHookCreated)); n != 2 {
		t.Errorf("%d HookCreated events, want 2", n)
	}

	docs := h.waitReady("docs")
	if c := condition(docs, hookv1.ConditionReady); c.Reason != hookv1.ReasonInsecureSSL {
		t.Errorf("Ready reason with insecureSSL: %s, want %s", c.Reason, hookv1.ReasonInsecureSSL)
	}
	hook := h.simHooks("acme/docs")[0]
	if hook.Config.ContentType != "form" || hook.Config.InsecureSSL != "1" || hook.Active {
		t.Errorf("docs hook on GitHub: %+v, want form, insecure_ssl 1, inactive", hook)
	}
	if got := kstatus(t, docs); got != status.CurrentStatus {
		t.Errorf("kstatus of docs = %s, want Current", got)
	}
}

func TestExistingHookIsAdoptedAndCorrected(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	existing, err := h.sim.SetHook("acme/api", githubsim.Hook{
		Active: false, Events: []string{"push"},
		Config: githubsim.HookConfig{URL: h.payloadURL("adopt"), ContentType: "form", Secret: "an-old-secret-nobody-knows"},
	})
	if err != nil {
		t.Fatal(err)
	}
	h.withSecret("adopt")
	h.integration("adopt", []string{"acme/api"})
	gi := h.waitReady("adopt")

	hooks := h.simHooks("acme/api")
	if len(hooks) != 1 {
		t.Fatalf("%d hooks on GitHub after adoption, want 1", len(hooks))
	}
	got := hooks[0]
	if got.ID != existing.ID || !got.Active || got.Config.ContentType != "json" || got.Config.Secret != testWebhookSecret ||
		!slices.Equal(sorted(got.Events), []string{"issues", "pull_request", "push"}) {
		t.Errorf("adopted hook not corrected: %+v", got)
	}
	if hs, _ := hookStatusOf(gi, "acme/api"); hs.ID != existing.ID {
		t.Errorf("status hook ID %d, want the adopted %d", hs.ID, existing.ID)
	}
	if evs := h.recorder.find("adopt", hookv1.EventHookAdopted); len(evs) != 1 {
		t.Errorf("HookAdopted events: %+v", evs)
	} else if err := contains(evs[0].note, "secret", "events", "active", "content_type"); err != nil {
		t.Error(err)
	}
	if n := len(h.recorder.find("adopt", hookv1.EventHookCreated)); n != 0 {
		t.Errorf("%d HookCreated events for an adopted hook", n)
	}
}

func TestFailedStatusWriteAfterCreateLeavesOneHook(t *testing.T) {
	var failed int
	h := newHarness(t, harnessOptions{failStatusPatch: func(gi *hookv1.GitHubIntegration) error {
		for _, hs := range gi.Status.Hooks {
			if hs.ID != 0 && failed == 0 {
				failed++
				return errInjected
			}
		}
		return nil
	}})
	h.withSecret("crash")
	h.integration("crash", []string{"acme/api", "acme/web"})
	gi := h.waitReady("crash")
	if failed != 1 {
		t.Fatalf("the status write after creation was failed %d times, want 1", failed)
	}
	for _, repo := range []string{"acme/api", "acme/web"} {
		hooks := h.simHooks(repo)
		if len(hooks) != 1 {
			t.Fatalf("%s has %d hooks after a lost status write, want 1", repo, len(hooks))
		}
		if hs, _ := hookStatusOf(gi, repo); hs.ID != hooks[0].ID {
			t.Errorf("%s: status ID %d, hook on GitHub %d", repo, hs.ID, hooks[0].ID)
		}
	}
	// The process that created the hooks remembers them: it neither adopts
	// them by their payload URL nor sets their secret again. (A new
	// process adopts them: TestExistingHookIsAdoptedAndCorrected.)
	if n := len(h.recorder.find("crash", hookv1.EventHookAdopted)); n != 0 {
		t.Errorf("%d HookAdopted events after the lost write, want 0", n)
	}
	if n := h.sim.Stats().ByRoute["PATCH /repos/{owner}/{repo}/hooks/{hook_id}/config"]; n != 0 {
		t.Errorf("%d hook config edits after the lost write, want 0", n)
	}
}

// TestCreatedHooksAreNotEditedAgain: a reconcile that closely follows a
// creation (here asked for with reconcile.hookwarden.io/requestedAt as soon
// as the hook is on GitHub) often reads the integration from a cache that
// does not show the new hook yet. It must still know the hook rather than
// adopt it by its payload URL and set its secret a second time: n
// integrations make n creations and no edit.
func TestCreatedHooksAreNotEditedAgain(t *testing.T) {
	const n = 12
	var repos, names []string
	for i := range n {
		repos = append(repos, fmt.Sprintf("acme/repo-%02d", i))
		names = append(names, fmt.Sprintf("fresh-%02d", i))
	}
	// The cache shows each status write a second late.
	h := newHarness(t, harnessOptions{repos: repos, concurrency: 4, statusLag: time.Second})
	for i, name := range names {
		h.withSecret(name)
		h.integration(name, []string{repos[i]})
	}
	// Wake each integration again the moment its hook is on GitHub,
	// within the second its cache still shows no hook ID.
	woken := map[int]bool{}
	deadline := time.Now().Add(time.Minute)
	for len(woken) < n && time.Now().Before(deadline) {
		for i := range n {
			if !woken[i] && len(h.simHooks(repos[i])) > 0 {
				woken[i] = true
				h.update(names[i], func(gi *hookv1.GitHubIntegration) {
					metav1.SetMetaDataAnnotation(&gi.ObjectMeta, hookv1.ReconcileRequestAnnotation, "2026-11-30T08:00:00Z")
				})
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, name := range names {
		h.waitReady(name)
	}
	h.waitQuiet()

	byRoute := h.sim.Stats().ByRoute
	if got := byRoute["POST /repos/{owner}/{repo}/hooks"]; got != n {
		t.Errorf("%d hook creations for %d integrations, want %d", got, n, n)
	}
	for _, route := range []string{"PATCH /repos/{owner}/{repo}/hooks/{hook_id}/config", "PATCH /repos/{owner}/{repo}/hooks/{hook_id}"} {
		if got := byRoute[route]; got != 0 {
			t.Errorf("%d requests %s after creating the hooks, want 0", got, route)
		}
	}
	for i, name := range names {
		if evs := h.recorder.find(name, hookv1.EventHookAdopted); len(evs) != 0 {
			t.Errorf("%s adopted the hook it had created: %+v", name, evs)
		}
		if hooks := h.simHooks(repos[i]); len(hooks) != 1 || hooks[0].Config.Secret != testWebhookSecret {
			t.Errorf("%s: hooks on GitHub %+v, want one with the webhook secret", repos[i], hooks)
		}
	}
}

func TestDriftIsCorrectedWithinOneInterval(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.withSecret("drift")
	h.integration("drift", []string{"acme/api", "acme/web"}, func(gi *hookv1.GitHubIntegration) {
		gi.Spec.Interval = metav1.Duration{Duration: time.Second}
	})
	gi := h.waitReady("drift")
	api, _ := hookStatusOf(gi, "acme/api")
	const withinInterval = 3 * time.Second // 1s interval + 10% jitter + a reconcile

	// Events, url and active changed behind hookwarden's back.
	if _, err := h.sim.EditHook("acme/api", api.ID, func(hk *githubsim.Hook) {
		hk.Events = []string{"fork"}
		hk.Active = false
		hk.Config.URL = "https://elsewhere.example.com/hook"
		hk.Config.Secret = ""
	}); err != nil {
		t.Fatal(err)
	}
	h.eventually(withinInterval, func() error {
		hk, err := h.sim.Hook("acme/api", api.ID)
		if err != nil {
			return err
		}
		if hk.Config.URL != h.payloadURL("drift") || !hk.Active || !slices.Equal(sorted(hk.Events), []string{"issues", "pull_request", "push"}) ||
			hk.Config.Secret != testWebhookSecret {
			return fmt.Errorf("hook not corrected yet: %+v", hk)
		}
		return nil
	})
	if evs := h.recorder.find("drift", hookv1.EventHookUpdated); len(evs) == 0 {
		t.Error("no HookUpdated event")
	} else if err := contains(evs[0].note, "url", "events", "active"); err != nil {
		t.Error(err)
	}

	// The hook deleted on GitHub is registered again.
	if err := h.sim.DeleteHook("acme/api", api.ID); err != nil {
		t.Fatal(err)
	}
	var recreated int64
	h.eventually(withinInterval, func() error {
		hooks := h.simHooks("acme/api")
		if len(hooks) != 1 {
			return fmt.Errorf("%d hooks on acme/api", len(hooks))
		}
		recreated = hooks[0].ID
		if hs, _ := hookStatusOf(h.get("drift"), "acme/api"); hs.ID != recreated {
			return fmt.Errorf("status still has hook %d, GitHub %d", hs.ID, recreated)
		}
		return nil
	})
	if recreated == api.ID {
		t.Error("the deleted hook's ID came back")
	}
	if evs := h.recorder.find("drift", hookv1.EventHookRecreated); len(evs) != 1 {
		t.Errorf("HookRecreated events: %+v", evs)
	}

	// A spec change of events updates the hook; a dropped repository loses
	// its hook.
	web, _ := hookStatusOf(gi, "acme/web")
	h.update("drift", func(gi *hookv1.GitHubIntegration) {
		gi.Spec.Events = []string{"push", "release"}
		gi.Spec.Repositories = []string{"acme/api"}
	})
	gi = h.waitReady("drift")
	if hk, _ := h.sim.Hook("acme/api", recreated); !slices.Equal(sorted(hk.Events), []string{"push", "release"}) {
		t.Errorf("events after the spec change: %v", hk.Events)
	}
	if hooks := h.simHooks("acme/web"); len(hooks) != 0 {
		t.Errorf("acme/web left the spec but keeps %d hooks", len(hooks))
	}
	if _, err := hookStatusOf(gi, "acme/web"); err == nil || gi.Status.HookCount != 1 || gi.Status.Target != "acme/api" {
		t.Errorf("status after dropping acme/web: %+v", gi.Status)
	}
	if evs := h.recorder.find("drift", hookv1.EventHookDeleted); len(evs) != 1 {
		t.Errorf("HookDeleted events: %+v", evs)
	} else if err := contains(evs[0].note, fmt.Sprint(web.ID), "acme/web"); err != nil {
		t.Error(err)
	}
}

func TestSuspendMakesNoGitHubCall(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.withSecret("paused")
	h.integration("paused", []string{"acme/api"}, func(gi *hookv1.GitHubIntegration) {
		gi.Spec.Interval = metav1.Duration{Duration: time.Second}
	})
	h.waitReady("paused")
	h.update("paused", func(gi *hookv1.GitHubIntegration) { gi.Spec.Suspend = true })
	gi := h.waitCondition("paused", hookv1.ConditionReady, metav1.ConditionTrue, hookv1.ReasonSuspended, 10*time.Second)
	if got := kstatus(t, gi); got != status.CurrentStatus {
		t.Errorf("kstatus of a suspended, registered integration = %s", got)
	}
	h.sim.ResetStats()
	hook := h.simHooks("acme/api")[0]
	if _, err := h.sim.EditHook("acme/api", hook.ID, func(hk *githubsim.Hook) { hk.Active = false }); err != nil {
		t.Fatal(err)
	}
	h.poke("paused")
	time.Sleep(2500 * time.Millisecond)
	if n := h.sim.Stats().Total; n != 0 {
		t.Errorf("%d GitHub requests while suspended", n)
	}
	h.update("paused", func(gi *hookv1.GitHubIntegration) { gi.Spec.Suspend = false })
	h.eventually(5*time.Second, func() error {
		if hk, _ := h.sim.Hook("acme/api", hook.ID); !hk.Active {
			return fmt.Errorf("drift not corrected after resume")
		}
		return nil
	})
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}
