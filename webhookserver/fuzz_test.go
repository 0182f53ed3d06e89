package webhookserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/hookwarden/hookwarden/internal/testfixtures"
)

// FuzzValidateDelivery runs the validate-and-parse path on arbitrary bodies
// and headers, seeded with GitHub's example payloads. Whatever the input, it
// must answer with one of the codes of SPEC §4 and never accept a body its
// signature does not cover.
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
	f.Add("push", true, []byte(pushExample), true, byte(3))
	f.Add("push", false, []byte(`{"ref":`), true, byte(0))
	f.Add("", false, []byte(`{}`), false, byte(0))
	f.Add("invented_event", false, []byte(pushExample), true, byte(0))
	f.Add("star", false, []byte(`{"action":"created"}`), true, byte(0))
	f.Add("projects_v2_item", false, []byte(`{"action":"edited"}`), true, byte(0))
	f.Add("push", false, nested(maxJSONDepth+1, "empty arrays", "skipped member"), true, byte(0))
	for _, c := range decodeCases {
		f.Add("issues", false, []byte(c), true, byte(1))
	}

	secrets := WebhookSecrets{Current: []byte(testSecret)}
	in := newIntegration(testIntegration())
	allowed := map[int]bool{http.StatusBadRequest: true, http.StatusUnauthorized: true, http.StatusUnsupportedMediaType: true}

	f.Fuzz(func(t *testing.T, event string, form bool, payload []byte, signed bool, flip byte) {
		// The one-pass scanner accepts exactly the JSON objects encoding/json accepts.
		_, scanErr := extractObject(payload)
		trimmed := bytes.TrimLeft(payload, " \t\r\n")
		wantOK := json.Valid(payload) && len(trimmed) > 0 && trimmed[0] == '{'
		if (scanErr == nil) != wantOK {
			t.Fatalf("extractObject error = %v, encoding/json accepts it as an object: %v", scanErr, wantOK)
		}
		// The one-pass decoder accepts the same objects, or leaves them to
		// encoding/json, and decodes what encoding/json decodes.
		if _, err := decodePayload(payload); !errors.Is(err, errGeneralPath) && (err == nil) != wantOK {
			t.Fatalf("decodePayload error = %v, encoding/json accepts it as an object: %v", err, wantOK)
		}
		if wantOK {
			checkDecodeMatches(t, payload)
		}

		body := payload
		h := http.Header{}
		h.Set("Content-Type", "application/json")
		if form {
			body = []byte(url.Values{"payload": {string(payload)}}.Encode())
			h.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		h.Set(HeaderEvent, event)
		h.Set(HeaderDelivery, "72d3162e-cc78-11e3-81ab-4c9367dc0958")
		if signed {
			h.Set(HeaderSignature256, Signature(secrets.Current, body))
		}
		now := time.Now()
		d, rej := ValidateDelivery(h, body, secrets, now)
		if rej != nil {
			if !allowed[rej.Code] || rej.Reason == "" {
				t.Fatalf("answered %d %q", rej.Code, rej.Reason)
			}
			return
		}
		if !signed {
			t.Fatal("accepted an unsigned delivery")
		}
		if d.Event != event || !isEventName(d.Event) {
			t.Fatalf("event %q accepted as %q", event, d.Event)
		}
		rec, a := classify(in, d, now)
		if a.code != http.StatusOK && a.code != http.StatusAccepted {
			t.Fatalf("valid delivery answered %d", a.code)
		}
		// Only GitHub's names, subscribed or ping, are recorded.
		if rec.event != "" && (!isGitHubEvent(rec.event) || rec.event != pingEvent && !in.subscribed(rec.event)) {
			t.Fatalf("event %q recorded under its name", rec.event)
		}
		newStatusDelta().add(rec)

		// The same signature over a body with one byte changed is refused.
		if len(body) > 0 {
			tampered := append([]byte(nil), body...)
			tampered[int(flip)%len(tampered)] ^= 0x01
			if _, rej := ValidateDelivery(h, tampered, secrets, now); rej == nil || rej.Code != http.StatusUnauthorized {
				t.Fatalf("tampered body answered %+v, want 401", rej)
			}
		}
	})
}
