package webhookserver

import (
	"net/http"
	"testing"

	"github.com/hookwarden/hookwarden/internal/delivery"
)

// A delivery from an organization hook of GitHub Enterprise Server carries
// X-GitHub-Enterprise-Host and -Version and the organization as its hook's
// target: it is processed like github.com's and recorded with the
// repository the event happened in.
func TestEnterpriseOrganizationHookDelivery(t *testing.T) {
	s := newHandlerServer(t, Options{})
	body := `{"ref":"refs/heads/main","after":"6113728f27ae82c7b1a177c8d03f9e96e0adf246","repository":{"full_name":"acme/api"},"organization":{"login":"acme"}}`
	req := newDelivery("push", body)
	req.Header.Set("X-GitHub-Enterprise-Host", "github.acme.internal")
	req.Header.Set("X-GitHub-Enterprise-Version", "3.14.0")
	req.Header.Set(delivery.HeaderTargetType, "organization")

	assertAnswer(t, serve(s, req), http.StatusOK, `{"processed":true}`)
	drain(s)
	s.recorder.mu.Lock()
	defer s.recorder.mu.Unlock()
	d := s.recorder.pending[testKey]
	if d == nil || d.lastDelivery == nil {
		t.Fatal("nothing recorded")
	}
	if got := d.lastDelivery.Target; got != "acme/api" {
		t.Errorf("lastDelivery.target = %q, want the repository acme/api", got)
	}
	if d.counters.Processed != 1 {
		t.Errorf("counted %+v", d.counters)
	}
}
