package controllers

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	ghclient "github.com/hookwarden/hookwarden/internal/github"
	"github.com/hookwarden/hookwarden/internal/githubsim"
	"github.com/hookwarden/hookwarden/internal/webhooksecret"
)

func TestPrimaryRateLimitWaitsForTheReset(t *testing.T) {
	h := newHarness(t, harnessOptions{simOptions: []githubsim.Option{
		githubsim.WithPrimaryLimit(githubsim.PrimaryLimit{Limit: 5000, Window: 6 * time.Second}),
	}})
	h.sim.SetRemaining(testToken, 0)
	_, _, _, reset := h.sim.RateLimit(testToken)
	h.withSecret("limited")
	h.integration("limited", []string{"acme/api"})

	gi := h.waitCondition("limited", hookv1.ConditionReady, metav1.ConditionFalse, hookv1.ReasonRateLimited, 10*time.Second)
	if err := contains(condition(gi, hookv1.ConditionReady).Message,
		"rate limit", `token in key "token" of Secret "limited"`, "until "+reset.UTC().Format(time.RFC3339)); err != nil {
		t.Error(err)
	}
	if got := kstatus(t, gi); got != status.InProgressStatus {
		t.Errorf("kstatus while rate limited = %s, want InProgress", got)
	}
	if c := condition(gi, hookv1.ConditionStalled); c != nil {
		t.Errorf("a rate limit stalls the object: %+v", c)
	}
	refused := h.sim.Stats().Total
	if refused != 1 {
		t.Errorf("%d requests reached GitHub before the first refusal was known, want 1", refused)
	}
	// Reconciles triggered meanwhile send nothing.
	for range 3 {
		h.poke("limited")
		time.Sleep(300 * time.Millisecond)
	}
	time.Sleep(time.Until(reset) - 300*time.Millisecond)
	if n := h.sim.Stats().Total; n != refused {
		t.Errorf("%d requests reached GitHub before the reset", n-refused)
	}

	gi = h.waitCondition("limited", hookv1.ConditionReady, metav1.ConditionTrue, hookv1.ReasonSucceeded, 10*time.Second)
	for _, r := range h.sim.Requests()[refused:] {
		if r.RateLimited {
			t.Errorf("a request after the reset was refused: %+v", r)
		}
	}
	if len(h.simHooks("acme/api")) != 1 || gi.Status.HookCount != 1 {
		t.Errorf("after the reset: %+v", gi.Status)
	}
}

func TestSecondaryRateLimitHonoursRetryAfter(t *testing.T) {
	h := newHarness(t, harnessOptions{simOptions: []githubsim.Option{
		githubsim.WithSecondaryLimit(githubsim.SecondaryLimit{MutationsPerMinute: 1, Period: 3 * time.Second, RetryAfter: 3 * time.Second}),
	}})
	h.withSecret("abuse")
	h.integration("abuse", []string{"acme/api", "acme/web"})
	gi := h.waitCondition("abuse", hookv1.ConditionReady, metav1.ConditionFalse, hookv1.ReasonRateLimited, 10*time.Second)
	seen := time.Now()
	if err := contains(condition(gi, hookv1.ConditionReady).Message, "secondary rate limit", "hookwarden resumes then"); err != nil {
		t.Error(err)
	}
	sent := h.sim.Stats().Total
	h.poke("abuse")
	time.Sleep(time.Until(seen.Add(2 * time.Second)))
	if n := h.sim.Stats().Total; n != sent {
		t.Errorf("%d requests within retry-after", n-sent)
	}
	gi = h.waitReady("abuse")
	if gi.Status.HookCount != 2 {
		t.Errorf("hookCount %d after retry-after", gi.Status.HookCount)
	}
	if st := h.sim.Stats(); st.RateLimited != 1 {
		t.Errorf("GitHub refused %d requests, want exactly the one that revealed the limit", st.RateLimited)
	}
}

func TestSteadyStateSpendsNoRateLimit(t *testing.T) {
	const n = 50
	var repos []string
	for i := range n {
		repos = append(repos, fmt.Sprintf("acme/svc-%02d", i))
	}
	// The test compresses the default 10-minute interval into 2 s: 50
	// integrations on one token then read 1,500 times a minute, over the
	// simulator's 900 points a minute per token, which GitHub counts in
	// real minutes (test/scale measures hookwarden against it at the
	// default interval). The requests' own secondary limit stays on.
	h := newHarness(t, harnessOptions{repos: repos, concurrency: 4, simOptions: []githubsim.Option{
		githubsim.WithSecondaryLimit(githubsim.SecondaryLimit{PointsPerMinute: -1}),
	}})
	const interval = 2 * time.Second
	for i, repo := range repos {
		name := fmt.Sprintf("svc-%02d", i)
		h.withSecret(name)
		h.integration(name, []string{repo}, func(gi *hookv1.GitHubIntegration) {
			gi.Spec.Interval = metav1.Duration{Duration: interval}
		})
	}
	start := time.Now()
	for i := range n {
		h.waitReady(fmt.Sprintf("svc-%02d", i))
	}
	t.Logf("%d integrations converged in %v", n, time.Since(start).Round(time.Millisecond))

	// The first drift check after a change reads the hook in full; from then
	// on every check is conditional.
	time.Sleep(interval + interval/2)
	h.sim.ResetStats()
	reconcilesBefore := h.reconciles.Load()
	time.Sleep(2*interval + interval/2)
	st := h.sim.Stats()
	resyncs := h.reconciles.Load() - reconcilesBefore
	t.Logf("steady state: %d reconciles, %d requests, %d answered 304, %d spent", resyncs, st.Total, st.NotModified, st.Spent)
	if resyncs < 2*n {
		t.Errorf("%d reconciles in two intervals, want at least %d", resyncs, 2*n)
	}
	if st.Total < 2*n || st.NotModified != st.Total || st.Spent != 0 || st.Mutating != 0 {
		t.Errorf("steady state: %d requests, %d answered 304, %d spent rate limit, %d mutating; want all 304, none spent or mutating",
			st.Total, st.NotModified, st.Spent, st.Mutating)
	}
	for _, repo := range repos {
		if hooks := h.simHooks(repo); len(hooks) != 1 {
			t.Errorf("%s has %d hooks", repo, len(hooks))
		}
	}
}

// TestPacingDoesNotHoldTheWorker: a worker whose change would wait for its
// token's pacing defers it instead of waiting, so one worker goes on to
// the integrations of other tokens; the deferred ones come back for their
// slot, with Reconciling saying why meanwhile.
func TestPacingDoesNotHoldTheWorker(t *testing.T) {
	const otherToken = "ghp_reconciler_test_other_token_0123"
	paced := []string{"acme/p0", "acme/p1", "acme/p2", "acme/p3"}
	h := newHarness(t, harnessOptions{
		repos:          append(slices.Clone(paced), "acme/other"),
		concurrency:    1,
		factoryOptions: []ghclient.FactoryOption{ghclient.WithMutationInterval(time.Second)},
		quietTurnWait:  -1, // every wait shows in status
	})
	h.sim.AddToken(otherToken, []string{"admin:repo_hook"}, "acme/other")
	var names []string
	for i, repo := range paced {
		names = append(names, fmt.Sprintf("paced-%d", i))
		h.withSecret(names[i])
		h.integration(names[i], []string{repo})
	}
	// Once the first token's first hook exists, the other token's
	// integration comes behind the rest of the first token's in the queue.
	h.eventually(10*time.Second, func() error {
		if n := h.sim.Stats().ByRoute["POST /repos/{owner}/{repo}/hooks"]; n == 0 {
			return fmt.Errorf("no hook created yet")
		}
		return nil
	})
	h.secret("other", map[string]string{"token": otherToken, "webhook_secret": testWebhookSecret})
	h.integration("other", []string{"acme/other"})

	// Those that wait for their slot say so meanwhile.
	waited := map[string]bool{}
	h.eventually(15*time.Second, func() error {
		pending := 0
		for _, name := range append(slices.Clone(names), "other") {
			gi := h.get(name)
			if c := condition(gi, hookv1.ConditionReady); c != nil && c.Status == metav1.ConditionTrue {
				continue
			}
			pending++
			if c := condition(gi, hookv1.ConditionReconciling); c != nil && strings.Contains(c.Message, "Waiting for its turn") {
				waited[name] = true
			}
		}
		if pending > 0 {
			return fmt.Errorf("%d integrations not Ready", pending)
		}
		return nil
	})
	if len(waited) == 0 {
		t.Error("no integration of the paced token showed that it waited for its turn")
	}
	if waited["other"] {
		t.Error("the other token's integration waited for a turn, but its token made no other change")
	}
	var ids []int64
	for _, repo := range paced {
		ids = append(ids, h.simHooks(repo)[0].ID)
	}
	other := h.simHooks("acme/other")[0].ID
	// Hook IDs grow with creation: the other token's hook was created
	// while the first token's last change waited for its slot.
	if other > slices.Max(ids) {
		t.Errorf("the other token's hook (%d) was created after all of the first token's (%v): the worker waited for the first token's pacing", other, ids)
	}
	st := h.sim.Stats()
	if st.RateLimited != 0 || st.ByRoute["POST /repos/{owner}/{repo}/hooks"] != len(paced)+1 {
		t.Errorf("rate-limited answers %d, hook creations %d; want 0 and %d", st.RateLimited, st.ByRoute["POST /repos/{owner}/{repo}/hooks"], len(paced)+1)
	}
	h.recorder.mu.Lock()
	defer h.recorder.mu.Unlock()
	for _, e := range h.recorder.events {
		if e.eventType == corev1.EventTypeWarning {
			t.Errorf("Warning Event while waiting for the pacing: %+v", e)
		}
	}
}

// TestNewIntegrationWritesNothingUntilItsTurn: a new integration whose
// token's next turn is seconds away learns that turn with reads only, so
// that every integration's turn is handed out within the first pass after
// a start. While it waits, it shows Reconciling "waiting for its turn" and
// nothing else of it is written: no finalizer, no label or protection on
// its Secret, no applied Secret. At its turn it gets them all, and its hook
// (never before the finalizer).
func TestNewIntegrationWritesNothingUntilItsTurn(t *testing.T) {
	repos := []string{"acme/t0", "acme/t1", "acme/t2"}
	h := newHarness(t, harnessOptions{
		repos:          repos,
		concurrency:    1,
		factoryOptions: []ghclient.FactoryOption{ghclient.WithMutationInterval(3 * time.Second)},
		quietTurnWait:  -1, // every wait shows in status
	})
	for i, repo := range repos {
		name := fmt.Sprintf("turn-%d", i)
		h.withSecret(name)
		h.integration(name, []string{repo})
	}
	// One of the later ones waits seconds for its turn: seen as the user
	// sees it, in one read of the object.
	var waiting *hookv1.GitHubIntegration
	h.eventually(10*time.Second, func() error {
		for i := len(repos) - 1; i > 0; i-- { // the last has the most time left
			gi := h.get(fmt.Sprintf("turn-%d", i))
			if c := condition(gi, hookv1.ConditionReconciling); c != nil && strings.Contains(c.Message, "Waiting for its turn") &&
				!slices.ContainsFunc(gi.Status.Hooks, func(h hookv1.HookStatus) bool { return h.ID != 0 }) {
				waiting = gi
				return nil
			}
		}
		return fmt.Errorf("no integration shows that it waits for its turn")
	})
	name := waiting.Name
	if slices.Contains(waiting.Finalizers, hookv1.Finalizer) {
		t.Errorf("%s waits for its turn but already carries the finalizer: the first pass wrote before learning its turn", name)
	}
	if s := h.userSecret(name); s != nil && (slices.Contains(s.Finalizers, hookv1.SecretProtectionFinalizer) || s.Labels[webhooksecret.ReferencedLabel] != "") {
		t.Errorf("%s waits for its turn but its Secret is already labelled or protected: labels %v, finalizers %v", name, s.Labels, s.Finalizers)
	}
	if s := h.userSecret(webhooksecret.AppliedName(name)); s != nil {
		t.Errorf("%s waits for its turn but its applied Secret %s exists already", name, s.Name)
	}

	for i, repo := range repos {
		gi := h.waitReady(fmt.Sprintf("turn-%d", i))
		if !slices.Contains(gi.Finalizers, hookv1.Finalizer) || len(h.simHooks(repo)) != 1 {
			t.Errorf("%s Ready with finalizers %v and %d hooks on %s, want the finalizer and one hook", gi.Name, gi.Finalizers, len(h.simHooks(repo)), repo)
		}
	}
	h.waitProtected(name, true)
	h.waitLabelled(name, true)
	if h.userSecret(webhooksecret.AppliedName(name)) == nil {
		t.Errorf("%s Ready without its applied Secret", name)
	}
	if n := h.sim.Stats().ByRoute["POST /repos/{owner}/{repo}/hooks"]; n != len(repos) {
		t.Errorf("%d hooks created, want %d", n, len(repos))
	}
}

// TestNewIntegrationNearItsTurnWritesOneStatus: new integrations whose
// token's turn is less than QuietTurnWait away (here 2 to 4 s, under the
// default 10 s) write no status of the wait: each one's first status write
// already says Ready. With QuietTurnWait negative the later ones first
// write that they wait, as every one did before QuietTurnWait existed.
func TestNewIntegrationNearItsTurnWritesOneStatus(t *testing.T) {
	for _, tc := range []struct {
		name          string
		quietTurnWait time.Duration
		wantQuiet     bool
	}{
		{name: "default", wantQuiet: true},
		{name: "every wait shown", quietTurnWait: -1, wantQuiet: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repos := []string{"acme/q0", "acme/q1", "acme/q2"}
			var mu sync.Mutex
			first := map[string]*metav1.Condition{} // each integration's Ready in its first status write
			h := newHarness(t, harnessOptions{
				repos:          repos,
				concurrency:    1,
				factoryOptions: []ghclient.FactoryOption{ghclient.WithMutationInterval(2 * time.Second)},
				quietTurnWait:  tc.quietTurnWait,
				failStatusPatch: func(gi *hookv1.GitHubIntegration) error {
					mu.Lock()
					defer mu.Unlock()
					if _, seen := first[gi.Name]; !seen {
						ready := condition(gi, hookv1.ConditionReady)
						if ready != nil {
							ready = ready.DeepCopy()
						}
						first[gi.Name] = ready
					}
					return nil
				},
			})
			for i, repo := range repos {
				name := fmt.Sprintf("quiet-%d", i)
				h.withSecret(name)
				h.integration(name, []string{repo})
			}
			for i := range repos {
				h.waitReady(fmt.Sprintf("quiet-%d", i))
			}
			mu.Lock()
			defer mu.Unlock()
			waited := 0
			for i := range repos {
				name := fmt.Sprintf("quiet-%d", i)
				ready, seen := first[name]
				if !seen {
					t.Fatalf("%s is Ready but no status write of it was seen", name)
				}
				if ready == nil || ready.Status != metav1.ConditionTrue {
					waited++
					t.Logf("%s first wrote Ready=%v", name, ready)
				}
			}
			if tc.wantQuiet && waited != 0 {
				t.Errorf("%d of %d integrations wrote a status before their turn; want none (their turns were less than %s away)", waited, len(repos), DefaultQuietTurnWait)
			}
			if !tc.wantQuiet && waited == 0 {
				t.Errorf("no integration wrote that it waits for its turn, with QuietTurnWait negative")
			}
			if n := h.sim.Stats().ByRoute["POST /repos/{owner}/{repo}/hooks"]; n != len(repos) {
				t.Errorf("%d hooks created, want %d", n, len(repos))
			}
		})
	}
}

// TestReturnForItsTurnAddsTheFinalizerDespiteALaggingCache: a new
// integration that waited for its token's turn wrote its status, and comes
// back before its cache shows that write (an older resourceVersion). Its
// finalizer's patch is refused with a conflict by the API server; the
// reconcile reads the object again and adds the finalizer, instead of
// failing and being retried with backoff (and missing its turn).
func TestReturnForItsTurnAddsTheFinalizerDespiteALaggingCache(t *testing.T) {
	repos := []string{"acme/l0", "acme/l1", "acme/l2", "acme/l3"}
	h := newHarness(t, harnessOptions{
		repos:          repos,
		concurrency:    2,
		statusLag:      3 * time.Second,
		factoryOptions: []ghclient.FactoryOption{ghclient.WithMutationInterval(time.Second)},
		quietTurnWait:  -1, // the status of the wait is what the cache lags behind
	})
	for i, repo := range repos {
		name := fmt.Sprintf("lag-%d", i)
		h.withSecret(name)
		h.integration(name, []string{repo})
	}
	for i, repo := range repos {
		gi := h.waitReady(fmt.Sprintf("lag-%d", i))
		if !slices.Contains(gi.Finalizers, hookv1.Finalizer) || len(h.simHooks(repo)) != 1 {
			t.Errorf("%s Ready with finalizers %v and %d hooks on %s, want the finalizer and one hook", gi.Name, gi.Finalizers, len(h.simHooks(repo)), repo)
		}
	}
	if n := h.conflicts.Load(); n != 0 {
		t.Errorf("%d reconciles failed with a conflict, want none", n)
	}
}

// A deferred change comes back when its token's pacing says (the error's
// Back, shortly before its slot), at the workqueue's normal priority, not
// behind the initial list's backlog.
func TestDeferredChangeComesBackWhenThePacingSays(t *testing.T) {
	at := time.Now().Add(5 * time.Second)
	d := &ghclient.PacingDeferredError{At: at, Back: at.Add(-300 * time.Millisecond)}
	most := time.Until(d.Back)
	res := pacingResult(turnOf(d))
	if least := time.Until(d.Back); res.RequeueAfter > most || res.RequeueAfter < least {
		t.Errorf("back in %v, want when the pacing said: in %v (its slot in %v)", res.RequeueAfter, least, time.Until(at))
	}
	if res.Priority == nil || *res.Priority != 0 {
		t.Errorf("back at priority %v, want the normal 0", res.Priority)
	}
	// A turn already due comes back at once, not never.
	due := pacingResult(turnOf(&ghclient.PacingDeferredError{At: time.Now(), Back: time.Now().Add(-time.Second)}))
	if due.RequeueAfter <= 0 || due.RequeueAfter > 100*time.Millisecond {
		t.Errorf("a turn due already comes back in %v, want at once (but requeued)", due.RequeueAfter)
	}
}
