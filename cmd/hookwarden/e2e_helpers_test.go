package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	"github.com/hookwarden/hookwarden/internal/delivery"
	"github.com/hookwarden/hookwarden/internal/githubsim"
	"github.com/hookwarden/hookwarden/internal/harness"
	"github.com/hookwarden/hookwarden/internal/testenv"
	"github.com/hookwarden/hookwarden/internal/webhooksecret"
)

// The end-to-end tests run hookwarden's whole manager (reconciler and
// receiver, newManager) in this process against envtest and the
// GitHub simulator, which delivers signed events to the real receiver.

var (
	sharedControlPlane testenv.Shared
)

func TestMain(m *testing.M) {
	code := m.Run()
	sharedControlPlane.Stop()
	os.Exit(code)
}

// sharedEnv starts the control plane on first use, so that the unit tests
// of this package do not need one.
func sharedEnv(t *testing.T) *testenv.Env {
	t.Helper()
	return sharedControlPlane.Get(t)
}

const (
	e2eToken     = "ghp_e2e_simulator_only_token_0000000000"
	e2eOldSecret = "the-first-webhook-secret-of-e2e-tests"
	e2eNewSecret = "the-second-webhook-secret-of-e2e-tests"
)

// e2e is one test's namespace, simulator and hookwarden manager.
type e2e struct {
	t    *testing.T
	env  *testenv.Env
	ctx  context.Context
	ns   string
	sim  *githubsim.Server
	addr string
	opts Options

	mu      sync.Mutex
	mgr     manager.Manager
	stopMgr context.CancelFunc
	mgrDone chan struct{}
}

func newE2E(t *testing.T, repos []string, simOpts ...githubsim.Option) *e2e {
	t.Helper()
	env := sharedEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	ns := env.NewNamespace(t, "e2e")
	// The mutation pacing of the operator is shortened below; GitHub's
	// secondary limit would then refuse bursts of redeliveries.
	sim := githubsim.New(append([]githubsim.Option{
		githubsim.WithSecondaryLimit(githubsim.SecondaryLimit{MutationsPerMinute: -1}),
		githubsim.WithPrimaryLimit(githubsim.PrimaryLimit{Limit: 1_000_000}),
	}, simOpts...)...)
	for _, repo := range repos {
		if err := sim.AddRepo(repo); err != nil {
			t.Fatal(err)
		}
	}
	sim.AddToken(e2eToken, []string{"admin:repo_hook"}, repos...)

	addr := freeAddr(t)
	opts := DefaultOptions()
	opts.GitHubURL = sim.URL() + "/"
	opts.PublicURL = "http://" + addr
	opts.ReceiverBindAddress = addr
	opts.MetricsBindAddress = "0"
	opts.HealthProbeBindAddress = "0"
	opts.WatchNamespaces = []string{ns}
	opts.StatusFlushInterval = 500 * time.Millisecond
	opts.GitHubMutationInterval = 2 * time.Millisecond
	opts.GitHubNoContentLimits = true
	opts.SkipControllerNameValidation = true

	e := &e2e{t: t, env: env, ctx: ctx, ns: ns, sim: sim, addr: addr, opts: opts}
	t.Cleanup(func() {
		e.stop()
		cancel()
		sim.Close()
	})
	return e
}

// startE2E is newE2E with the manager started, for the tests that keep the
// default test options (as httptest.NewServer is to NewUnstartedServer).
func startE2E(t *testing.T, repos []string) *e2e {
	t.Helper()
	e := newE2E(t, repos)
	e.start()
	return e
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// start runs a new manager and waits until its receiver answers.
func (e *e2e) start() {
	e.t.Helper()
	ctx, cancel := context.WithCancel(e.ctx)
	mgr, err := newManager(ctx, e.env.Config, e.opts)
	if err != nil {
		cancel()
		e.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := mgr.Start(ctx); err != nil {
			e.t.Errorf("manager: %v", err)
		}
	}()
	e.mu.Lock()
	e.mgr, e.stopMgr, e.mgrDone = mgr, cancel, done
	e.mu.Unlock()
	e.eventually(60*time.Second, func() error {
		resp, err := http.Post("http://"+e.addr+"/", "application/json", nil)
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	})
}

// stop stops the manager (reconciler and receiver) and waits for it.
func (e *e2e) stop() {
	e.mu.Lock()
	stop, done := e.stopMgr, e.mgrDone
	e.stopMgr, e.mgrDone = nil, nil
	e.mu.Unlock()
	if stop == nil {
		return
	}
	stop()
	<-done
}

// eventually polls cond until it returns nil or timeout passes.
func (e *e2e) eventually(timeout time.Duration, cond func() error) {
	e.t.Helper()
	testenv.Eventually(e.t, timeout, "waiting", cond)
}

// integration creates the Secret and the GitHubIntegration name.
func (e *e2e) integration(name string, repos []string, webhookSecret string, mutate ...func(*hookv1.GitHubIntegration)) {
	e.t.Helper()
	data := map[string][]byte{"token": []byte(e2eToken)}
	if webhookSecret != "" {
		data["webhook_secret"] = []byte(webhookSecret)
	}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns}, Data: data}
	if err := e.env.Client.Create(e.ctx, secret); err != nil {
		e.t.Fatal(err)
	}
	gi := &hookv1.GitHubIntegration{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns},
		Spec: hookv1.GitHubIntegrationSpec{
			Repositories: repos,
			SecretRef:    hookv1.SecretReference{Name: name},
			Interval:     metav1.Duration{Duration: 2 * time.Second},
		},
	}
	for _, m := range mutate {
		m(gi)
	}
	if err := e.env.Client.Create(e.ctx, gi); err != nil {
		e.t.Fatal(err)
	}
}

func (e *e2e) get(name string) *hookv1.GitHubIntegration {
	e.t.Helper()
	gi := &hookv1.GitHubIntegration{}
	if err := e.env.Client.Get(e.ctx, client.ObjectKey{Namespace: e.ns, Name: name}, gi); err != nil {
		e.t.Fatal(err)
	}
	return gi
}

// waitReady waits until every hook is registered and Ready is True.
func (e *e2e) waitReady(name string, hooks int) *hookv1.GitHubIntegration {
	e.t.Helper()
	var gi *hookv1.GitHubIntegration
	e.eventually(60*time.Second, func() error {
		gi = e.get(name)
		c := apimeta.FindStatusCondition(gi.Status.Conditions, hookv1.ConditionReady)
		if c == nil || c.Status != metav1.ConditionTrue || int(gi.Status.HookCount) != hooks {
			return fmt.Errorf("%s not ready with %d hooks: %+v", name, hooks, gi.Status.Conditions)
		}
		return nil
	})
	return gi
}

// readyIntegration creates the integration name over repos, as integration
// does, and waits until it is Ready with a hook per repository.
func (e *e2e) readyIntegration(name string, repos []string, webhookSecret string, mutate ...func(*hookv1.GitHubIntegration)) *hookv1.GitHubIntegration {
	e.t.Helper()
	e.integration(name, repos, webhookSecret, mutate...)
	return e.waitReady(name, len(repos))
}

// integrationRotatingEvery creates the integration name with no webhook
// secret in its Secret and secretRotation every interval with grace: hookwarden
// generates the secret and rotates it on schedule.
func (e *e2e) integrationRotatingEvery(name string, repos []string, interval, grace time.Duration) {
	e.t.Helper()
	e.integration(name, repos, "", func(gi *hookv1.GitHubIntegration) {
		gi.Spec.Interval = metav1.Duration{Duration: time.Minute}
		gi.Spec.SecretRotation = hookv1.SecretRotation{
			Interval:    metav1.Duration{Duration: interval},
			GracePeriod: metav1.Duration{Duration: grace},
		}
	})
}

// waitScheduledRotation waits until the webhook secret of name is no longer
// first and every hook of repos carries the new one, and returns it.
func (e *e2e) waitScheduledRotation(name string, repos []string, first string, timeout time.Duration) string {
	e.t.Helper()
	var second string
	e.eventually(timeout, func() error {
		second = string(e.secret(name).Data["webhook_secret"])
		if second == first {
			return fmt.Errorf("not rotated yet")
		}
		for _, got := range e.hookSecrets(repos...) {
			if got != second {
				return fmt.Errorf("a hook does not carry the rotated secret yet")
			}
		}
		return nil
	})
	return second
}

// secret reads a Secret; nil when it does not exist.
func (e *e2e) secret(name string) *corev1.Secret {
	e.t.Helper()
	s := &corev1.Secret{}
	if err := e.env.Client.Get(e.ctx, client.ObjectKey{Namespace: e.ns, Name: name}, s); err != nil {
		if client.IgnoreNotFound(err) == nil {
			return nil
		}
		e.t.Fatal(err)
	}
	return s
}

// setWebhookSecret changes the user's webhook secret, as kubectl would.
func (e *e2e) setWebhookSecret(name, value string) {
	e.t.Helper()
	e.eventually(10*time.Second, func() error {
		s := e.secret(name)
		s.Data["webhook_secret"] = []byte(value)
		return e.env.Client.Update(e.ctx, s)
	})
}

// hookSecrets returns the secret each hook on the simulator carries.
func (e *e2e) hookSecrets(repos ...string) []string {
	e.t.Helper()
	var out []string
	for _, repo := range repos {
		hooks, err := e.sim.Hooks(repo)
		if err != nil {
			e.t.Fatal(err)
		}
		for _, h := range hooks {
			out = append(out, h.Config.Secret)
		}
	}
	return out
}

// events lists the Kubernetes Events with reason on the integration.
func (e *e2e) events(name, reason string) []eventsv1.Event {
	e.t.Helper()
	var list eventsv1.EventList
	if err := e.env.Client.List(e.ctx, &list, client.InNamespace(e.ns)); err != nil {
		e.t.Fatal(err)
	}
	var out []eventsv1.Event
	for _, ev := range list.Items {
		if ev.Regarding.Name == name && ev.Reason == reason {
			out = append(out, ev)
		}
	}
	return out
}

// deliver sends one push signed with secret straight to the receiver, as
// GitHub would, and returns the status code (0 when nothing answers).
func (e *e2e) deliver(name, secret string) int {
	e.t.Helper()
	body := pushPayload("acme/api", 0)
	req, err := http.NewRequestWithContext(e.ctx, http.MethodPost, "http://"+e.addr+hookv1.ReceiverPath(e.ns, name), bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-GitHub-Delivery", uuid.NewString())
	req.Header.Set("X-Hub-Signature-256", delivery.Signature([]byte(secret), body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// pushPayload is a small push event on repo; n makes each one different.
func pushPayload(repo string, n int) []byte { return harness.PushPayload(repo, n) }

// stream is a steady stream of push events GitHub delivers to the hooks of
// one repository (harness.Stream).
type stream struct {
	e     *e2e
	s     *harness.Stream
	start time.Time
}

// startStream triggers perSecond push events per second on repo until
// stopped; each trigger runs on its own (GitHub does not wait for one
// delivery before the next).
func (e *e2e) startStream(repo string, perSecond int) *stream {
	return &stream{e: e, s: harness.StartStream(e.sim, []string{repo}, perSecond), start: time.Now()}
}

// end stops the stream and returns the GUIDs GitHub attempted and the
// answers counted by status code.
func (s *stream) end() (guids map[string]bool, answers map[int]int, perSecond float64) {
	attempts, err := s.s.Stop()
	if err != nil {
		s.e.t.Error(err)
	}
	guids, answers = map[string]bool{}, map[int]int{}
	for _, a := range attempts {
		guids[a.GUID] = true
		answers[a.Code]++
	}
	return guids, answers, float64(len(guids)) / time.Since(s.start).Seconds()
}

// endLosingNothing stops the stream and checks that it ran at 20
// deliveries per second or more and that every delivery was answered 2xx
// across what happened meanwhile (a rotation); it returns the GUIDs
// GitHub attempted.
func (e *e2e) endLosingNothing(s *stream, across string) map[string]bool {
	e.t.Helper()
	guids, answers, rate := s.end()
	if rate < 20 {
		e.t.Errorf("stream ran at %.1f deliveries/s, want at least 20", rate)
	}
	if n := nonOK(answers); n != 0 {
		e.t.Errorf("%d of %d deliveries were not answered 2xx across %s: %v", n, len(guids), across, answers)
	}
	e.t.Logf("%d deliveries at %.1f/s across %s, answers %v", len(guids), rate, across, answers)
	return guids
}

// nonOK counts answers that were not 2xx.
func nonOK(answers map[int]int) int {
	n := 0
	for code, count := range answers {
		if code < 200 || code > 299 {
			n += count
		}
	}
	return n
}

// waitLedger waits until every GUID GitHub attempted on the hooks of repo
// was delivered, then checks that each was processed exactly once: one 2xx
// answer that is not a duplicate, and the push count in status equal to the
// GUIDs sent.
func (e *e2e) waitLedger(name, repo string, guids map[string]bool, timeout time.Duration) {
	e.t.Helper()
	var hookID int64
	e.eventually(timeout, func() error {
		hooks, err := e.sim.Hooks(repo)
		if err != nil || len(hooks) != 1 {
			return fmt.Errorf("hooks of %s: %v: %w", repo, hooks, err)
		}
		hookID = hooks[0].ID
		log, err := e.sim.Deliveries(repo, hookID)
		if err != nil {
			return err
		}
		delivered := map[string]bool{}
		for _, d := range log {
			if d.OK() {
				delivered[d.GUID] = true
			}
		}
		missing := 0
		for g := range guids {
			if !delivered[g] {
				missing++
			}
		}
		if missing > 0 {
			return fmt.Errorf("%d of %d GUIDs not delivered yet", missing, len(guids))
		}
		return nil
	})

	log, err := e.sim.Deliveries(repo, hookID)
	if err != nil {
		e.t.Fatal(err)
	}
	processed := map[string]int{}
	for _, d := range log {
		if d.OK() && guids[d.GUID] && !strings.Contains(d.ResponseBody, `"duplicate"`) {
			processed[d.GUID]++
		}
	}
	for g, n := range processed {
		if n != 1 {
			e.t.Errorf("GUID %s was processed %d times, want once", g, n)
		}
	}
	e.eventually(30*time.Second, func() error {
		gi := e.get(name)
		var pushes int64
		for _, ec := range gi.Status.EventCounts {
			if ec.Event == "push" {
				pushes = ec.Count
			}
		}
		if pushes != int64(len(guids)) {
			return fmt.Errorf("status counts %d pushes, GitHub attempted %d GUIDs (received %d, duplicates %d, redelivered %d)",
				pushes, len(guids), gi.Status.Deliveries.Received, gi.Status.Deliveries.Duplicates, gi.Status.Deliveries.Redelivered)
		}
		return nil
	})
}

// userRotationGrace is the grace period of integrationForUserRotation.
const userRotationGrace = 8 * time.Second

// integrationForUserRotation creates the integration "rotate" over repos,
// signed with e2eOldSecret, with a grace period of userRotationGrace, waits
// until it is Ready with a hook per repository, and returns it with the
// fingerprint e2eNewSecret will have on it.
func (e *e2e) integrationForUserRotation(repos []string) (*hookv1.GitHubIntegration, string) {
	gi := e.readyIntegration("rotate", repos, e2eOldSecret, func(gi *hookv1.GitHubIntegration) {
		gi.Spec.Interval = metav1.Duration{Duration: time.Minute}
		gi.Spec.SecretRotation.GracePeriod = metav1.Duration{Duration: userRotationGrace}
	})
	return gi, webhooksecret.Fingerprint([]byte(e2eNewSecret), string(gi.UID))
}
