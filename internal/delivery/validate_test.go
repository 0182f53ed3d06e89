package delivery

import (
	"net/http"
	"testing"
	"time"
	"unsafe"
)

const testSecret = "s3cr3t-webhook-value-0123456789"

func deliveryHeader(event, body string, secret []byte) http.Header {
	h := http.Header{}
	h.Set("Content-Type", ContentTypeJSON)
	h.Set(HeaderEvent, event)
	h.Set(HeaderDelivery, "72d3162e-cc78-11e3-81ab-4c9367dc0958")
	if secret != nil {
		h.Set(HeaderSignature256, Signature(secret, []byte(body)))
	}
	return h
}

// TestGitHubPublishedVector checks the example of GitHub's "Validating
// webhook deliveries".
func TestGitHubPublishedVector(t *testing.T) {
	const (
		secret    = "It's a Secret to Everybody"
		payload   = "Hello, World!"
		signature = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
	)
	if got := Signature([]byte(secret), []byte(payload)); got != signature {
		t.Errorf("Signature() = %s, want %s", got, signature)
	}
	if _, rej := Verify(signature, []byte(payload), Secrets{Current: []byte(secret)}, time.Now()); rej != nil {
		t.Errorf("GitHub's vector refused: %d %s", rej.Code, rej.Reason)
	}
	if _, rej := Verify(signature, []byte(payload+" "), Secrets{Current: []byte(secret)}, time.Now()); rej == nil {
		t.Error("vector signature accepted for another payload")
	}
}

// TestVerifyWithEachSecret: the current, the applied and the unexpired
// previous secret verify; an expired previous one does not; with no
// usable secret at all the answer is 503, not 401.
func TestVerifyWithEachSecret(t *testing.T) {
	now := time.Now()
	body := []byte(`{"zen":"x"}`)
	current, applied, previous := []byte("current-secret-0123456789"), []byte("applied-secret-0123456789"), []byte("previous-secret-0123456789")
	cases := []struct {
		name     string
		secrets  Secrets
		signWith []byte
		code     int
		previous bool
	}{
		{"current", Secrets{Current: current, Applied: applied}, current, 0, false},
		{"applied", Secrets{Current: current, Applied: applied}, applied, 0, false},
		{"applied while the user's secret is unusable", Secrets{Applied: applied}, applied, 0, false},
		{"previous in its grace period", Secrets{Current: current, Previous: previous, PreviousExpires: now.Add(time.Minute)}, previous, 0, true},
		{"previous alone in its grace period", Secrets{Previous: previous, PreviousExpires: now.Add(time.Minute)}, previous, 0, true},
		{"previous expired", Secrets{Current: current, Previous: previous, PreviousExpires: now.Add(-time.Second)}, previous, http.StatusUnauthorized, false},
		{"another secret", Secrets{Current: current, Applied: applied}, []byte("attacker-guess-0123456789"), http.StatusUnauthorized, false},
		{"no usable secret", Secrets{Previous: previous, PreviousExpires: now.Add(-time.Second)}, previous, http.StatusServiceUnavailable, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			prev, rej := Verify(Signature(tc.signWith, body), body, tc.secrets, now)
			code := 0
			if rej != nil {
				code = rej.Code
			}
			if code != tc.code || prev != tc.previous {
				t.Errorf("Verify = (previous %v, %v), want previous %v and code %d", prev, rej, tc.previous, tc.code)
			}
		})
	}
}

// TestValidateOrder checks the order of the checks on a delivery that is
// wrong in several ways: the first failing check answers.
func TestValidateOrder(t *testing.T) {
	secrets := Secrets{Current: []byte(testSecret)}
	h := http.Header{}
	h.Set("Content-Type", "text/plain")
	if _, rej := Validate(h, []byte("not json"), secrets, time.Now()); rej == nil || rej.Code != http.StatusUnsupportedMediaType {
		t.Errorf("got %+v, want 415 first", rej)
	}
	h.Set("Content-Type", "application/json; charset=utf-8")
	if _, rej := Validate(h, []byte("not json"), secrets, time.Now()); rej == nil || rej.Code != http.StatusBadRequest || rej.Reason != "missing X-GitHub-Event header" {
		t.Errorf("got %+v, want 400 for the missing event", rej)
	}
	h.Set(HeaderEvent, "push")
	h.Set(HeaderDelivery, "abc")
	if _, rej := Validate(h, []byte("not json"), secrets, time.Now()); rej == nil || rej.Code != http.StatusUnauthorized {
		t.Errorf("got %+v, want 401 for the missing signature before the malformed payload", rej)
	}
	if rej := CheckHeaders(h); rej == nil || rej.Reason != ReasonMissingSignature {
		t.Errorf("CheckHeaders = %+v, want 401 for the missing signature", rej)
	}
	h.Set(HeaderSignature256, Signature(secrets.Current, []byte("not json")))
	if rej := CheckHeaders(h); rej != nil {
		t.Errorf("CheckHeaders refused a delivery whose headers are right: %v", rej)
	}
	if _, rej := Validate(h, []byte("not json"), secrets, time.Now()); rej == nil || rej.Reason != ReasonMalformedPayload {
		t.Errorf("got %+v, want 400 malformed payload", rej)
	}
	h.Set(HeaderEvent, "Push\nInjected: yes")
	if _, rej := Validate(h, []byte("{}"), secrets, time.Now()); rej == nil || rej.Code != http.StatusBadRequest {
		t.Errorf("got %+v, want 400 for an event name GitHub never sends", rej)
	}
}

// TestFormBodiesCarryThePayloadField: form-encoded deliveries are signed
// over the raw form body and carry the JSON in "payload".
func TestFormBodiesCarryThePayloadField(t *testing.T) {
	secrets := Secrets{Current: []byte(testSecret)}
	body := "payload=" + `%7B%22ref%22%3A%22refs%2Fheads%2Fmain%22%7D`
	h := deliveryHeader("push", body, secrets.Current)
	h.Set("Content-Type", ContentTypeForm)
	d, rej := Validate(h, []byte(body), secrets, time.Now())
	if rej != nil {
		t.Fatal(rej)
	}
	if out := Classify(d, Settings{Subscribed: true}); out.Ref != "refs/heads/main" {
		t.Errorf("ref = %q, want refs/heads/main", out.Ref)
	}
	h = deliveryHeader("push", "other=1", secrets.Current)
	h.Set("Content-Type", ContentTypeForm)
	if _, rej := Validate(h, []byte("other=1"), secrets, time.Now()); rej == nil || rej.Reason != ReasonMalformedPayload {
		t.Errorf("a form without payload: got %+v, want malformed payload", rej)
	}
}

func TestTargetOfDelivery(t *testing.T) {
	secrets := Secrets{Current: []byte(testSecret)}
	cases := []struct {
		name, targetType, body, want string
	}{
		{"repository", "repository", `{"repository":{"full_name":"acme/api"},"organization":{"login":"acme"}}`, "acme/api"},
		{"organization", "organization", `{"organization":{"login":"acme"}}`, "acme"},
		{"app", "integration", `{"repository":{"full_name":"acme/api"}}`, "app"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := deliveryHeader("push", tc.body, secrets.Current)
			h.Set(HeaderTargetType, tc.targetType)
			d, rej := Validate(h, []byte(tc.body), secrets, time.Now())
			if rej != nil {
				t.Fatal(rej)
			}
			if d.Target != tc.want {
				t.Errorf("target = %q, want %q", d.Target, tc.want)
			}
		})
	}
}

func TestLinkKey(t *testing.T) {
	cases := []struct{ body, key, want string }{
		{"experiment_key: checkout-flow-v2", "experiment_key", "checkout-flow-v2"},
		{"Intro\r\nEXPERIMENT_KEY:  checkout-flow-v2 \r\nOutro", "experiment_key", "checkout-flow-v2"},
		{"experiment_key: a: b", "experiment_key", "a: b"},
		{"experiment_key:\nexperiment_key: second", "experiment_key", "second"},
		{"my_experiment_key: x", "experiment_key", ""},
		{"no key here", "experiment_key", ""},
		{"", "experiment_key", ""},
	}
	for _, tc := range cases {
		if got := LinkKey(tc.body, tc.key); got != tc.want {
			t.Errorf("LinkKey(%q) = %q, want %q", tc.body, got, tc.want)
		}
	}
}

// What Validate keeps of the headers are copies: a caller may hand it
// strings that are valid only during the call (the receiver's, which point
// into the request's buffer that the next request on the connection
// overwrites).
func TestValidateCopiesHeaderValues(t *testing.T) {
	for _, event := range []string{"push", "not_an_event_of_github"} {
		body := `{"ref":"refs/heads/main","after":"0123"}`
		header := borrowedHeader{values: map[string][]byte{}}
		for key, values := range deliveryHeader(event, body, []byte(testSecret)) {
			header.values[http.CanonicalHeaderKey(key)] = []byte(values[0])
		}
		d, rej := Validate(header, []byte(body), Secrets{Current: []byte(testSecret)}, time.Now())
		if rej != nil {
			t.Fatalf("%s: rejected: %d %s", event, rej.Code, rej.Reason)
		}
		for _, v := range header.values {
			for i := range v {
				v[i] = 'x'
			}
		}
		if d.Event != event || d.ID != "72d3162e-cc78-11e3-81ab-4c9367dc0958" {
			t.Errorf("%s: after the header's bytes changed, the delivery holds event %q, ID %q", event, d.Event, d.ID)
		}
	}
}

// borrowedHeader returns strings that share the bytes of its values.
type borrowedHeader struct{ values map[string][]byte }

func (h borrowedHeader) Get(key string) string {
	v := h.values[http.CanonicalHeaderKey(key)]
	return unsafe.String(unsafe.SliceData(v), len(v))
}
