package harness

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookwarden/hookwarden/internal/githubsim"
)

func TestLedgerProblems(t *testing.T) {
	clean := Ledger{Sent: 10, OK: 8, Errors: 2, Delivered: 10, Counted: 10, HooksDeclared: 2, HooksOnGitHub: 2}
	if p := clean.Problems(); len(p) != 0 {
		t.Fatalf("a clean ledger has problems: %v", p)
	}
	for _, tc := range []struct {
		name   string
		change func(*Ledger)
		want   string
	}{
		{"unanswered", func(l *Ledger) { l.OK, l.Unanswered = 7, 1 }, "1 deliveries got no answer"},
		{"unanswered allowed", func(l *Ledger) { l.OK, l.Unanswered, l.AllowedUnanswered = 7, 1, true }, ""},
		{"does not add up", func(l *Ledger) { l.Sent = 11 }, "sent 11 != answered 2xx 8 + error 2 + unanswered 0"},
		{"left failed", func(l *Ledger) { l.LeftFailed = 3 }, "3 failed deliveries left without a successful redelivery"},
		{"lost", func(l *Ledger) { l.Counted = 7 }, "status lost 3 deliveries answered 2xx (7 counted of 10), 0 allowed"},
		{"lost within allowance", func(l *Ledger) { l.Counted, l.AllowedLoss = 7, 3 }, ""},
		{"counted twice", func(l *Ledger) { l.Counted = 12 }, "status counts 2 deliveries more than were answered 2xx"},
		{"missing hook", func(l *Ledger) { l.HooksOnGitHub = 1 }, "1 hooks on GitHub, 2 declared"},
		{"duplicate hook", func(l *Ledger) { l.HooksOnGitHub, l.DuplicateHooks = 3, 1 }, "1 duplicate hooks on GitHub"},
		{"finalizer", func(l *Ledger) { l.FinalizersLeft = 1 }, "1 integrations not gone after deletion"},
		{"hooks after deletion", func(l *Ledger) { l.HooksAfterDeletion = 2 }, "2 hooks left on GitHub after the integrations were deleted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := clean
			tc.change(&l)
			got := strings.Join(l.Problems(), "; ")
			if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
				t.Errorf("problems %q, want %q", got, tc.want)
			}
			var b strings.Builder
			l.Print(&b)
			if tc.want != "" && !strings.Contains(b.String(), "PROBLEMS: ") {
				t.Errorf("printed ledger does not show the problem:\n%s", b.String())
			}
		})
	}
}

// TestLedgerFromSimulator fills a ledger from deliveries the simulator
// made to a receiver that fails the first attempt of every other delivery,
// and from a redelivery of one of them.
func TestLedgerFromSimulator(t *testing.T) {
	sim := githubsim.New(githubsim.WithSyncPings())
	defer sim.Close()
	if err := sim.AddRepo("acme/api"); err != nil {
		t.Fatal(err)
	}
	receiver := newFlakyReceiver(t)
	if _, err := sim.SetHook("acme/api", githubsim.Hook{Name: "web", Active: true, Events: []string{"push"},
		Config: githubsim.HookConfig{URL: receiver, ContentType: "json"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := sim.SetHook("acme/api", githubsim.Hook{Name: "web", Active: true, Events: []string{"issues"},
		Config: githubsim.HookConfig{URL: receiver, ContentType: "json"}}); err != nil {
		t.Fatal(err)
	}
	st := StartStream(sim, []string{"acme/api"}, 50)
	time.Sleep(200 * time.Millisecond)
	attempts, err := st.Stop()
	if err != nil {
		t.Fatal(err)
	}
	var failed *Attempt
	for i := range attempts {
		if attempts[i].Code != 200 {
			failed = &attempts[i]
			break
		}
	}
	if failed == nil {
		t.Fatalf("no failed first attempt among %d", len(attempts))
	}
	log, err := sim.Deliveries(failed.Target, failed.HookID)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range log {
		if d.GUID == failed.GUID {
			if _, err := sim.Redeliver(failed.Target, failed.HookID, d.ID); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	var l Ledger
	if err := l.AddDeliveries(sim, attempts); err != nil {
		t.Fatal(err)
	}
	if err := l.AddHooks(sim, []string{"acme/api"}); err != nil {
		t.Fatal(err)
	}
	errors := l.Sent - l.OK
	if l.Sent != len(attempts) || l.Errors != errors || l.Redeliveries != 1 || l.Delivered != l.OK+1 || l.LeftFailed != errors-1 {
		t.Errorf("ledger %+v from %d attempts, %d failed, one redelivered", l, len(attempts), errors)
	}
	if l.HooksDeclared != 1 || l.HooksOnGitHub != 2 || l.DuplicateHooks != 1 {
		t.Errorf("hooks: declared %d, on GitHub %d, duplicates %d; want 1, 2, 1", l.HooksDeclared, l.HooksOnGitHub, l.DuplicateHooks)
	}
}

// newFlakyReceiver answers 500 to the first attempt of every other
// delivery and 200 to everything else; it returns its URL.
func newFlakyReceiver(t *testing.T) string {
	var mu sync.Mutex
	seen := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		guid := r.Header.Get("X-GitHub-Delivery")
		mu.Lock()
		again := seen[guid]
		seen[guid] = true
		fail := !again && len(seen)%2 == 0
		mu.Unlock()
		if fail {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}
