package webhookserver

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/types"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	"github.com/hookwarden/hookwarden/internal/delivery"
	"github.com/hookwarden/hookwarden/internal/metrics/metricstest"
	"github.com/hookwarden/hookwarden/internal/testenv"
)

// seen is one answer as a client reads it.
type seen struct {
	code int
	body string
}

// serveAll sends requests one after the other over one keep-alive
// connection to the receiver's HTTP server, as GitHub's deliveries arrive,
// and returns the answers.
func serveAll(t *testing.T, s *Server, reqs []*http.Request) []seen {
	t.Helper()
	ln, stop := serveInMemory(s, nil)
	defer stop()
	peer, err := net.ResolveTCPAddr("tcp", reqs[0].RemoteAddr)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := ln.DialWithLocalAddr(peer)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	out := make([]seen, 0, len(reqs))
	for _, r := range reqs {
		req := r.Clone(r.Context())
		req.RequestURI, req.URL.Scheme, req.URL.Host = "", "http", "receiver.test"
		if err := req.Write(conn); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			t.Fatal(err)
		}
		body := testenv.ReadBody(t, resp)
		out = append(out, seen{resp.StatusCode, strings.TrimSpace(string(body))})
	}
	return out
}

// inventedEvent returns the i-th of many event names GitHub never sends, in
// the shape of one ([a-z_]).
func inventedEvent(i int) string {
	var b strings.Builder
	b.WriteString("invented_")
	for {
		b.WriteByte(byte('a' + i%26))
		i /= 26
		if i == 0 {
			return b.String()
		}
	}
}

// deliverySeries returns the series of hookwarden_deliveries_total as
// "namespace/name|event|result".
func deliverySeries(t *testing.T) []string {
	t.Helper()
	var series []string
	for _, s := range metricstest.Series(t, "hookwarden_deliveries_total", nil) {
		series = append(series, s.Labels["namespace"]+"/"+s.Labels["name"]+"|"+s.Labels["event"]+"|"+s.Labels["result"])
	}
	slices.Sort(series)
	return series
}

// recordedStatus returns what the queued deliveries make of an empty status.
func recordedStatus(s *Server) hookv1.GitHubIntegrationStatus {
	drain(s)
	st := hookv1.GitHubIntegrationStatus{}
	if d := s.recorder.take()[testKey]; d != nil {
		d.applyTo(&st)
	}
	return st
}

func eventCountsOf(st hookv1.GitHubIntegrationStatus) map[string]int64 {
	counts := map[string]int64{}
	for _, ec := range st.EventCounts {
		counts[ec.Event] = ec.Count
	}
	return counts
}

// TestReplayWithInventedHeadersIsADuplicate replays one captured, validly
// signed delivery with its GUID and 1,000 invented event names, then 1,000
// hook IDs: none is processed again, and none adds a metric series or a
// status key. Only the body is signed; the headers are the sender's to
// choose.
func TestReplayWithInventedHeadersIsADuplicate(t *testing.T) {
	s := newHandlerServer(t, Options{})
	captured := newDelivery("push", pushExample)
	guid := captured.Header.Get(delivery.HeaderDelivery)
	again := newDelivery("push", pushExample)
	again.Header.Set(delivery.HeaderDelivery, guid)
	for i, a := range serveAll(t, s, []*http.Request{captured, again}) {
		if want := []string{`{"processed":true}`, `{"processed":true,"duplicate":true}`}[i]; a.code != http.StatusOK || a.body != want {
			t.Fatalf("delivery %d answered %d %s, want 200 %s", i, a.code, a.body, want)
		}
	}
	before := deliverySeries(t)

	const n = 1000
	var replays []*http.Request
	for i := range n {
		r := newDelivery(inventedEvent(i), pushExample)
		r.Header.Set(delivery.HeaderDelivery, guid)
		replays = append(replays, r)
	}
	for i := range n {
		r := newDelivery("push", pushExample)
		r.Header.Set(delivery.HeaderDelivery, guid)
		r.Header.Set(delivery.HeaderHookID, strconv.Itoa(500000+i))
		replays = append(replays, r)
	}
	for i, a := range serveAll(t, s, replays) {
		if a.code != http.StatusOK || a.body != `{"processed":true,"duplicate":true}` {
			t.Fatalf("replay %d (event %s, hook %s) answered %d %s, want a duplicate", i,
				replays[i].Header.Get(delivery.HeaderEvent), replays[i].Header.Get(delivery.HeaderHookID), a.code, a.body)
		}
	}

	if after := deliverySeries(t); !slices.Equal(after, before) {
		t.Errorf("the replays changed the metric series from %d to %d", len(before), len(after))
	}
	st := recordedStatus(s)
	want := hookv1.DeliveryCounters{Received: 2 + 2*n, Processed: 1, Duplicates: 1 + 2*n}
	if st.Deliveries != want {
		t.Errorf("deliveries = %+v, want %+v", st.Deliveries, want)
	}
	if got := eventCountsOf(st); len(got) != 1 || got["push"] != 1 {
		t.Errorf("eventCounts = %v, want push: 1", got)
	}
}

// TestUnrecordedEventNamesAreCountedWithoutThem: a signed delivery whose
// event name GitHub does not publish, or that spec.events does not
// subscribe to, is answered 202 with the reason and counted in
// status.deliveries, but its name becomes neither a metric series nor a
// status.eventCounts key, however many names are sent. Ping, which every
// new hook receives, and subscribed events keep their names.
func TestUnrecordedEventNamesAreCountedWithoutThem(t *testing.T) {
	s := newHandlerServer(t, Options{})
	const n = 1000
	first := newDelivery(inventedEvent(n), pushExample)
	a := serveAll(t, s, []*http.Request{first})[0]
	wantFirst := `{"processed":false,"reason":"event \"` + inventedEvent(n) +
		`\" is not a GitHub webhook event this version of hookwarden knows: counted without its name"}`
	if a.code != http.StatusAccepted || a.body != wantFirst {
		t.Fatalf("answered %d %s, want 202 %s", a.code, a.body, wantFirst)
	}
	before := deliverySeries(t)

	var reqs []*http.Request
	for i := range n {
		reqs = append(reqs, newDelivery(inventedEvent(i), pushExample)) // a fresh GUID each
	}
	for i, a := range serveAll(t, s, reqs) {
		if a.code != http.StatusAccepted || !strings.Contains(a.body, "counted without its name") {
			t.Fatalf("event %s answered %d %s, want 202", reqs[i].Header.Get(delivery.HeaderEvent), a.code, a.body)
		}
	}
	if after := deliverySeries(t); !slices.Equal(after, before) {
		t.Errorf("%d invented event names changed the metric series from %d to %d", n, len(before), len(after))
	}

	// GitHub's events: one not in spec.events, one subscribed without a
	// handler, and ping, which is not in spec.events either.
	others := serveAll(t, s, []*http.Request{
		newDelivery("star", `{"action":"created"}`),
		newDelivery("release", `{"action":"published"}`),
		newDelivery("ping", `{"zen":"Keep it logically awesome.","hook_id":424242}`),
	})
	if others[0].code != http.StatusAccepted || others[1].code != http.StatusAccepted || others[2].code != http.StatusOK {
		t.Errorf("star, release and ping answered %v", others)
	}
	for _, series := range deliverySeries(t) {
		name := strings.Split(series, "|")[1]
		if strings.HasPrefix(name, "invented_") || name == "star" {
			t.Errorf("metric series %s names an event that is not recorded", series)
		}
	}
	integration := testKey.String()
	for _, want := range []string{integration + "|release|ignored", integration + "|ping|processed", integration + "||ignored"} {
		if !slices.Contains(deliverySeries(t), want) {
			t.Errorf("no metric series %s", want)
		}
	}

	st := recordedStatus(s)
	want := hookv1.DeliveryCounters{Received: n + 4, Processed: 1, Ignored: n + 3}
	if st.Deliveries != want {
		t.Errorf("deliveries = %+v, want %+v", st.Deliveries, want)
	}
	if got := eventCountsOf(st); fmt.Sprint(got) != fmt.Sprint(map[string]int64{"ping": 1, "release": 1}) {
		t.Errorf("eventCounts = %v, want ping and release only", got)
	}
}

// TestDedupeKeyIsGUIDAndSignedBody: a delivery is a duplicate when its GUID
// and signed body were seen before, whatever its unsigned headers say; the
// same GUID with another signed body, or the same body with another GUID,
// is a delivery of its own.
func TestDedupeKeyIsGUIDAndSignedBody(t *testing.T) {
	s := newHandlerServer(t, Options{})
	first := newDelivery("push", pushExample)
	guid := first.Header.Get(delivery.HeaderDelivery)

	otherBody := newDelivery("push", strings.Replace(pushExample, "refs/heads/main", "refs/heads/next", 1))
	otherBody.Header.Set(delivery.HeaderDelivery, guid)
	otherGUID := newDelivery("push", pushExample)
	otherHook := newDelivery("push", pushExample)
	otherHook.Header.Set(delivery.HeaderDelivery, guid)
	otherHook.Header.Set(delivery.HeaderHookID, "7")
	otherIntegration := deliveryTo(types.NamespacedName{Namespace: testNS, Name: "second"}, "push", pushExample, testSecret)
	otherIntegration.Header.Set(delivery.HeaderDelivery, guid)
	second := testIntegration()
	second.Name = "second"
	s.store.upsert(newIntegration(second))
	s.store.setSecrets(types.NamespacedName{Namespace: testNS, Name: "second"},
		&secretState{secrets: delivery.Secrets{Current: []byte(testSecret)}})

	processed, duplicate := `{"processed":true}`, `{"processed":true,"duplicate":true}`
	cases := []struct {
		name string
		r    *http.Request
		want string
	}{
		{"first", first, processed},
		{"same GUID, another signed body", otherBody, processed},
		{"same body, another GUID", otherGUID, processed},
		{"same GUID and body, another hook ID", otherHook, duplicate},
		{"same GUID and body, another integration", otherIntegration, processed},
	}
	reqs := make([]*http.Request, len(cases))
	for i, tc := range cases {
		reqs[i] = tc.r
	}
	for i, a := range serveAll(t, s, reqs) {
		if a.code != http.StatusOK || a.body != cases[i].want {
			t.Errorf("%s: answered %d %s, want 200 %s", cases[i].name, a.code, a.body, cases[i].want)
		}
	}
}

// TestEventNamesWithDigits: GitHub's projects_v2 events have a digit in
// their name; an integration subscribed to every event receives them and
// counts them under their names.
func TestEventNamesWithDigits(t *testing.T) {
	s := newHandlerServer(t, Options{})
	all := testIntegration()
	all.Spec.Events = []string{"*"}
	s.store.upsert(newIntegration(all))
	answers := serveAll(t, s, []*http.Request{newDelivery("projects_v2_item", `{"action":"edited"}`)})
	if want := `{"processed":false,"reason":"event \"projects_v2_item\" has no handler"}`; answers[0].code != http.StatusAccepted || answers[0].body != want {
		t.Errorf("answered %d %s, want 202 %s", answers[0].code, answers[0].body, want)
	}
	if got := eventCountsOf(recordedStatus(s)); got["projects_v2_item"] != 1 {
		t.Errorf("eventCounts = %v, want projects_v2_item: 1", got)
	}
}

// TestLastDeliveryShowsOnlyPublishedEventNames: status.lastDelivery never
// shows an event name GitHub does not publish, whether the delivery was
// valid (a captured body replayed under an invented name) or rejected.
func TestLastDeliveryShowsOnlyPublishedEventNames(t *testing.T) {
	for _, tc := range []struct {
		name string
		req  func() *http.Request
		want string
	}{
		{"valid, invented name", func() *http.Request { return newDelivery("invented_event", pushExample) }, ""},
		{"rejected, invented name", func() *http.Request {
			r := newDelivery("invented_event", pushExample)
			r.Header.Set(delivery.HeaderSignature256, delivery.Signature([]byte("not-the-webhook-secret-0123"), []byte(pushExample)))
			return r
		}, ""},
		{"valid, GitHub's name not subscribed", func() *http.Request { return newDelivery("star", `{"action":"created"}`) }, "star"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newHandlerServer(t, Options{})
			serveAll(t, s, []*http.Request{tc.req()})
			st := recordedStatus(s)
			if st.LastDelivery == nil || st.LastDelivery.Event != tc.want {
				t.Errorf("status.lastDelivery = %+v, want event %q", st.LastDelivery, tc.want)
			}
		})
	}
}
