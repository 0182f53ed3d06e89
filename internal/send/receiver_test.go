package send

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/hookwarden/hookwarden/internal/delivery"
)

// TestDeliveriesPassTheReceiversValidation runs what send builds through
// hookwarden's own receiver validation: accepted with the integration's
// secret (JSON and form), refused with 401 "invalid signature" otherwise.
func TestDeliveriesPassTheReceiversValidation(t *testing.T) {
	secrets := delivery.Secrets{Current: []byte(secret)}
	payload := []byte(`{"ref":"refs/heads/main","after":"0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c","repository":{"full_name":"acme/api"}}`)

	request := func(t *testing.T, d *Delivery) (http.Header, []byte) {
		t.Helper()
		req, err := d.NewRequest(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(req.Body)
		if err != nil {
			t.Fatal(err)
		}
		return req.Header, body
	}

	for _, contentType := range []string{ContentTypeJSON, ContentTypeForm} {
		t.Run(contentType, func(t *testing.T) {
			d := &Delivery{Secret: secret, Event: "push", Payload: payload, ContentType: contentType, HookID: 42, URL: "http://127.0.0.1/"}
			header, body := request(t, d)
			got, rej := delivery.Validate(header, body, secrets, time.Now())
			if rej != nil {
				t.Fatalf("receiver refused the delivery: %d %s", rej.Code, rej.Reason)
			}
			if got.Event != "push" || got.ID != d.ID || got.HookID != 42 || got.Target != "acme/api" {
				t.Errorf("receiver read event %q, delivery %q, hook %d, target %q; want push, %q, 42, acme/api", got.Event, got.ID, got.HookID, got.Target, d.ID)
			}
		})
	}

	t.Run("wrong secret", func(t *testing.T) {
		header, body := request(t, &Delivery{Secret: wrongSecret, Event: "push", Payload: payload, URL: "http://127.0.0.1/"})
		_, rej := delivery.Validate(header, body, secrets, time.Now())
		if rej == nil || rej.Code != http.StatusUnauthorized || rej.Reason != "invalid signature" {
			t.Errorf("rejection = %+v, want 401 invalid signature", rej)
		}
	})
}
