package delivery

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"testing"
	"time"

	"github.com/hookwarden/hookwarden/internal/testfixtures"
)

// FuzzValidateDelivery runs validation and classification on arbitrary
// bodies and headers, seeded with GitHub's example payloads. Whatever the
// input, it must answer with one of the codes of docs/receiver.md, decode what
// encoding/json decodes, never accept a body its signature does not cover,
// and never count a delivery under a name that is not one of GitHub's.
func FuzzValidateDelivery(f *testing.F) {
	for _, event := range []string{"ping", "push", "pull_request", "issues"} {
		examples, err := testfixtures.Examples(event)
		if err != nil {
			f.Fatal(err)
		}
		for _, ex := range examples {
			f.Add(ex.Event, false, ex.Raw, true, byte(0))
		}
	}
	push := []byte(`{"ref":"refs/heads/main","after":"6113728f27ae82c7b1a177c8d03f9e96e0adf246","repository":{"full_name":"acme/api"}}`)
	f.Add("push", true, push, true, byte(3))
	f.Add("push", false, []byte(`{"ref":`), true, byte(0))
	f.Add("", false, []byte(`{}`), false, byte(0))
	f.Add("invented_event", false, push, true, byte(0))
	f.Add("star", false, []byte(`{"action":"created"}`), true, byte(0))
	f.Add("projects_v2_item", false, []byte(`{"action":"edited"}`), true, byte(0))
	f.Add("push", false, nested(maxJSONDepth+1, "empty arrays", "skipped member"), true, byte(0))
	for _, c := range decodeCases {
		f.Add("issues", false, []byte(c), true, byte(1))
	}

	secrets := Secrets{Current: []byte(testSecret)}
	allowed := map[int]bool{http.StatusBadRequest: true, http.StatusUnauthorized: true, http.StatusUnsupportedMediaType: true}
	types := fieldsTypes()

	f.Fuzz(func(t *testing.T, event string, form bool, payload []byte, signed bool, flip byte) {
		// The decoder of every entry accepts exactly the JSON objects
		// encoding/json accepts, and decodes what it decodes.
		for name, newFields := range types {
			checkDecodeMatches(t, name, newFields, payload)
		}
		trimmed := bytes.TrimLeft(payload, " \t\r\n")
		if err := decodeInto(payload, envelopeSchema, new(Envelope)); (err == nil) != (json.Valid(payload) && len(trimmed) > 0 && trimmed[0] == '{') {
			t.Fatalf("decode error = %v for %q", err, payload)
		}

		body := payload
		h := http.Header{}
		h.Set("Content-Type", ContentTypeJSON)
		if form {
			body = []byte(url.Values{"payload": {string(payload)}}.Encode())
			h.Set("Content-Type", ContentTypeForm)
		}
		h.Set(HeaderEvent, event)
		h.Set(HeaderDelivery, "72d3162e-cc78-11e3-81ab-4c9367dc0958")
		if signed {
			h.Set(HeaderSignature256, Signature(secrets.Current, body))
		}
		now := time.Now()
		d, rej := Validate(h, body, secrets, now)
		if rej != nil {
			if !allowed[rej.Code] || rej.Reason == "" {
				t.Fatalf("answered %d %q", rej.Code, rej.Reason)
			}
			return
		}
		if !signed {
			t.Fatal("accepted an unsigned delivery")
		}
		if d.Event != event || !IsEventName(d.Event) {
			t.Fatalf("event %q accepted as %q", event, d.Event)
		}
		for _, subscribed := range []bool{false, true} {
			out := Classify(d, Settings{Subscribed: subscribed, PullRequestKey: "experiment_key", IssueLabel: "experiment"})
			// Only GitHub's names, subscribed or ping, are counted by name.
			if out.Event != "" && (!Known(out.Event) || out.Event != "ping" && !subscribed) {
				t.Fatalf("event %q counted under its name (subscribed: %v)", out.Event, subscribed)
			}
			if !out.Processed && out.Reason == "" {
				t.Fatalf("ignored without a reason: %+v", out)
			}
			if out.Processed && !reflect.DeepEqual(out, Classify(d, Settings{Subscribed: subscribed, PullRequestKey: "experiment_key", IssueLabel: "experiment"})) {
				t.Fatal("classification is not deterministic")
			}
		}

		// The same signature over a body with one byte changed is refused.
		if len(body) > 0 {
			tampered := append([]byte(nil), body...)
			tampered[int(flip)%len(tampered)] ^= 0x01
			if _, rej := Validate(h, tampered, secrets, now); rej == nil || rej.Code != http.StatusUnauthorized {
				t.Fatalf("tampered body answered %+v, want 401", rej)
			}
		}
	})
}
