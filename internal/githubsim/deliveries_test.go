package githubsim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/hookwarden/hookwarden/internal/testfixtures"
)

// realPayloads are GitHub's published examples the receiver must handle;
// pull requests carry an experiment_key line in their body.
func realPayloads(t *testing.T) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, want := range []struct{ event, action string }{
		{"push", ""}, {"pull_request", "opened"}, {"pull_request", "closed"}, {"issues", "opened"}, {"issues", "labeled"},
	} {
		ex, err := testfixtures.ExampleFor(want.event, want.action)
		if err != nil {
			t.Fatal(err)
		}
		raw := ex.Raw
		if want.event == "pull_request" {
			raw = withPRBody(t, raw, "Checkout rework.\r\nexperiment_key: checkout-flow-v2\r\n")
		}
		out[ex.Event+"."+ex.Action] = raw
	}
	return out
}

func withPRBody(t *testing.T, raw []byte, body string) []byte {
	t.Helper()
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	var pr map[string]json.RawMessage
	if err := json.Unmarshal(doc["pull_request"], &pr); err != nil {
		t.Fatal(err)
	}
	pr["body"], _ = json.Marshal(body)
	doc["pull_request"], _ = json.Marshal(pr)
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func eventName(key string) string { name, _, _ := strings.Cut(key, "."); return name }

// TestDeliveriesAreSignedLikeGitHub sends GitHub's example payloads through
// json and form hooks and has Octokit's independent implementation verify
// every X-Hub-Signature-256 the receiver got.
func TestDeliveriesAreSignedLikeGitHub(t *testing.T) {
	sim := newTestServer(t, WithSyncPings())
	rcv := newReceiver(t)
	gh := githubClient(t, sim, adminToken)
	ctx := context.Background()
	for _, ct := range []string{"json", "form"} {
		_, _, err := gh.Repositories.CreateHook(ctx, "acme", "demo", &github.Hook{
			Config: &github.HookConfig{URL: github.String(rcv.URL + "/" + ct), ContentType: github.String(ct), Secret: github.String(testSecret)},
			Events: []string{"push", "pull_request", "issues"},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	payloads := realPayloads(t)
	for key, payload := range payloads {
		ds, err := sim.TriggerEvent(testRepo, eventName(key), payload)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) != 2 || !ds[0].OK() || !ds[1].OK() || ds[0].GUID != ds[1].GUID {
			t.Fatalf("%s: want two successful deliveries sharing a GUID, got %+v", key, ds)
		}
	}

	got := rcv.received()
	wantCount := 2 + 2*len(payloads) // a ping per hook, then every payload twice
	if len(got) != wantCount {
		t.Fatalf("receiver got %d deliveries, want %d", len(got), wantCount)
	}
	bodies := make([][]byte, len(got))
	sigs := make([]string, len(got))
	for i, d := range got {
		bodies[i], sigs[i] = d.Body, d.Header.Get("X-Hub-Signature-256")
		checkDeliveryHeaders(t, d, sim)
		json, form := d.Header.Get("Content-Type") == "application/json", d.Header.Get("Content-Type") == "application/x-www-form-urlencoded"
		switch {
		case json:
			if d.Header.Get("X-GitHub-Event") != "ping" && !containsPayload(payloads, d.Body) {
				t.Errorf("json delivery %d body is not byte for byte one of the payloads", i)
			}
		case form:
			values, err := url.ParseQuery(string(d.Body))
			if err != nil {
				t.Fatal(err)
			}
			if d.Header.Get("X-GitHub-Event") != "ping" && !containsPayload(payloads, []byte(values.Get("payload"))) {
				t.Errorf("form delivery %d payload field is not one of the payloads", i)
			}
		default:
			t.Errorf("delivery %d has Content-Type %q", i, d.Header.Get("Content-Type"))
		}
	}
	valid, err := testfixtures.OctokitVerify(testSecret, bodies, sigs)
	if err != nil {
		t.Fatal(err)
	}
	for i, ok := range valid {
		if !ok {
			t.Errorf("delivery %d (%s): Octokit rejects X-Hub-Signature-256", i, got[i].Header.Get("X-GitHub-Event"))
		}
	}
	// And a wrong secret must not verify: the check above means something.
	wrong, err := testfixtures.OctokitVerify("another-secret-entirely", bodies[:1], sigs[:1])
	if err != nil {
		t.Fatal(err)
	}
	if wrong[0] {
		t.Error("Octokit accepted a signature with the wrong secret")
	}
}

func containsPayload(payloads map[string][]byte, body []byte) bool {
	for _, p := range payloads {
		if bytes.Equal(p, body) {
			return true
		}
	}
	return false
}

func checkDeliveryHeaders(t *testing.T, d receivedDelivery, sim *Server) {
	t.Helper()
	h := d.Header
	if !strings.HasPrefix(h.Get("User-Agent"), "GitHub-Hookshot/") {
		t.Errorf("User-Agent %q", h.Get("User-Agent"))
	}
	if len(h.Get("X-GitHub-Delivery")) != 36 {
		t.Errorf("X-GitHub-Delivery %q is not a GUID", h.Get("X-GitHub-Delivery"))
	}
	if _, err := strconv.ParseInt(h.Get("X-GitHub-Hook-ID"), 10, 64); err != nil {
		t.Errorf("X-GitHub-Hook-ID %q", h.Get("X-GitHub-Hook-ID"))
	}
	repoID, _ := sim.RepoID(testRepo)
	if h.Get("X-GitHub-Hook-Installation-Target-Type") != "repository" || h.Get("X-GitHub-Hook-Installation-Target-ID") != strconv.FormatInt(repoID, 10) {
		t.Errorf("installation target %s/%s, want repository/%d", h.Get("X-GitHub-Hook-Installation-Target-Type"), h.Get("X-GitHub-Hook-Installation-Target-ID"), repoID)
	}
	if !strings.HasPrefix(h.Get("X-Hub-Signature"), "sha1=") || !strings.HasPrefix(h.Get("X-Hub-Signature-256"), "sha256=") {
		t.Error("signature headers missing")
	}
}

func TestPingPayloadOnCreation(t *testing.T) {
	sim := newTestServer(t)
	rcv := newReceiver(t)
	gh := githubClient(t, sim, adminToken)
	hook, _, err := gh.Repositories.CreateHook(context.Background(), "acme", "demo", &github.Hook{
		Config: &github.HookConfig{URL: github.String(rcv.URL), ContentType: github.String("json"), Secret: github.String(testSecret)},
		Events: []string{"pull_request"},
	})
	if err != nil {
		t.Fatal(err)
	}
	sim.Drain()
	got := rcv.received()
	if len(got) != 1 || got[0].Header.Get("X-GitHub-Event") != "ping" {
		t.Fatalf("want one ping, got %d deliveries", len(got))
	}
	var ping struct {
		Zen    string `json:"zen"`
		HookID int64  `json:"hook_id"`
		Hook   struct {
			Events []string          `json:"events"`
			Config map[string]string `json:"config"`
		} `json:"hook"`
		Repository struct {
			FullName string `json:"full_name"`
		} `json:"repository"`
	}
	if err := json.Unmarshal(got[0].Body, &ping); err != nil {
		t.Fatal(err)
	}
	if ping.Zen == "" || ping.HookID != hook.GetID() || ping.Repository.FullName != testRepo ||
		len(ping.Hook.Events) != 1 || ping.Hook.Config["secret"] != maskedSecret {
		t.Errorf("ping payload = %s", got[0].Body)
	}
	log, err := sim.Deliveries(testRepo, hook.GetID())
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != 1 || log[0].Event != "ping" || !log[0].OK() || log[0].Status != "OK" {
		t.Errorf("delivery log = %+v", log)
	}
}

// TestFailedDeliveryThenRedelivery follows a delivery that fails, is listed
// as failed, and is redelivered through the API with the same GUID.
func TestFailedDeliveryThenRedelivery(t *testing.T) {
	sim := newTestServer(t)
	rcv := newReceiver(t)
	hook, err := sim.SetHook(testRepo, Hook{Active: true, Events: []string{"push"}, Config: HookConfig{URL: rcv.URL, ContentType: "json", Secret: testSecret}})
	if err != nil {
		t.Fatal(err)
	}
	rcv.setStatus(http.StatusServiceUnavailable)
	ds, err := sim.TriggerEvent(testRepo, "push", []byte(`{"ref":"refs/heads/main"}`))
	if err != nil {
		t.Fatal(err)
	}
	failed := ds[0]
	if failed.OK() || failed.StatusCode != 503 || failed.Status != "Invalid HTTP Response: 503" {
		t.Fatalf("failed attempt = %d %q", failed.StatusCode, failed.Status)
	}
	got, _ := sim.Hook(testRepo, hook.ID)
	if got.LastResponse.Code != 503 || got.LastResponse.Status != "failed" {
		t.Errorf("last_response = %+v", got.LastResponse)
	}

	gh := githubClient(t, sim, adminToken)
	ctx := context.Background()
	failures, _, err := gh.Repositories.ListHookDeliveries(ctx, "acme", "demo", hook.ID, &github.ListCursorOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(failures) != 1 || failures[0].GetStatusCode() != 503 || failures[0].GetRedelivery() {
		t.Fatalf("deliveries listed = %v", failures)
	}

	rcv.setStatus(http.StatusOK)
	_, _, err = gh.Repositories.RedeliverHookDelivery(ctx, "acme", "demo", hook.ID, failed.ID)
	var accepted *github.AcceptedError
	if err != nil && !asAccepted(err, &accepted) {
		t.Fatal(err)
	}
	sim.Drain()
	log, _ := sim.Deliveries(testRepo, hook.ID)
	if len(log) != 2 {
		t.Fatalf("delivery log has %d attempts, want 2", len(log))
	}
	re := log[1]
	if !re.Redelivery || re.GUID != failed.GUID || re.ID == failed.ID || !re.OK() {
		t.Errorf("redelivery = id %d guid-same=%v redelivery=%v status %d", re.ID, re.GUID == failed.GUID, re.Redelivery, re.StatusCode)
	}
	if !bytes.Equal(re.Body, failed.Body) {
		t.Error("redelivery body differs from the original")
	}
	received := rcv.received()
	if len(received) != 2 || received[1].Header.Get("X-GitHub-Delivery") != failed.GUID {
		t.Errorf("receiver did not get the redelivery with the original GUID")
	}

	detail, _, err := gh.Repositories.GetHookDelivery(ctx, "acme", "demo", hook.ID, re.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !detail.GetRedelivery() || detail.GetStatusCode() != 200 || detail.Request.Headers["X-GitHub-Delivery"] != failed.GUID {
		t.Errorf("delivery detail = redelivery %v status %d", detail.GetRedelivery(), detail.GetStatusCode())
	}
}

func asAccepted(err error, target **github.AcceptedError) bool {
	return errors.As(err, target)
}

func TestDeliveryTimeoutAndConnectionFailure(t *testing.T) {
	sim := newTestServer(t, WithDeliveryTimeout(200*time.Millisecond))
	slow := newReceiver(t)
	release := make(chan struct{})
	slow.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	if _, err := sim.SetHook(testRepo, Hook{Active: true, Config: HookConfig{URL: slow.URL, ContentType: "json"}}); err != nil {
		t.Fatal(err)
	}
	gone := newReceiver(t)
	gone.Close() // nothing listens there any more
	if _, err := sim.SetHook(testRepo, Hook{Active: true, Config: HookConfig{URL: gone.URL, ContentType: "json"}}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	ds, err := sim.TriggerEvent(testRepo, "push", []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("deliveries took %v despite a 200ms timeout", elapsed)
	}
	if ds[0].Status != "timed out" || ds[0].StatusCode != 0 || ds[0].Duration < 150*time.Millisecond {
		t.Errorf("slow hook: %q %d after %v", ds[0].Status, ds[0].StatusCode, ds[0].Duration)
	}
	if ds[1].Status != "failed to connect to host" || ds[1].StatusCode != 0 {
		t.Errorf("closed hook: %q %d", ds[1].Status, ds[1].StatusCode)
	}
}

func TestTriggerEventReachesOrgAndSubscribedHooksOnly(t *testing.T) {
	sim := newTestServer(t)
	rcv := newReceiver(t)
	mk := func(target, path string, active bool, events ...string) {
		if _, err := sim.SetHook(target, Hook{Active: active, Events: events, Config: HookConfig{URL: rcv.URL + path, ContentType: "json"}}); err != nil {
			t.Fatal(err)
		}
	}
	mk(testRepo, "/push", true, "push")
	mk(testRepo, "/all", true, "*")
	mk(testRepo, "/inactive", false, "issues")
	mk(testRepo, "/other", true, "release")
	mk(testOrg, "/org", true, "issues")
	ds, err := sim.TriggerEvent(testRepo, "issues", []byte(`{"action":"opened"}`))
	if err != nil {
		t.Fatal(err)
	}
	var urls []string
	for _, d := range ds {
		urls = append(urls, strings.TrimPrefix(d.URL, rcv.URL))
		if d.Action != "opened" || d.Event != "issues" {
			t.Errorf("delivery event/action = %s/%s", d.Event, d.Action)
		}
	}
	if strings.Join(urls, ",") != "/all,/org" {
		t.Errorf("issues event delivered to %v, want /all and the org hook", urls)
	}
}

// TestSteadyDeliveryStream delivers events at a steady rate from several
// goroutines, as receiver tests do.
func TestSteadyDeliveryStream(t *testing.T) {
	sim := newTestServer(t)
	rcv := newReceiver(t)
	if _, err := sim.SetHook(testRepo, Hook{Active: true, Events: []string{"push"}, Config: HookConfig{URL: rcv.URL, ContentType: "json", Secret: testSecret}}); err != nil {
		t.Fatal(err)
	}
	const n = 200
	errs := make(chan error, n)
	start := time.Now()
	for i := range n {
		go func() {
			ds, err := sim.TriggerEvent(testRepo, "push", []byte(`{"n":`+strconv.Itoa(i)+`}`))
			if err == nil && (len(ds) != 1 || !ds[0].OK()) {
				err = errFailedDelivery
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if rate := float64(n) / time.Since(start).Seconds(); rate < 20 {
		t.Errorf("delivered %.0f/s, want at least 20/s", rate)
	}
	if got := len(rcv.received()); got != n {
		t.Errorf("receiver got %d deliveries, want %d", got, n)
	}
}

var errFailedDelivery = &deliveryError{}

type deliveryError struct{}

func (*deliveryError) Error() string { return "delivery failed" }

// TestDeliveryStatusFilterFollowsTheDescription checks the status filter of
// the deliveries list against the words of GitHub's published description:
// the status_code ranges of success and failure are read from it, and an
// attempt without an answer (status_code 0: the receiver was down) is in
// neither.
func TestDeliveryStatusFilterFollowsTheDescription(t *testing.T) {
	doc := githubSpec(t)
	const path = "/repos/{owner}/{repo}/hooks/{hook_id}/deliveries"
	item := doc.Paths.Value(path)
	if item == nil || item.Get == nil {
		t.Fatalf("the description has no GET %s", path)
	}
	param := item.Get.Parameters.GetByInAndName("query", "status")
	if param == nil {
		t.Fatalf("GET %s has no status query parameter in the description", path)
	}
	ranges := map[string][2]int{}
	for _, status := range []string{"success", "failure"} {
		re := regexp.MustCompile("`status` of `" + status + "` returns deliveries with a `status_code` in the (\\d{3})-(\\d{3}) range \\(inclusive\\)")
		m := re.FindStringSubmatch(param.Description)
		if m == nil {
			t.Fatalf("the description of status no longer words the %s range as expected: %q", status, param.Description)
		}
		lo, _ := strconv.Atoi(m[1])
		hi, _ := strconv.Atoi(m[2])
		ranges[status] = [2]int{lo, hi}
	}

	sim := newTestServer(t, WithDeliveryTimeout(2*time.Second))
	var answer atomic.Int64
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		code := int(answer.Load())
		if code == 0 {
			// The receiver is down: the connection closes without an answer.
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				_ = conn.Close()
			}
			return
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(rcv.Close)
	hook, err := sim.SetHook(testRepo, Hook{Active: true, Events: []string{"push"}, Config: HookConfig{URL: rcv.URL, ContentType: "json", Secret: testSecret}})
	if err != nil {
		t.Fatal(err)
	}
	codes := []int{0, 200, 204, 302, 304, 400, 404, 422, 500, 503}
	byID := map[int64]int{}
	for _, code := range codes {
		answer.Store(int64(code))
		ds, err := sim.TriggerEvent(testRepo, "push", []byte(`{"ref":"refs/heads/main"}`))
		if err != nil || len(ds) != 1 {
			t.Fatalf("TriggerEvent: %d deliveries, %v", len(ds), err)
		}
		if ds[0].StatusCode != code {
			t.Fatalf("receiver answered %d, the log says %d (%s)", code, ds[0].StatusCode, ds[0].Status)
		}
		byID[ds[0].ID] = code
	}

	gh := githubClient(t, sim, adminToken)
	list := func(status string) []int {
		t.Helper()
		q := "?per_page=100"
		if status != "" {
			q += "&status=" + status
		}
		req, err := gh.NewRequest(http.MethodGet, fmt.Sprintf("repos/acme/demo/hooks/%d/deliveries%s", hook.ID, q), nil)
		if err != nil {
			t.Fatal(err)
		}
		var items []*github.HookDelivery
		if _, err := gh.Do(context.Background(), req, &items); err != nil {
			t.Fatal(err)
		}
		var got []int
		for _, d := range items {
			if c, ok := byID[d.GetID()]; ok {
				if d.GetStatusCode() != c {
					t.Errorf("delivery %d listed with status_code %d, answered %d", d.GetID(), d.GetStatusCode(), c)
				}
				got = append(got, c)
			}
		}
		slices.Sort(got)
		return got
	}
	if got := list(""); !slices.Equal(got, codes) {
		t.Errorf("unfiltered list has status codes %v, want every attempt %v", got, codes)
	}
	for status, r := range ranges {
		var want []int
		for _, c := range codes {
			if c >= r[0] && c <= r[1] {
				want = append(want, c)
			}
		}
		if got := list(status); !slices.Equal(got, want) {
			t.Errorf("status=%s lists status codes %v, want %v (the description's %d-%d)", status, got, want, r[0], r[1])
		}
	}
	if got := list("failure"); slices.Contains(got, 0) {
		t.Error("status=failure lists an attempt that got no answer; the description's range excludes it")
	}
}
