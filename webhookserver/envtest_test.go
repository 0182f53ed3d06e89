package webhookserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	"github.com/hookwarden/hookwarden/internal/delivery"
	"github.com/hookwarden/hookwarden/internal/testenv"
	"github.com/hookwarden/hookwarden/internal/testfixtures"
	"github.com/hookwarden/hookwarden/internal/webhooksecret"
)

const testToken = "ghp_TESTTOKENtesttokenTESTTOKEN0123456789"

// receiver is a receiver running in its own manager against envtest, as in
// one replica of hookwarden.
type receiver struct {
	server *Server
	url    string
	// statusPatches counts the status writes this replica sent.
	statusPatches atomic.Int64
	// conflicts counts the patches that lost an optimistic lock race.
	conflicts atomic.Int64
	// secretReads counts the Secrets the receiver read from the API
	// server, by namespace/name.
	secretReads *readCounter
}

// startReceiver starts a manager configured as main configures it (Secrets
// not cached) with a receiver on a loopback port, and waits until ready.
func startReceiver(t *testing.T, opts Options, log logr.Logger) *receiver {
	t.Helper()
	rcv := launchReceiver(t, opts, log)
	eventually(t, 30*time.Second, "receiver ready", func() error { return rcv.server.ReadyCheck()(nil) })
	return rcv
}

// launchReceiver starts the manager and its receiver like startReceiver but
// waits only until the receiver listens, for tests of readiness itself.
func launchReceiver(t *testing.T, opts Options, log logr.Logger) *receiver {
	t.Helper()
	requireEnv(t)
	mgr, err := manager.New(env.Config, manager.Options{
		Scheme:                 env.Scheme,
		Logger:                 log,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Client:                 client.Options{Cache: &client.CacheOptions{DisableFor: []client.Object{&corev1.Secret{}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	// In the one-process layout the reconciler registers the index the
	// receiver finds the integrations of a Secret by.
	if opts.MirrorNamespace == "" {
		if err := webhooksecret.IndexSecretRefs(context.Background(), mgr.GetCache()); err != nil {
			t.Fatal(err)
		}
	}
	rcv := &receiver{secretReads: &readCounter{Reader: mgr.GetAPIReader(), reads: map[types.NamespacedName]int{}}}
	counted := countingStatusClient{StatusClient: mgr.GetClient(), patches: &rcv.statusPatches, conflicts: &rcv.conflicts}
	opts.BindAddress = "127.0.0.1:0"
	rcv.server, err = newServer(opts, serverDeps{
		cache:     mgr.GetCache(),
		apiReader: rcv.secretReads,
		statusCli: counted,
		events:    mgr.GetEventRecorder(eventRecorderName),
		log:       log.WithName("receiver"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := mgr.Add(rcv.server); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager stopped with %v", err)
		}
	})
	eventually(t, 30*time.Second, "receiver listening", func() error {
		if rcv.server.Addr() == "" {
			return errors.New("no address yet")
		}
		return nil
	})
	scheme := "http://"
	if opts.CertDir != "" {
		scheme = "https://"
	}
	rcv.url = scheme + rcv.server.Addr()
	return rcv
}

// settleSecretReads waits until the receiver's secret queue is empty and
// its workers have finished what they took, so that every read the changes
// so far cause has been made.
func (r *receiver) settleSecretReads(t *testing.T) {
	t.Helper()
	eventually(t, 10*time.Second, "secret queue drained", func() error {
		if n := r.server.secretQ.Len(); n > 0 {
			return fmt.Errorf("%d integrations queued", n)
		}
		return nil
	})
	time.Sleep(time.Second)
}

// readCounter counts the Secrets read through it.
type readCounter struct {
	client.Reader
	mu    sync.Mutex
	reads map[types.NamespacedName]int
}

func (r *readCounter) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if _, ok := obj.(*corev1.Secret); ok {
		r.mu.Lock()
		r.reads[key]++
		r.mu.Unlock()
	}
	return r.Reader.Get(ctx, key, obj, opts...)
}

// of is how often the Secret key was read.
func (r *readCounter) of(key types.NamespacedName) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reads[key]
}

// countingStatusClient counts the status patches sent through it.
type countingStatusClient struct {
	client.StatusClient
	patches, conflicts *atomic.Int64
}

func (c countingStatusClient) Status() client.SubResourceWriter {
	return countingWriter{SubResourceWriter: c.StatusClient.Status(), patches: c.patches, conflicts: c.conflicts}
}

type countingWriter struct {
	client.SubResourceWriter
	patches, conflicts *atomic.Int64
}

func (w countingWriter) Apply(ctx context.Context, obj runtime.ApplyConfiguration, opts ...client.SubResourceApplyOption) error {
	w.patches.Add(1)
	err := w.SubResourceWriter.Apply(ctx, obj, opts...)
	if apierrors.IsConflict(err) {
		w.conflicts.Add(1)
	}
	return err
}

func (w countingWriter) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
	w.patches.Add(1)
	err := w.SubResourceWriter.Patch(ctx, obj, patch, opts...)
	if apierrors.IsConflict(err) {
		w.conflicts.Add(1)
	}
	return err
}

// newIntegrationWithSecret creates a namespace, the Secret (token and webhook
// secret) and a GitHubIntegration in it.
func newIntegrationWithSecret(t *testing.T, mutate func(*hookv1.GitHubIntegration)) types.NamespacedName {
	t.Helper()
	requireEnv(t)
	ctx := context.Background()
	ns := env.NewNamespace(t, "receiver")
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "github-experiments"},
		Data:       map[string][]byte{"token": []byte(testToken), "webhook_secret": []byte(testSecret)},
	}
	if err := env.Client.Create(ctx, secret); err != nil {
		t.Fatal(err)
	}
	gi := testIntegration()
	gi.ObjectMeta = metav1.ObjectMeta{Namespace: ns, Name: testName}
	if mutate != nil {
		mutate(gi)
	}
	if err := env.Client.Create(ctx, gi); err != nil {
		t.Fatal(err)
	}
	return client.ObjectKeyFromObject(gi)
}

// ownedSecret makes s controlled by the integration key, as the reconciler
// writes its Secrets.
func ownedSecret(t testing.TB, key types.NamespacedName, s *corev1.Secret) *corev1.Secret {
	t.Helper()
	gi := &hookv1.GitHubIntegration{}
	if err := env.Client.Get(context.Background(), key, gi); err != nil {
		t.Fatal(err)
	}
	s.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(gi, hookv1.GroupVersion.WithKind("GitHubIntegration"))}
	return s
}

// post sends one delivery over HTTP and returns the answer.
func post(t testing.TB, base string, key types.NamespacedName, event, guid string, body []byte, signature string, hookID string) (int, string) {
	t.Helper()
	return postWith(t, http.DefaultClient, base, key, event, guid, body, signature, hookID)
}

// postWith sends one delivery with client, e.g. one that trusts the
// receiver's certificate.
func postWith(t testing.TB, cli *http.Client, base string, key types.NamespacedName, event, guid string, body []byte, signature string, hookID string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+hookv1.ReceiverPath(key.Namespace, key.Name), bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(delivery.HeaderEvent, event)
	req.Header.Set(delivery.HeaderDelivery, guid)
	req.Header.Set(delivery.HeaderHookID, hookID)
	req.Header.Set(delivery.HeaderTargetType, "repository")
	if signature != "" {
		req.Header.Set(delivery.HeaderSignature256, signature)
	}
	resp, err := cli.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	answer := testenv.ReadBody(t, resp)
	return resp.StatusCode, strings.TrimSpace(string(answer))
}

func getStatus(t testing.TB, key types.NamespacedName) hookv1.GitHubIntegrationStatus {
	t.Helper()
	gi := &hookv1.GitHubIntegration{}
	if err := env.Client.Get(context.Background(), key, gi); err != nil {
		t.Fatal(err)
	}
	return gi.Status
}

// TestConformanceWithOctokitExamples delivers every push, pull_request,
// issues and ping example GitHub publishes, signed by Octokit, and checks
// the answers and the status a user sees.
func TestConformanceWithOctokitExamples(t *testing.T) {
	key := newIntegrationWithSecret(t, func(gi *hookv1.GitHubIntegration) {
		gi.Spec.Events = []string{"push", "pull_request", "issues"}
		gi.Spec.Links.IssueLabel = "bug"
	})
	rcv := startReceiver(t, Options{StatusFlushInterval: 300 * time.Millisecond}, logr.Discard())

	var examples []testfixtures.Example
	for _, event := range []string{"ping", "push", "pull_request", "issues"} {
		list, err := testfixtures.Examples(event)
		if err != nil {
			t.Fatal(err)
		}
		examples = append(examples, list...)
	}
	payloads := make([][]byte, len(examples))
	for i, ex := range examples {
		payloads[i] = ex.Raw
	}
	signatures, err := testfixtures.OctokitSign(testSecret, payloads)
	if err != nil {
		t.Fatal(err)
	}

	want := expectStatus(t, examples)
	var lastGUID string
	for i, ex := range examples {
		lastGUID = newGUID()
		hookID := "109948940"
		code, body := post(t, rcv.url, key, ex.Event, lastGUID, ex.Raw, signatures[i], hookID)
		wantBody := `{"processed":true}`
		if ex.Event == "ping" {
			wantBody = `{"event":"ping","hook_id":109948940,"processed":true}`
		}
		if code != http.StatusOK || body != wantBody {
			t.Errorf("%s: answered %d %s, want 200 %s", ex.Name, code, body, wantBody)
		}
	}

	n := int64(len(examples))
	eventually(t, 20*time.Second, "status counts every example", func() error {
		st := getStatus(t, key)
		if st.Deliveries != (hookv1.DeliveryCounters{Received: n, Processed: n}) {
			return fmt.Errorf("deliveries = %+v, want %d received and processed", st.Deliveries, n)
		}
		return nil
	})
	st := getStatus(t, key)
	gotCounts := map[string]int64{}
	for _, ec := range st.EventCounts {
		gotCounts[ec.Event] = ec.Count
		if ec.LastTime == nil {
			t.Errorf("eventCounts[%s] has no lastTime", ec.Event)
		}
	}
	if fmt.Sprint(gotCounts) != fmt.Sprint(want.eventCounts) {
		t.Errorf("eventCounts = %v, want %v", gotCounts, want.eventCounts)
	}
	last := examples[len(examples)-1]
	if st.LastDelivery == nil || st.LastDelivery.ID != lastGUID || st.LastDelivery.Event != last.Event ||
		st.LastDelivery.Action != last.Action || st.LastDelivery.Result != hookv1.DeliveryProcessed || st.LastDelivery.Target != want.lastTarget {
		t.Errorf("lastDelivery = %+v, want %s %s.%s from %s", st.LastDelivery, lastGUID, last.Event, last.Action, want.lastTarget)
	}
	var gotPRs []string
	for _, pr := range st.PullRequests {
		gotPRs = append(gotPRs, fmt.Sprintf("%s#%d %s %q %s", pr.Repository, pr.Number, pr.State, pr.Title, pr.URL))
	}
	if strings.Join(gotPRs, "\n") != strings.Join(want.pullRequests, "\n") {
		t.Errorf("pullRequests =\n%s\nwant\n%s", strings.Join(gotPRs, "\n"), strings.Join(want.pullRequests, "\n"))
	}
	var gotIssues []string
	for _, is := range st.Issues {
		gotIssues = append(gotIssues, fmt.Sprintf("%s#%d %s %q", is.Repository, is.Number, is.State, is.Title))
	}
	if fmt.Sprint(sortedCopy(gotIssues)) != fmt.Sprint(sortedCopy(want.issues)) {
		t.Errorf("issues = %v, want %v", gotIssues, want.issues)
	}
}

type expectedStatus struct {
	eventCounts  map[string]int64
	lastTarget   string
	pullRequests []string
	issues       []string
}

// expectStatus works out, from the examples read as plain JSON, what status
// must show after they were delivered in order.
func expectStatus(t *testing.T, examples []testfixtures.Example) expectedStatus {
	t.Helper()
	want := expectedStatus{eventCounts: map[string]int64{}}
	prs := map[string]string{}
	issues := map[string]string{}
	for _, ex := range examples {
		want.eventCounts[ex.Event]++
		var doc map[string]any
		if err := json.Unmarshal(ex.Raw, &doc); err != nil {
			t.Fatal(err)
		}
		repo, _ := dig(doc, "repository", "full_name").(string)
		want.lastTarget = repo
		if want.lastTarget == "" {
			want.lastTarget, _ = dig(doc, "organization", "login").(string)
		}
		switch ex.Event {
		case "pull_request":
			state, _ := dig(doc, "pull_request", "state").(string)
			if merged, _ := dig(doc, "pull_request", "merged").(bool); merged {
				state = "merged"
			}
			k := fmt.Sprintf("%s#%v", repo, dig(doc, "pull_request", "number"))
			prs[k] = fmt.Sprintf("%s %s %q %s", k, state, dig(doc, "pull_request", "title"), dig(doc, "pull_request", "html_url"))
		case "issues":
			k := fmt.Sprintf("%s#%v", repo, dig(doc, "issue", "number"))
			labelled := false
			labels, _ := dig(doc, "issue", "labels").([]any)
			for _, l := range labels {
				if name, _ := l.(map[string]any)["name"].(string); name == "bug" {
					labelled = true
				}
			}
			if !labelled || ex.Action == "deleted" || ex.Action == "transferred" {
				delete(issues, k)
				continue
			}
			issues[k] = fmt.Sprintf("%s %s %q", k, dig(doc, "issue", "state"), dig(doc, "issue", "title"))
		}
	}
	for _, v := range prs {
		want.pullRequests = append(want.pullRequests, v)
	}
	for _, v := range issues {
		want.issues = append(want.issues, v)
	}
	if len(want.pullRequests) != 1 {
		t.Fatalf("the examples name %d pull requests; this test expects one", len(want.pullRequests))
	}
	return want
}

func dig(doc map[string]any, path ...string) any {
	var v any = doc
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// prWithBody returns GitHub's pull_request.opened example with the body
// replaced.
func prWithBody(t testing.TB, body string) []byte {
	t.Helper()
	doc, err := testfixtures.ExampleDoc("pull_request", "opened")
	if err != nil {
		t.Fatal(err)
	}
	doc["pull_request"].(map[string]any)["body"] = body
	raw, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestPullRequestLinked: a pull request whose body has
// "experiment_key: checkout-flow-v2" shows in status with its link key and
// as a PullRequestLinked Event.
func TestPullRequestLinked(t *testing.T) {
	key := newIntegrationWithSecret(t, nil)
	rcv := startReceiver(t, Options{StatusFlushInterval: 200 * time.Millisecond}, logr.Discard())

	payload := prWithBody(t, "Moves checkout to the new flow.\r\n\r\nexperiment_key: checkout-flow-v2\r\n")
	sigs, err := testfixtures.OctokitSign(testSecret, [][]byte{payload})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second delivery links nothing new
		if code, body := post(t, rcv.url, key, "pull_request", newGUID(), payload, sigs[0], testHookID); code != http.StatusOK {
			t.Fatalf("answered %d %s", code, body)
		}
	}
	eventually(t, 20*time.Second, "pull request linked in status", func() error {
		st := getStatus(t, key)
		if len(st.PullRequests) != 1 || st.PullRequests[0].LinkKey != "checkout-flow-v2" {
			return fmt.Errorf("pullRequests = %+v", st.PullRequests)
		}
		return nil
	})
	pr := getStatus(t, key).PullRequests[0]
	if pr.Repository != "Codertocat/Hello-World" || pr.Number != 2 || pr.State != "open" {
		t.Errorf("pull request = %+v", pr)
	}
	var linked []eventsv1.Event
	eventually(t, 20*time.Second, "PullRequestLinked Event", func() error {
		linked = linkedEvents(t, key)
		if len(linked) == 0 {
			return fmt.Errorf("no %s Event", EventReasonPullRequestLinked)
		}
		return nil
	})
	if len(linked) != 1 {
		t.Errorf("%d PullRequestLinked Events, want 1", len(linked))
	}
	if note := linked[0].Note; !strings.Contains(note, "Codertocat/Hello-World#2") || !strings.Contains(note, "checkout-flow-v2") {
		t.Errorf("Event note = %q, want the pull request and its link key", note)
	}
	if linked[0].Regarding.Kind != "GitHubIntegration" || linked[0].Regarding.Name != key.Name {
		t.Errorf("Event regarding %+v, want the GitHubIntegration", linked[0].Regarding)
	}
}

func linkedEvents(t testing.TB, key types.NamespacedName) []eventsv1.Event {
	t.Helper()
	list := &eventsv1.EventList{}
	if err := env.Client.List(context.Background(), list, client.InNamespace(key.Namespace)); err != nil {
		t.Fatal(err)
	}
	var out []eventsv1.Event
	for _, e := range list.Items {
		if e.Reason == EventReasonPullRequestLinked {
			out = append(out, e)
		}
	}
	return out
}

// TestTwoReplicasCountExactly: two receivers record the same integration at
// the same time; the counters end exact.
func TestTwoReplicasCountExactly(t *testing.T) {
	key := newIntegrationWithSecret(t, nil)
	opts := Options{StatusFlushInterval: 50 * time.Millisecond}
	replicas := []*receiver{startReceiver(t, opts, logr.Discard()), startReceiver(t, opts, logr.Discard())}

	const perReplica, badPerReplica = 150, 10
	body := []byte(pushExample)
	sig := delivery.Signature([]byte(testSecret), body)
	var wg sync.WaitGroup
	for _, rcv := range replicas {
		for worker := range 3 {
			wg.Go(func() {
				for i := range perReplica / 3 {
					if code, answer := post(t, rcv.url, key, "push", newGUID(), body, sig, testHookID); code != http.StatusOK {
						t.Errorf("answered %d %s", code, answer)
					}
					if worker == 0 && i < badPerReplica {
						post(t, rcv.url, key, "push", newGUID(), body, "sha256="+strings.Repeat("0", 64), testHookID)
					}
					time.Sleep(5 * time.Millisecond) // spread over many flushes
				}
			})
		}
	}
	wg.Wait()

	want := hookv1.DeliveryCounters{Received: 2 * (perReplica + badPerReplica), Processed: 2 * perReplica, Rejected: 2 * badPerReplica}
	eventually(t, 30*time.Second, "exact counters", func() error {
		if got := getStatus(t, key).Deliveries; got != want {
			return fmt.Errorf("deliveries = %+v, want %+v", got, want)
		}
		return nil
	})
	st := getStatus(t, key)
	if len(st.EventCounts) != 1 || st.EventCounts[0].Event != "push" || st.EventCounts[0].Count != 2*perReplica {
		t.Errorf("eventCounts = %+v, want push: %d", st.EventCounts, 2*perReplica)
	}
	if st.LastRejection == nil || st.LastRejection.Reason != "invalid signature" {
		t.Errorf("lastRejection = %+v", st.LastRejection)
	}
	t.Logf("status patches: %d and %d, of which conflicts: %d and %d", replicas[0].statusPatches.Load(), replicas[1].statusPatches.Load(),
		replicas[0].conflicts.Load(), replicas[1].conflicts.Load())
}

// TestWriteAmplification: 200 deliveries to one integration within 2 s
// cause at most 2 status writes.
func TestWriteAmplification(t *testing.T) {
	key := newIntegrationWithSecret(t, nil)
	rcv := startReceiver(t, Options{StatusFlushInterval: 2 * time.Second}, logr.Discard())

	body := []byte(pushExample)
	sig := delivery.Signature([]byte(testSecret), body)
	start := time.Now()
	for range 200 {
		if code, answer := post(t, rcv.url, key, "push", newGUID(), body, sig, testHookID); code != http.StatusOK {
			t.Fatalf("answered %d %s", code, answer)
		}
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Fatalf("sending took %s, more than the 2 s this test is about", elapsed)
	}
	eventually(t, 10*time.Second, "status counts 200 deliveries", func() error {
		if got := getStatus(t, key).Deliveries.Processed; got != 200 {
			return fmt.Errorf("processed = %d", got)
		}
		return nil
	})
	time.Sleep(2500 * time.Millisecond) // a further flush writes nothing
	if got := rcv.statusPatches.Load(); got > 2 || got < 1 {
		t.Errorf("%d status writes for 200 deliveries, want 1 or 2", got)
	}
}

// TestStatusWriteRateBoundsWrites: 20 integrations receiving about 100
// deliveries a second, with a 200 ms flush interval that alone would allow
// 100 writes a second: the receiver's writes stay within
// --status-write-rate, and every counter ends exact.
func TestStatusWriteRateBoundsWrites(t *testing.T) {
	const (
		integrations = 20
		writeRate    = 10.0
		interval     = 200 * time.Millisecond
		sending      = 3 * time.Second
	)
	var keys []types.NamespacedName
	for range integrations {
		keys = append(keys, newIntegrationWithSecret(t, nil))
	}
	started := time.Now()
	rcv := startReceiver(t, Options{StatusFlushInterval: interval, StatusWriteRate: writeRate}, logr.Discard())

	body := []byte(pushExample)
	sig := delivery.Signature([]byte(testSecret), body)
	sent := make([]atomic.Int64, integrations)
	deadline := time.Now().Add(sending)
	var wg sync.WaitGroup
	for worker := range 4 {
		wg.Go(func() {
			for i := worker; time.Now().Before(deadline); i += 4 {
				k := i % integrations
				if code, answer := post(t, rcv.url, keys[k], "push", newGUID(), body, sig, testHookID); code != http.StatusOK {
					t.Errorf("answered %d %s", code, answer)
					return
				}
				sent[k].Add(1)
				time.Sleep(30 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	writes, elapsed := rcv.statusPatches.Load(), time.Since(started)
	// The budget starts with one flush's worth and fills at the rate.
	limit := int64(writeRate*elapsed.Seconds()) + int64(writeBurst(writeRate, interval))
	if writes > limit {
		t.Errorf("%d status writes in %s, want at most %d (--status-write-rate=%v)", writes, elapsed.Round(time.Millisecond), limit, writeRate)
	}
	var total int64
	for k := range sent {
		total += sent[k].Load()
	}
	for k, key := range keys {
		want := sent[k].Load()
		eventually(t, 30*time.Second, "exact counters", func() error {
			if got := getStatus(t, key).Deliveries; got.Received != want || got.Processed != want {
				return fmt.Errorf("%s: deliveries = %+v, want %d received and processed", key, got, want)
			}
			return nil
		})
	}
	t.Logf("%d deliveries to %d integrations in %s: %d status writes (at most %d without the budget)",
		total, integrations, sending, writes, int64(integrations*(elapsed/interval)))
}

// TestSecretsFollowTheSecret: the receiver reads the webhook secret when the
// Secret appears and changes, and accepts the previous secret during the
// grace period written by the reconciler.
// TestPlantedSecretIsNotTrusted: a Secret created under the name of an
// integration's applied secret, with hookwarden's labels but not controlled
// by the integration, is not a secret deliveries may be signed with; once
// the integration controls it, it is.
func TestPlantedSecretIsNotTrusted(t *testing.T) {
	ctx := context.Background()
	key := newIntegrationWithSecret(t, func(gi *hookv1.GitHubIntegration) { gi.Spec.SecretRef.Name = "not-created" })
	rcv := startReceiver(t, Options{}, logr.Discard())
	body := []byte(pushExample)
	const planted = "planted-secret-0123456789abcdef"
	send := func() (int, string) {
		return post(t, rcv.url, key, "push", newGUID(), body, delivery.Signature([]byte(planted), body), testHookID)
	}
	s := webhooksecret.NewApplied(key.Namespace, key.Name, []byte(planted), time.Now())
	if err := env.Client.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // time for the receiver to read it, were it trusted
	if code, answer := send(); code != http.StatusServiceUnavailable {
		t.Errorf("signed with a planted secret: answered %d %s, want 503 (no usable secret)", code, answer)
	}
	owned := ownedSecret(t, key, s.DeepCopy())
	if err := env.Client.Update(ctx, owned); err != nil {
		t.Fatal(err)
	}
	eventuallyAnswered(t, "the secret is accepted once the integration controls it", http.StatusOK, func() (int, string) { return send() })
}

func TestSecretsFollowTheSecret(t *testing.T) {
	ctx := context.Background()
	key := newIntegrationWithSecret(t, func(gi *hookv1.GitHubIntegration) { gi.Spec.SecretRef.Name = "created-later" })
	rcv := startReceiver(t, Options{}, logr.Discard())
	body := []byte(pushExample)

	send := func(secret string) (int, string) {
		return post(t, rcv.url, key, "push", newGUID(), body, delivery.Signature([]byte(secret), body), testHookID)
	}
	if code, answer := send(testSecret); code != http.StatusServiceUnavailable {
		t.Errorf("without the Secret: answered %d %s, want 503", code, answer)
	}

	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: "created-later"},
		Data: map[string][]byte{"webhook_secret": []byte(testSecret)}}
	if err := env.Client.Create(ctx, secret); err != nil {
		t.Fatal(err)
	}
	eventuallyAnswered(t, "secret read after the Secret was created", http.StatusOK, func() (int, string) { return send(testSecret) })

	rotated := "rotated-secret-abcdef0123456789"
	secret.Data["webhook_secret"] = []byte(rotated)
	if err := env.Client.Update(ctx, secret); err != nil {
		t.Fatal(err)
	}
	previous := ownedSecret(t, key, webhooksecret.NewPrevious(key.Namespace, key.Name, []byte(testSecret), time.Now().Add(time.Hour), time.Now()))
	if err := env.Client.Create(ctx, previous); err != nil {
		t.Fatal(err)
	}
	// The two Secrets arrive as separate watch events, in either order.
	eventually(t, 10*time.Second, "rotated and previous secrets both accepted", func() error {
		if code, answer := send(rotated); code != http.StatusOK {
			return fmt.Errorf("rotated secret answered %d %s", code, answer)
		}
		if code, answer := send(testSecret); code != http.StatusOK {
			return fmt.Errorf("previous secret within its grace period answered %d %s", code, answer)
		}
		return nil
	})

	previous.Annotations[webhooksecret.ExpiresAnnotation] = time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	if err := env.Client.Update(ctx, previous); err != nil {
		t.Fatal(err)
	}
	eventuallyAnswered(t, "expired previous secret refused", http.StatusUnauthorized, func() (int, string) { return send(testSecret) })
}

// TestStartReadsEachSecretOnce starts the receiver beside integrations that
// already exist: it is ready only once the webhook secret of each was read,
// and it reads each Secret once, not once for its start and again for the
// informer's initial list of the integrations.
func TestStartReadsEachSecretOnce(t *testing.T) {
	var keys []types.NamespacedName
	for range 3 {
		keys = append(keys, newIntegrationWithSecret(t, nil))
	}
	rcv := startReceiver(t, Options{}, logr.Discard())
	for _, key := range keys {
		if st := rcv.server.store.secretsOf(key); st == nil || len(st.secrets.Current) == 0 {
			t.Errorf("%s: ready before its webhook secret was read", key)
		}
	}
	// A second read would come from the queue.
	rcv.settleSecretReads(t)
	for _, key := range keys {
		secret := types.NamespacedName{Namespace: key.Namespace, Name: "github-experiments"}
		if n := rcv.secretReads.of(secret); n != 1 {
			t.Errorf("Secret %s read %d times from the receiver's start, want once", secret, n)
		}
	}
}

// TestSecretReadsFollowChanges: the receiver reads again only the Secret
// that changed, not every Secret of the integration, and what it keeps from
// before is still accepted.
func TestSecretReadsFollowChanges(t *testing.T) {
	ctx := context.Background()
	key := newIntegrationWithSecret(t, nil)
	// As the reconciler leaves them: the integration's Secret labelled, and
	// the applied Secret, holding the same secret.
	user := &corev1.Secret{}
	userKey := types.NamespacedName{Namespace: key.Namespace, Name: "github-experiments"}
	if err := env.Client.Get(ctx, userKey, user); err != nil {
		t.Fatal(err)
	}
	user.Labels = map[string]string{webhooksecret.ReferencedLabel: webhooksecret.ReferencedValue}
	if err := env.Client.Update(ctx, user); err != nil {
		t.Fatal(err)
	}
	applied := ownedSecret(t, key, webhooksecret.NewApplied(key.Namespace, key.Name, []byte(testSecret), time.Now()))
	if err := env.Client.Create(ctx, applied); err != nil {
		t.Fatal(err)
	}
	appliedKey := client.ObjectKeyFromObject(applied)
	previousKey := types.NamespacedName{Namespace: key.Namespace, Name: webhooksecret.PreviousName(key.Name)}

	rcv := startReceiver(t, Options{}, logr.Discard())
	body := []byte(pushExample)
	send := func(secret string) (int, string) {
		return post(t, rcv.url, key, "push", newGUID(), body, delivery.Signature([]byte(secret), body), testHookID)
	}
	wantReads := func(when string, user, applied, previous int) {
		t.Helper()
		for _, c := range []struct {
			key  types.NamespacedName
			want int
		}{{userKey, user}, {appliedKey, applied}, {previousKey, previous}} {
			if got := rcv.secretReads.of(c.key); got != c.want {
				t.Errorf("%s: Secret %s read %d times, want %d", when, c.key.Name, got, c.want)
			}
		}
	}
	// The watch's first list of the labelled Secrets queues the
	// integration again: nothing changed since it was read.
	rcv.settleSecretReads(t)
	wantReads("after the start", 1, 1, 0)

	const previousSecret = "previous-secret-0123456789abcdef"
	if err := env.Client.Create(ctx, ownedSecret(t, key, webhooksecret.NewPrevious(key.Namespace, key.Name,
		[]byte(previousSecret), time.Now().Add(time.Hour), time.Now()))); err != nil {
		t.Fatal(err)
	}
	eventuallyAnswered(t, "previous secret accepted", http.StatusOK, func() (int, string) { return send(previousSecret) })
	rcv.settleSecretReads(t)
	wantReads("after the previous Secret came", 1, 1, 1)

	const rotated = "rotated-secret-abcdef0123456789"
	user.Data["webhook_secret"] = []byte(rotated)
	if err := env.Client.Update(ctx, user); err != nil {
		t.Fatal(err)
	}
	eventuallyAnswered(t, "rotated secret accepted", http.StatusOK, func() (int, string) { return send(rotated) })
	rcv.settleSecretReads(t)
	wantReads("after the integration's Secret changed", 2, 1, 1)
	for _, secret := range []string{testSecret, previousSecret} {
		if code, answer := send(secret); code != http.StatusOK {
			t.Errorf("a secret kept from an earlier read answered %d %s", code, answer)
		}
	}
}

// TestOwnPatchesSpareReads: in one process with the reconciler, the label
// it adds to an integration's Secret when it first reads it (a metadata
// patch guarded by the resourceVersion read) does not make the receiver
// read the Secret again; a change it was not told of does.
func TestOwnPatchesSpareReads(t *testing.T) {
	ctx := context.Background()
	key := newIntegrationWithSecret(t, nil)
	secretKey := types.NamespacedName{Namespace: key.Namespace, Name: "github-experiments"}
	patches := webhooksecret.NewOwnPatches()
	rcv := startReceiver(t, Options{SecretPatches: patches}, logr.Discard())
	rcv.settleSecretReads(t)
	if n := rcv.secretReads.of(secretKey); n != 1 {
		t.Fatalf("Secret read %d times at start, want once", n)
	}

	// As the reconciler labels it. The receiver's store is held meanwhile,
	// so that it takes the change up only once the patch was noted, as it
	// does when the watch is slower than the reconciler.
	func() {
		secret := &corev1.Secret{}
		if err := env.Client.Get(ctx, secretKey, secret); err != nil {
			t.Fatal(err)
		}
		before := secret.DeepCopy()
		secret.Labels = map[string]string{webhooksecret.ReferencedLabel: webhooksecret.ReferencedValue}
		rcv.server.store.mu.Lock()
		defer rcv.server.store.mu.Unlock()
		if err := env.Client.Patch(ctx, secret, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
			t.Fatal(err)
		}
		patches.Note(secretKey, before.ResourceVersion, secret.ResourceVersion)
	}()
	rcv.settleSecretReads(t)
	if n := rcv.secretReads.of(secretKey); n != 1 {
		t.Errorf("Secret read %d times after hookwarden's own label, want once", n)
	}
	if code, answer := post(t, rcv.url, key, "push", newGUID(), []byte(pushExample),
		delivery.Signature([]byte(testSecret), []byte(pushExample)), testHookID); code != http.StatusOK {
		t.Errorf("the secret kept answered %d %s", code, answer)
	}

	// Someone else's change of the labelled Secret's metadata is read.
	secret := &corev1.Secret{}
	if err := env.Client.Get(ctx, secretKey, secret); err != nil {
		t.Fatal(err)
	}
	secret.Annotations = map[string]string{"team": "payments"}
	if err := env.Client.Update(ctx, secret); err != nil {
		t.Fatal(err)
	}
	// The watch may deliver it after the queue was last seen empty: wait
	// for the read itself, then for any more.
	eventually(t, 10*time.Second, "the Secret read after a change hookwarden did not make", func() error {
		if n := rcv.secretReads.of(secretKey); n < 2 {
			return fmt.Errorf("read %d times", n)
		}
		return nil
	})
	rcv.settleSecretReads(t)
	if n := rcv.secretReads.of(secretKey); n != 2 {
		t.Errorf("Secret read %d times after a change hookwarden did not make, want twice", n)
	}
}

// TestLogsAndEventsRevealNothing runs deliveries, bad signatures and a
// rotation with every log line captured, and checks that neither the logs
// nor the Events hold the token, a webhook secret or payload content, while
// the log does name each delivery.
func TestLogsAndEventsRevealNothing(t *testing.T) {
	capture, logs := captureLogs(10)

	key := newIntegrationWithSecret(t, nil)
	rcv := startReceiver(t, Options{StatusFlushInterval: 200 * time.Millisecond}, capture)

	const bodyMarker = "Confidential rollout notes 7f3a9c"
	payload := prWithBody(t, bodyMarker+"\nexperiment_key: checkout-flow-v2\n")
	good := delivery.Signature([]byte(testSecret), payload)
	var guids []string
	for range 3 {
		guid := newGUID()
		guids = append(guids, guid)
		if code, answer := post(t, rcv.url, key, "pull_request", guid, payload, good, testHookID); code != http.StatusOK {
			t.Fatalf("answered %d %s", code, answer)
		}
	}
	for range 3 {
		post(t, rcv.url, key, "pull_request", newGUID(), payload, delivery.Signature([]byte("an-attacker-guess-0123456789"), payload), testHookID)
		post(t, rcv.url, key, "pull_request", newGUID(), payload, "", testHookID)
	}
	post(t, rcv.url, types.NamespacedName{Namespace: key.Namespace, Name: "missing"}, "push", newGUID(), payload, good, testHookID)
	malformed := []byte(`{"secret":"` + bodyMarker + `"`)
	post(t, rcv.url, key, "push", newGUID(), malformed, delivery.Signature([]byte(testSecret), malformed), testHookID)

	// A rotation to an invalid secret is logged as a problem.
	secret := &corev1.Secret{}
	if err := env.Client.Get(context.Background(), types.NamespacedName{Namespace: key.Namespace, Name: "github-experiments"}, secret); err != nil {
		t.Fatal(err)
	}
	const tooShort = "short-secret-x"
	secret.Data["webhook_secret"] = []byte(tooShort)
	if err := env.Client.Update(context.Background(), secret); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "invalid secret noticed", func() error {
		if code, _ := post(t, rcv.url, key, "push", newGUID(), []byte(pushExample), delivery.Signature([]byte(testSecret), []byte(pushExample)), testHookID); code != http.StatusServiceUnavailable {
			return fmt.Errorf("answered %d", code)
		}
		return nil
	})
	eventually(t, 20*time.Second, "Event recorded", func() error {
		if len(linkedEvents(t, key)) == 0 {
			return fmt.Errorf("no Event yet")
		}
		return nil
	})

	events := &eventsv1.EventList{}
	if err := env.Client.List(context.Background(), events, client.InNamespace(key.Namespace)); err != nil {
		t.Fatal(err)
	}
	var eventText strings.Builder
	for _, e := range events.Items {
		fmt.Fprintf(&eventText, "%s %s %s\n", e.Reason, e.Action, e.Note)
	}
	logText := logs()

	forbidden := map[string]string{
		"token":              testToken,
		"webhook secret":     testSecret,
		"new webhook secret": tooShort,
		"payload body":       bodyMarker,
		"payload title":      "Update the README with new information",
	}
	for what, s := range forbidden {
		if strings.Contains(logText, s) {
			t.Errorf("the logs contain the %s", what)
		}
		if strings.Contains(eventText.String(), s) {
			t.Errorf("the Events contain the %s", what)
		}
	}
	for _, guid := range guids {
		if !strings.Contains(logText, guid) {
			t.Errorf("no log line names delivery %s", guid)
		}
	}
	if !strings.Contains(logText, `"result"="rejected"`) || !strings.Contains(logText, `too short`) && !strings.Contains(logText, "needs at least") {
		t.Errorf("the logs do not show the rejections and the secret problem:\n%s", logText)
	}
}
