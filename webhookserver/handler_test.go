package webhookserver

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"k8s.io/apimachinery/pkg/types"
	crzap "sigs.k8s.io/controller-runtime/pkg/log/zap"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	"github.com/hookwarden/hookwarden/internal/delivery"
	"github.com/hookwarden/hookwarden/internal/logging"
)

// TestAnswers checks every answer of docs/receiver.md: status code, JSON body and what
// is counted on the integration.
func TestAnswers(t *testing.T) {
	reserialised := `{"ref": "refs/heads/main", "after": "6113728f27ae82c7b1a177c8d03f9e96e0adf246", "repository": {"full_name": "acme/api"}, "head_commit": {"message": "Add checkout flow"}}`

	cases := []struct {
		name     string
		request  func() *http.Request
		wantCode int
		wantBody string
		// wantCounted is what the integration's status counts (nil: nothing).
		wantCounted *hookv1.DeliveryCounters
		wantHeader  map[string]string
	}{
		{
			name:        "push processed",
			request:     func() *http.Request { return newDelivery("push", pushExample) },
			wantCode:    http.StatusOK,
			wantBody:    `{"processed":true}`,
			wantCounted: &hookv1.DeliveryCounters{Received: 1, Processed: 1},
		},
		{
			name:        "form-encoded payload processed",
			request:     func() *http.Request { return formDelivery("push", pushExample) },
			wantCode:    http.StatusOK,
			wantBody:    `{"processed":true}`,
			wantCounted: &hookv1.DeliveryCounters{Received: 1, Processed: 1},
		},
		{
			name: "ping answers its hook ID",
			request: func() *http.Request {
				return newDelivery("ping", `{"zen":"Keep it logically awesome.","hook_id":109948940}`)
			},
			wantCode:    http.StatusOK,
			wantBody:    `{"event":"ping","hook_id":424242,"processed":true}`,
			wantCounted: &hookv1.DeliveryCounters{Received: 1, Processed: 1},
		},
		{
			name:        "unsubscribed event ignored",
			request:     func() *http.Request { return newDelivery("star", `{"action":"created"}`) },
			wantCode:    http.StatusAccepted,
			wantBody:    `{"processed":false,"reason":"event \"star\" is not in spec.events"}`,
			wantCounted: &hookv1.DeliveryCounters{Received: 1, Ignored: 1},
		},
		{
			name:        "subscribed event without handler ignored",
			request:     func() *http.Request { return newDelivery("release", `{"action":"published"}`) },
			wantCode:    http.StatusAccepted,
			wantBody:    `{"processed":false,"reason":"event \"release\" has no handler"}`,
			wantCounted: &hookv1.DeliveryCounters{Received: 1, Ignored: 1},
		},
		{
			name: "GET not allowed",
			request: func() *http.Request {
				return httptest.NewRequest(http.MethodGet, hookv1.ReceiverPath(testNS, testName), nil)
			},
			wantCode:   http.StatusMethodNotAllowed,
			wantBody:   `{"error":"method not allowed: GitHub delivers with POST"}`,
			wantHeader: map[string]string{"Allow": "POST"},
		},
		{
			name: "unknown integration",
			request: func() *http.Request {
				return deliveryTo(types.NamespacedName{Namespace: testNS, Name: "other"}, "push", pushExample, testSecret)
			},
			wantCode: http.StatusNotFound,
			wantBody: `{"error":"integration not found"}`,
		},
		{
			name: "text/plain unsupported",
			request: func() *http.Request {
				r := newDelivery("push", pushExample)
				r.Header.Set("Content-Type", "text/plain")
				return r
			},
			wantCode:    http.StatusUnsupportedMediaType,
			wantBody:    `{"error":"unsupported Content-Type: GitHub sends application/json or application/x-www-form-urlencoded"}`,
			wantCounted: &hookv1.DeliveryCounters{Received: 1, Rejected: 1},
		},
		{
			name: "missing event header",
			request: func() *http.Request {
				r := newDelivery("push", pushExample)
				r.Header.Del(delivery.HeaderEvent)
				return r
			},
			wantCode:    http.StatusBadRequest,
			wantBody:    `{"error":"missing X-GitHub-Event header"}`,
			wantCounted: &hookv1.DeliveryCounters{Received: 1, Rejected: 1},
		},
		{
			name: "missing delivery header",
			request: func() *http.Request {
				r := newDelivery("push", pushExample)
				r.Header.Del(delivery.HeaderDelivery)
				return r
			},
			wantCode:    http.StatusBadRequest,
			wantBody:    `{"error":"missing X-GitHub-Delivery header"}`,
			wantCounted: &hookv1.DeliveryCounters{Received: 1, Rejected: 1},
		},
		{
			name: "unsigned",
			request: func() *http.Request {
				r := newDelivery("push", pushExample)
				r.Header.Del(delivery.HeaderSignature256)
				return r
			},
			wantCode:    http.StatusUnauthorized,
			wantBody:    `{"error":"missing X-Hub-Signature-256: set the webhook secret in GitHub"}`,
			wantCounted: &hookv1.DeliveryCounters{Received: 1, Rejected: 1},
		},
		{
			name: "SHA-1 signature only",
			request: func() *http.Request {
				r := newDelivery("push", pushExample)
				r.Header.Del(delivery.HeaderSignature256)
				mac := hmac.New(sha1.New, []byte(testSecret))
				mac.Write([]byte(pushExample))
				r.Header.Set("X-Hub-Signature", "sha1="+hex.EncodeToString(mac.Sum(nil)))
				return r
			},
			wantCode:    http.StatusUnauthorized,
			wantBody:    `{"error":"missing X-Hub-Signature-256: set the webhook secret in GitHub"}`,
			wantCounted: &hookv1.DeliveryCounters{Received: 1, Rejected: 1},
		},
		{
			name: "signature without sha256= prefix",
			request: func() *http.Request {
				r := newDelivery("push", pushExample)
				r.Header.Set(delivery.HeaderSignature256, strings.TrimPrefix(r.Header.Get(delivery.HeaderSignature256), "sha256="))
				return r
			},
			wantCode:    http.StatusUnauthorized,
			wantBody:    `{"error":"invalid signature"}`,
			wantCounted: &hookv1.DeliveryCounters{Received: 1, Rejected: 1},
		},
		{
			name: "right signature over a re-serialised body",
			request: func() *http.Request {
				r := newDelivery("push", reserialised)
				r.Header.Set(delivery.HeaderSignature256, delivery.Signature([]byte(testSecret), []byte(pushExample)))
				return r
			},
			wantCode:    http.StatusUnauthorized,
			wantBody:    `{"error":"invalid signature"}`,
			wantCounted: &hookv1.DeliveryCounters{Received: 1, Rejected: 1},
		},
		{
			name:        "signed with another secret",
			request:     func() *http.Request { return deliveryTo(testKey, "push", pushExample, "another-secret-0123456789") },
			wantCode:    http.StatusUnauthorized,
			wantBody:    `{"error":"invalid signature"}`,
			wantCounted: &hookv1.DeliveryCounters{Received: 1, Rejected: 1},
		},
		{
			name:        "malformed JSON with a valid signature",
			request:     func() *http.Request { return newDelivery("push", `{"ref": "refs/heads/main",`) },
			wantCode:    http.StatusBadRequest,
			wantBody:    `{"error":"malformed payload"}`,
			wantCounted: &hookv1.DeliveryCounters{Received: 1, Rejected: 1},
		},
		{
			name:        "JSON that is not an object",
			request:     func() *http.Request { return newDelivery("push", `null`) },
			wantCode:    http.StatusBadRequest,
			wantBody:    `{"error":"malformed payload"}`,
			wantCounted: &hookv1.DeliveryCounters{Received: 1, Rejected: 1},
		},
		{
			name: "form body without payload field",
			request: func() *http.Request {
				r := newDelivery("push", "data="+pushExample)
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				return r
			},
			wantCode:    http.StatusBadRequest,
			wantBody:    `{"error":"malformed payload"}`,
			wantCounted: &hookv1.DeliveryCounters{Received: 1, Rejected: 1},
		},
		{
			name: "declared body over 25 MiB",
			request: func() *http.Request {
				r := newDelivery("push", pushExample)
				r.Body = io.NopCloser(&countingReader{remaining: MaxBodyBytes + 1})
				r.ContentLength = MaxBodyBytes + 1
				return r
			},
			wantCode:    http.StatusRequestEntityTooLarge,
			wantBody:    `{"error":"payload larger than 25 MiB"}`,
			wantCounted: &hookv1.DeliveryCounters{Received: 1, Rejected: 1},
		},
		{
			name: "unknown path",
			request: func() *http.Request {
				return httptest.NewRequest(http.MethodPost, "/api/v1/integrations/x", nil)
			},
			wantCode: http.StatusNotFound,
			wantBody: `{"error":"not found"}`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newHandlerServer(t, Options{})
			w := serve(s, tc.request())
			assertAnswer(t, w, tc.wantCode, tc.wantBody)
			for k, v := range tc.wantHeader {
				if got := w.Header().Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			drain(s)
			got := s.recorder.pendingCounters(testKey)
			want := hookv1.DeliveryCounters{}
			if tc.wantCounted != nil {
				want = *tc.wantCounted
			}
			if got != want {
				t.Errorf("counted %+v, want %+v", got, want)
			}
		})
	}
}

func assertAnswer(t *testing.T, w *httptest.ResponseRecorder, code int, body string) {
	t.Helper()
	if w.Code != code {
		t.Errorf("code = %d, want %d (body %s)", w.Code, code, w.Body.String())
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var got, want any
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatalf("body %q is not JSON: %v", w.Body.String(), err)
	}
	if err := json.Unmarshal([]byte(body), &want); err != nil {
		t.Fatal(err)
	}
	gotJSON, _ := json.Marshal(got)
	wantJSON, _ := json.Marshal(want)
	if !bytes.Equal(gotJSON, wantJSON) {
		t.Errorf("body = %s, want %s", gotJSON, wantJSON)
	}
}

// TestOversizedBodyReadsNoMoreThanTheCap sends a body of 25 MiB + 1 byte
// without a Content-Length: the receiver answers 413 having read at most the
// cap plus one byte of body, and closes the connection rather than drain
// the rest. What the server reads from the connection beyond the cap is the
// request's headers, the chunk framing and at most one read buffer
// (maxHeaderBytes) of what follows.
func TestOversizedBodyReadsNoMoreThanTheCap(t *testing.T) {
	s := newHandlerServer(t, Options{})
	body := &countingReader{remaining: MaxBodyBytes + 1 + 10<<20}
	r := newDelivery("push", "")
	r.Body = io.NopCloser(body)
	r.ContentLength = -1
	var read atomic.Int64
	w := serveCounting(s, r, &read)
	assertAnswer(t, w, http.StatusRequestEntityTooLarge, `{"error":"payload larger than 25 MiB"}`)
	const framing = 32 << 10 // headers, and under 10 bytes per chunk of the client's 32 KiB chunks
	if limit := int64(MaxBodyBytes + 1 + maxHeaderBytes + framing); read.Load() > limit {
		t.Errorf("the server read %d bytes, want at most %d", read.Load(), limit)
	}
	if read.Load() < MaxBodyBytes {
		t.Errorf("the server read %d bytes: the body was refused before reaching the cap", read.Load())
	}
}

// TestDeclaredOversizedBodyIsNotRead announces a body of 25 MiB + 1 byte in
// Content-Length: the receiver answers 413 without reading it.
func TestDeclaredOversizedBodyIsNotRead(t *testing.T) {
	s := newHandlerServer(t, Options{})
	r := newDelivery("push", "")
	r.Body = io.NopCloser(&countingReader{remaining: MaxBodyBytes + 1})
	r.ContentLength = MaxBodyBytes + 1
	var read atomic.Int64
	w := serveCounting(s, r, &read)
	assertAnswer(t, w, http.StatusRequestEntityTooLarge, `{"error":"payload larger than 25 MiB"}`)
	if limit := int64(maxHeaderBytes + 8<<10); read.Load() > limit {
		t.Errorf("the server read %d bytes of a body it refuses by its declared length, want at most %d", read.Load(), limit)
	}
}

// TestUnknownIntegrationBodyIsNotRead: a request for no known integration is
// answered 404 without reading its body.
func TestUnknownIntegrationBodyIsNotRead(t *testing.T) {
	s := newHandlerServer(t, Options{})
	r := deliveryTo(types.NamespacedName{Namespace: testNS, Name: "nobody"}, "push", "", testSecret)
	r.Body = io.NopCloser(&countingReader{remaining: 20 << 20})
	r.ContentLength = -1
	var read atomic.Int64
	w := serveCounting(s, r, &read)
	assertAnswer(t, w, http.StatusNotFound, `{"error":"integration not found"}`)
	if limit := int64(maxHeaderBytes + 1<<10); read.Load() > limit {
		t.Errorf("the server read %d bytes for an unknown integration, want at most %d", read.Load(), limit)
	}
}

// TestBodyAtTheCapIsRead checks that a delivery of exactly 25 MiB is not
// refused for its size.
func TestBodyAtTheCapIsRead(t *testing.T) {
	s := newHandlerServer(t, Options{})
	payload := `{"ref":"refs/heads/main","pad":"` + strings.Repeat("a", MaxBodyBytes-len(`{"ref":"refs/heads/main","pad":""}`)) + `"}`
	if len(payload) != MaxBodyBytes {
		t.Fatalf("payload is %d bytes", len(payload))
	}
	assertAnswer(t, serve(s, newDelivery("push", payload)), http.StatusOK, `{"processed":true}`)
}

// TestDuplicateIsAnsweredAndNotCountedTwice resends a delivery with the same
// GUID and body.
func TestDuplicateIsAnsweredAndNotCountedTwice(t *testing.T) {
	s := newHandlerServer(t, Options{})
	first := newDelivery("push", pushExample)
	again := newDelivery("push", pushExample)
	again.Header.Set(delivery.HeaderDelivery, first.Header.Get(delivery.HeaderDelivery))

	assertAnswer(t, serve(s, first), http.StatusOK, `{"processed":true}`)
	assertAnswer(t, serve(s, again), http.StatusOK, `{"processed":true,"duplicate":true}`)
	drain(s)
	want := hookv1.DeliveryCounters{Received: 2, Processed: 1, Duplicates: 1}
	if got := s.recorder.pendingCounters(testKey); got != want {
		t.Errorf("counted %+v, want %+v", got, want)
	}
}

// TestFullQueueAnswers503 fills the recording queue: the next delivery is
// answered 503 with Retry-After, and processed when GitHub redelivers it
// after the queue drained.
func TestFullQueueAnswers503(t *testing.T) {
	s := newHandlerServer(t, Options{QueueSize: 1})
	assertAnswer(t, serve(s, newDelivery("push", pushExample)), http.StatusOK, `{"processed":true}`)

	r := newDelivery("push", pushExample)
	guid := r.Header.Get(delivery.HeaderDelivery)
	w := serve(s, r)
	assertAnswer(t, w, http.StatusServiceUnavailable, `{"error":"too many deliveries waiting to be recorded: retry later"}`)
	if got := w.Header().Get("Retry-After"); got != queueFullRetryAfter {
		t.Errorf("Retry-After = %q, want %q", got, queueFullRetryAfter)
	}

	drain(s)
	redelivery := newDelivery("push", pushExample)
	redelivery.Header.Set(delivery.HeaderDelivery, guid)
	assertAnswer(t, serve(s, redelivery), http.StatusOK, `{"processed":true}`)
	drain(s)
	if got := s.recorder.pendingCounters(testKey).Processed; got != 2 {
		t.Errorf("processed = %d, want 2", got)
	}
}

// TestRejectionsNeverFillTheQueue: rejected requests, which anyone can
// send, are counted without taking a place in the recording queue, so a
// flood of them never gets a signed delivery answered 503.
func TestRejectionsNeverFillTheQueue(t *testing.T) {
	s := newHandlerServer(t, Options{QueueSize: 2})
	for range 10 {
		r := newDelivery("push", pushExample)
		r.Header.Set(delivery.HeaderSignature256, delivery.Signature([]byte("not-the-webhook-secret-0123456789"), []byte(pushExample)))
		assertAnswer(t, serve(s, r), http.StatusUnauthorized, `{"error":"invalid signature"}`)
	}
	assertAnswer(t, serve(s, newDelivery("push", pushExample)), http.StatusOK, `{"processed":true}`)
	drain(s)
	if got := s.recorder.pendingCounters(testKey); got.Rejected != 10 || got.Processed != 1 {
		t.Errorf("counted %d rejected and %d processed, want 10 and 1", got.Rejected, got.Processed)
	}
}

// TestSecretNotConfiguredAcceptsNothing: an integration whose webhook secret
// is missing or invalid refuses signed and unsigned deliveries alike.
func TestSecretNotConfiguredAcceptsNothing(t *testing.T) {
	s := newHandlerServer(t, Options{})
	s.store.setSecrets(testKey, &secretState{problem: "Secret \"github-experiments\" not found"})

	assertAnswer(t, serve(s, newDelivery("push", pushExample)), http.StatusServiceUnavailable,
		`{"error":"the webhook secret of this integration is not configured or not valid yet: the delivery was not accepted"}`)
	unsigned := newDelivery("push", pushExample)
	unsigned.Header.Del(delivery.HeaderSignature256)
	assertAnswer(t, serve(s, unsigned), http.StatusUnauthorized,
		`{"error":"missing X-Hub-Signature-256: set the webhook secret in GitHub"}`)
}

// TestPreviousSecretDuringGracePeriod: after a rotation the previous secret
// is accepted until it expires, then refused.
func TestPreviousSecretDuringGracePeriod(t *testing.T) {
	s := newHandlerServer(t, Options{})
	previous := "previous-secret-0123456789abcdef"
	s.store.setSecrets(testKey, &secretState{secrets: delivery.Secrets{
		Current: []byte(testSecret), Previous: []byte(previous), PreviousExpires: time.Now().Add(time.Hour)}})
	assertAnswer(t, serve(s, deliveryTo(testKey, "push", pushExample, previous)), http.StatusOK, `{"processed":true}`)

	s.store.setSecrets(testKey, &secretState{secrets: delivery.Secrets{
		Current: []byte(testSecret), Previous: []byte(previous), PreviousExpires: time.Now().Add(-time.Second)}})
	assertAnswer(t, serve(s, deliveryTo(testKey, "push", pushExample, previous)), http.StatusUnauthorized, `{"error":"invalid signature"}`)
}

// TestRejectedRequestsAreRateLimitedPerSource: a source that keeps sending
// bad signatures is answered 429 for what would be rejected, others are not
// affected, and a correctly signed delivery from that source is still
// accepted: whoever shares GitHub's address cannot get its deliveries
// refused.
func TestRejectedRequestsAreRateLimitedPerSource(t *testing.T) {
	s := newHandlerServer(t, Options{RejectedBurst: 3, RejectedRate: 0.01})
	bad := func(addr string) *http.Request {
		r := deliveryTo(testKey, "push", pushExample, "wrong-secret-0123456789")
		r.RemoteAddr = addr
		return r
	}
	for range 3 {
		assertAnswer(t, serve(s, bad("198.51.100.7:1234")), http.StatusUnauthorized, `{"error":"invalid signature"}`)
	}
	w := serve(s, bad("198.51.100.7:1234"))
	assertAnswer(t, w, http.StatusTooManyRequests, `{"error":"too many rejected requests from this address: retry later"}`)
	if w.Header().Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	// What the headers alone refuse is answered 429 at once.
	unsigned := newDelivery("push", pushExample)
	unsigned.RemoteAddr = "198.51.100.7:1234"
	unsigned.Header.Del(delivery.HeaderSignature256)
	assertAnswer(t, serve(s, unsigned), http.StatusTooManyRequests, `{"error":"too many rejected requests from this address: retry later"}`)
	nowhere := httptest.NewRequest(http.MethodPost, "/elsewhere", nil)
	nowhere.RemoteAddr = "198.51.100.7:1234"
	assertAnswer(t, serve(s, nowhere), http.StatusTooManyRequests, `{"error":"too many rejected requests from this address: retry later"}`)
	// A correctly signed delivery from that source is accepted.
	good := newDelivery("push", pushExample)
	good.RemoteAddr = "198.51.100.7:1234"
	assertAnswer(t, serve(s, good), http.StatusOK, `{"processed":true}`)

	other := newDelivery("push", pushExample)
	other.RemoteAddr = "198.51.100.8:1234"
	assertAnswer(t, serve(s, other), http.StatusOK, `{"processed":true}`)
}

// TestInflightCap answers 503 once MaxInflight deliveries are being read
// and verified.
func TestInflightCap(t *testing.T) {
	s := newHandlerServer(t, Options{MaxInflight: 1})
	other := sourceKey(netip.MustParseAddr("198.51.100.1"))
	s.inflight.take(other, 1, true, false) // one delivery in flight, from another source
	w := serve(s, newDelivery("push", pushExample))
	assertAnswer(t, w, http.StatusServiceUnavailable, `{"error":"too many deliveries in flight: retry later"}`)
	if got := w.Header().Get("Retry-After"); got != inflightRetryAfter {
		t.Errorf("Retry-After = %q, want %q", got, inflightRetryAfter)
	}
	s.inflight.give(other, 1)
	assertAnswer(t, serve(s, newDelivery("push", pushExample)), http.StatusOK, `{"processed":true}`)
}

// TestAllowedSourcesWithTrustedProxy: only allowed sources deliver; behind a
// trusted proxy the X-Forwarded-For address decides, behind another it does
// not.
func TestAllowedSourcesWithTrustedProxy(t *testing.T) {
	s := newHandlerServer(t, Options{AllowedSourceCIDRs: []string{"140.82.112.0/20"}, TrustedProxies: []string{"10.0.0.0/8"}})
	cases := []struct {
		name, remote, forwarded string
		want                    int
	}{
		{"allowed source", "140.82.115.1:5000", "", http.StatusOK},
		{"other source", "203.0.113.9:5000", "", http.StatusForbidden},
		{"allowed behind trusted proxy", "10.1.2.3:5000", "140.82.115.1", http.StatusOK},
		{"other behind trusted proxy", "10.1.2.3:5000", "203.0.113.9", http.StatusForbidden},
		{"spoofed first hop behind trusted proxy", "10.1.2.3:5000", "140.82.115.1, 203.0.113.9", http.StatusForbidden},
		{"forwarded header from untrusted peer", "203.0.113.9:5000", "140.82.115.1", http.StatusForbidden},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newDelivery("push", pushExample)
			r.RemoteAddr = tc.remote
			if tc.forwarded != "" {
				r.Header.Set("X-Forwarded-For", tc.forwarded)
			}
			w := serve(s, r)
			if w.Code != tc.want {
				t.Errorf("code = %d, want %d (%s)", w.Code, tc.want, w.Body.String())
			}
			if tc.want == http.StatusForbidden {
				assertAnswer(t, w, http.StatusForbidden, `{"error":"source address not allowed"}`)
			}
		})
	}
}

// TestStatusRecordsPullRequestsAndIssues checks what a user sees in status
// after pull request and issue deliveries.
func TestStatusRecordsPullRequestsAndIssues(t *testing.T) {
	s := newHandlerServer(t, Options{})
	pr := func(state string, merged bool, body string) string {
		b, _ := json.Marshal(body)
		return `{"action":"edited","number":42,"pull_request":{"number":42,"title":"Checkout flow v2","html_url":"https://github.com/acme/api/pull/42","state":"` +
			state + `","merged":` + map[bool]string{true: "true", false: "false"}[merged] + `,"body":` + string(b) + `},"repository":{"full_name":"acme/api"}}`
	}
	for _, d := range []string{
		pr("open", false, "Adds the flow.\r\n\r\nExperiment_Key:   checkout-flow-v2  \r\nmore text"),
		pr("closed", true, "Adds the flow.\nexperiment_key: checkout-flow-v2"),
	} {
		assertAnswer(t, serve(s, newDelivery("pull_request", d)), http.StatusOK, `{"processed":true}`)
	}
	assertAnswer(t, serve(s, newDelivery("issues", issueExample)), http.StatusOK, `{"processed":true}`)
	unlabeled := strings.Replace(strings.Replace(issueExample, `"labels":[{"name":"experiment"}]`, `"labels":[{"name":"bug"}]`, 1), `"number":101`, `"number":102`, 1)
	assertAnswer(t, serve(s, newDelivery("issues", unlabeled)), http.StatusOK, `{"processed":true}`)
	drain(s)

	st := hookv1.GitHubIntegrationStatus{}
	s.recorder.take()[testKey].applyTo(&st)
	if len(st.PullRequests) != 1 {
		t.Fatalf("pullRequests = %+v, want one", st.PullRequests)
	}
	got := st.PullRequests[0]
	if got.Repository != "acme/api" || got.Number != 42 || got.State != "merged" || got.LinkKey != "checkout-flow-v2" ||
		got.Title != "Checkout flow v2" || got.URL != "https://github.com/acme/api/pull/42" {
		t.Errorf("pull request = %+v", got)
	}
	if len(st.Issues) != 1 || st.Issues[0].Number != 101 || st.Issues[0].State != "open" {
		t.Errorf("issues = %+v, want only #101 (carrying the label)", st.Issues)
	}
	if st.Deliveries.Processed != 4 || st.LastDelivery == nil || st.LastDelivery.Event != "issues" {
		t.Errorf("deliveries = %+v, last = %+v", st.Deliveries, st.LastDelivery)
	}
}

// TestDeliveryLine checks the one line logged per delivery, written through
// zap directly when the logger is zap's and through logr otherwise: the same
// fields either way, and requests for no known integration only at V(1).
func TestDeliveryLine(t *testing.T) {
	var zapOut bytes.Buffer
	zapLog, flush := logging.New(crzap.Options{DestWriter: &zapOut})
	var logrLines []map[string]any
	logrLog := funcr.NewJSON(func(obj string) {
		var line map[string]any
		if err := json.Unmarshal([]byte(obj), &line); err != nil {
			t.Errorf("funcr line %q: %v", obj, err)
		}
		logrLines = append(logrLines, line)
	}, funcr.Options{})

	for _, log := range []logr.Logger{zapLog.WithName("receiver"), logrLog} {
		s, err := newServer(Options{}, serverDeps{log: log})
		if err != nil {
			t.Fatal(err)
		}
		s.store.upsert(newIntegration(testIntegration()))
		s.store.setSecrets(testKey, &secretState{secrets: delivery.Secrets{Current: []byte(testSecret)}})
		r := newDelivery("push", pushExample)
		assertAnswer(t, serve(s, r), http.StatusOK, `{"processed":true}`)
		unknown := newDelivery("push", pushExample)
		unknown.URL.Path = "/elsewhere"
		assertAnswer(t, serve(s, unknown), http.StatusNotFound, `{"error":"not found"}`)
	}
	flush()

	var zapLines []map[string]any
	for _, raw := range strings.Split(strings.TrimSpace(zapOut.String()), "\n") {
		var line map[string]any
		if err := json.Unmarshal([]byte(raw), &line); err != nil {
			t.Fatalf("zap line %q: %v", raw, err)
		}
		zapLines = append(zapLines, line)
	}
	for name, lines := range map[string][]map[string]any{"zap": zapLines, "logr": logrLines} {
		if len(lines) != 1 {
			t.Errorf("%s: %d lines, want one (the unknown path only at V(1)): %v", name, len(lines), lines)
			continue
		}
		line := lines[0]
		if line["msg"] != "Delivery answered" || line["event"] != "push" || line["integration"] != testKey.String() ||
			line["result"] != resultProcessed || line["code"] != float64(http.StatusOK) || line["delivery"] == "" {
			t.Errorf("%s: line = %v", name, line)
		}
		// zap's production encoder writes seconds, funcr a Go duration.
		switch d := line["duration"].(type) {
		case float64:
			if d <= 0 {
				t.Errorf("%s: duration = %v s", name, d)
			}
		case string:
			if parsed, err := time.ParseDuration(d); err != nil || parsed <= 0 {
				t.Errorf("%s: duration = %q", name, d)
			}
		default:
			t.Errorf("%s: duration = %v", name, line["duration"])
		}
	}
	if zapLines[0]["logger"] != "receiver" {
		t.Errorf("zap line names logger %v, want receiver", zapLines[0]["logger"])
	}
}

// TestPanicIsAnswered500: a bug that panics while handling a delivery is
// answered 500 and logged; the server goes on serving.
func TestPanicIsAnswered500(t *testing.T) {
	var logged strings.Builder
	log := funcr.New(func(prefix, args string) { fmt.Fprintln(&logged, prefix, args) }, funcr.Options{})
	s, err := newServer(Options{}, serverDeps{log: log})
	if err != nil {
		t.Fatal(err)
	}
	s.store.upsert(newIntegration(testIntegration()))
	s.store.setSecrets(testKey, &secretState{secrets: delivery.Secrets{Current: []byte(testSecret)}})
	dedupe := s.dedupe
	s.dedupe = nil // a nil cache panics on use

	assertAnswer(t, serve(s, newDelivery("push", pushExample)), http.StatusInternalServerError,
		`{"error":"internal error: the delivery was not processed"}`)
	if !strings.Contains(logged.String(), "Receiver failed to answer a request") {
		t.Errorf("panic not logged: %s", logged.String())
	}
	if n := s.inflight.inUse(); n != 0 {
		t.Errorf("%d in-flight slots still taken after the panic", n)
	}
	if n := s.bodies.inUse(); n != 0 {
		t.Errorf("%d bytes of the body budget still taken after the panic", n)
	}
	s.dedupe = dedupe
	assertAnswer(t, serve(s, newDelivery("push", pushExample)), http.StatusOK, `{"processed":true}`)
}

// TestMalformedRequests: what the HTTP server cannot read is answered with a
// JSON error that echoes nothing of the request.
func TestMalformedRequests(t *testing.T) {
	s := newHandlerServer(t, Options{})
	path := hookv1.ReceiverPath(testNS, testName)
	cases := []struct {
		name, raw string
		code      int
		body      string
	}{
		{"not HTTP", "HELLO THERE secret-token\r\n\r\n", http.StatusBadRequest, `{"error":"malformed HTTP request"}`},
		{"headers over 16 KiB", "POST " + path + " HTTP/1.1\r\nHost: receiver.test\r\nX-Padding: " +
			strings.Repeat("a", maxHeaderBytes) + "\r\n\r\n", http.StatusRequestHeaderFieldsTooLarge, `{"error":"request headers too large"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := exchange(t, dialInMemory(t, s), tc.raw)
			if resp.StatusCode != tc.code || body != tc.body ||
				resp.Header.Get("Content-Type") != "application/json" {
				t.Errorf("answer %d %q (%s), want %d %s", resp.StatusCode, body, resp.Header.Get("Content-Type"), tc.code, tc.body)
			}
		})
	}
}

// TestSlowHeadersAreAnswered408: a client that does not finish its headers
// within readHeaderTimeout gets a JSON 408, not a connection held open.
func TestSlowHeadersAreAnswered408(t *testing.T) {
	t.Parallel()
	s := newHandlerServer(t, Options{})
	conn := dialInMemory(t, s)
	start := time.Now()
	if _, err := io.WriteString(conn, "POST "+hookv1.ReceiverPath(testNS, testName)+" HTTP/1.1\r\nHost: receiver.test\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, body := readResponse(t, conn, readHeaderTimeout+10*time.Second)
	if resp.StatusCode != http.StatusRequestTimeout || body != `{"error":"request not received in time"}` {
		t.Errorf("answer %d %s, want 408", resp.StatusCode, body)
	}
	if waited := time.Since(start); waited < readHeaderTimeout-time.Second || waited > readHeaderTimeout+5*time.Second {
		t.Errorf("answered after %s, want about %s", waited, readHeaderTimeout)
	}
}

// TestHeaderNamesInAnyCase: header names are case-insensitive, and proxies
// and HTTP/2 gateways send them in lower case. A delivery whose header
// names are all lower (or all upper) case is checked, answered and
// recorded as any other: its signature, event, GUID, hook ID and target.
func TestHeaderNamesInAnyCase(t *testing.T) {
	for _, rename := range []func(string) string{strings.ToLower, strings.ToUpper} {
		s := newHandlerServer(t, Options{})
		r := newDelivery("ping", `{"zen":"Keep it logically awesome.","hook_id":109948940}`)
		r.Header.Set(delivery.HeaderTargetType, "integration")
		guid := r.Header.Get(delivery.HeaderDelivery)
		renamed := http.Header{}
		for name, values := range r.Header {
			renamed[rename(name)] = values
		}
		r.Header = renamed
		assertAnswer(t, serve(s, r), http.StatusOK, `{"event":"ping","hook_id":424242,"processed":true}`)
		drain(s)
		s.recorder.mu.Lock()
		last := s.recorder.pending[testKey].lastDelivery
		s.recorder.mu.Unlock()
		if last == nil || last.ID != guid || last.Event != "ping" || last.Target != delivery.AppTarget {
			t.Errorf("%s header names: recorded %+v, want delivery %s of event ping from %s",
				rename("Name"), last, guid, delivery.AppTarget)
		}
	}
}
