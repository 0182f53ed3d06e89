package webhookserver

import (
	"net/http"
	"testing"
	"time"
)

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
	if _, rej := verifySignature(signature, []byte(payload), WebhookSecrets{Current: []byte(secret)}, time.Now()); rej != nil {
		t.Errorf("GitHub's vector refused: %d %s", rej.Code, rej.Reason)
	}
	if _, rej := verifySignature(signature, []byte(payload+" "), WebhookSecrets{Current: []byte(secret)}, time.Now()); rej == nil {
		t.Error("vector signature accepted for another payload")
	}
}

// TestValidateDeliveryIsPure checks the order of the checks on a delivery
// that is wrong in several ways: the first failing check answers.
func TestValidateDeliveryOrder(t *testing.T) {
	secrets := WebhookSecrets{Current: []byte(testSecret)}
	h := http.Header{}
	h.Set("Content-Type", "text/plain")
	if _, rej := ValidateDelivery(h, []byte("not json"), secrets, time.Now()); rej == nil || rej.Code != http.StatusUnsupportedMediaType {
		t.Errorf("got %+v, want 415 first", rej)
	}
	h.Set("Content-Type", "application/json; charset=utf-8")
	if _, rej := ValidateDelivery(h, []byte("not json"), secrets, time.Now()); rej == nil || rej.Code != http.StatusBadRequest || rej.Reason != "missing X-GitHub-Event header" {
		t.Errorf("got %+v, want 400 for the missing event", rej)
	}
	h.Set(HeaderEvent, "push")
	h.Set(HeaderDelivery, "abc")
	if _, rej := ValidateDelivery(h, []byte("not json"), secrets, time.Now()); rej == nil || rej.Code != http.StatusUnauthorized {
		t.Errorf("got %+v, want 401 for the missing signature before the malformed payload", rej)
	}
	h.Set(HeaderSignature256, Signature(secrets.Current, []byte("not json")))
	if _, rej := ValidateDelivery(h, []byte("not json"), secrets, time.Now()); rej == nil || rej.Reason != "malformed payload" {
		t.Errorf("got %+v, want 400 malformed payload", rej)
	}
	h.Set(HeaderEvent, "Push\nInjected: yes")
	if _, rej := ValidateDelivery(h, []byte("{}"), secrets, time.Now()); rej == nil || rej.Code != http.StatusBadRequest {
		t.Errorf("got %+v, want 400 for an event name GitHub never sends", rej)
	}
}

func TestTargetOfDelivery(t *testing.T) {
	secrets := WebhookSecrets{Current: []byte(testSecret)}
	cases := []struct {
		name, targetType, body, want string
	}{
		{"repository", "repository", `{"repository":{"full_name":"acme/api"},"organization":{"login":"acme"}}`, "acme/api"},
		{"organization", "organization", `{"organization":{"login":"acme"}}`, "acme"},
		{"app", "integration", `{"repository":{"full_name":"acme/api"}}`, "app"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := delivery("push", tc.body)
			r.Header.Set(HeaderTargetType, tc.targetType)
			d, rej := ValidateDelivery(r.Header, []byte(tc.body), secrets, time.Now())
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
