package harness

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/hookwarden/hookwarden/internal/githubsim"
)

// Ledger is what one scenario sent, what was answered and what status
// recorded, to be checked against the promises of make test-resilience.
type Ledger struct {
	Scenario string

	// Sent counts the deliveries of the stream (one per event and hook);
	// OK, Errors and Unanswered split their first attempts into answered
	// 2xx, answered with another status, and not answered at all.
	Sent, OK, Errors, Unanswered int
	// Redeliveries counts the later attempts hookwarden asked for;
	// LeftFailed the deliveries none of whose attempts was answered 2xx.
	Redeliveries, LeftFailed int
	// Delivered counts the deliveries answered 2xx at some attempt; Counted
	// what the integrations' status counts (status.eventCounts of push).
	Delivered int
	Counted   int64

	// HooksDeclared is the hooks the integrations declare; HooksOnGitHub
	// those on the simulator; DuplicateHooks the extra hooks of a
	// repository with the same URL.
	HooksDeclared, HooksOnGitHub, DuplicateHooks int
	// FinalizersLeft counts integrations still present after deletion;
	// HooksAfterDeletion the hooks their deletion left on GitHub.
	FinalizersLeft, HooksAfterDeletion int

	// AllowedUnanswered is set where the scenario takes the receiver away,
	// so that GitHub gets no answer until hookwarden redelivers.
	AllowedUnanswered bool
	// AllowedLoss is how many deliveries answered 2xx the scenario may
	// lose from status (a SIGKILL loses the last flush interval's).
	AllowedLoss int
	// Notes are printed under the ledger.
	Notes []string
}

// AddDeliveries fills the delivery columns from the first attempts of a
// stream and the simulator's delivery logs of the hooks they went to.
func (l *Ledger) AddDeliveries(sim *githubsim.Server, attempts []Attempt) error {
	type hookKey struct {
		target string
		id     int64
	}
	type deliveryKey struct {
		guid string
		hook int64
	}
	hooks := map[hookKey]bool{}
	sent := map[deliveryKey]bool{}
	for _, a := range attempts {
		l.Sent++
		switch {
		case a.Code >= 200 && a.Code < 300:
			l.OK++
		case a.Code == 0:
			l.Unanswered++
		default:
			l.Errors++
		}
		hooks[hookKey{a.Target, a.HookID}] = true
		sent[deliveryKey{a.GUID, a.HookID}] = true
	}
	ok := map[deliveryKey]bool{}
	for h := range hooks {
		log, err := sim.Deliveries(h.target, h.id)
		if err != nil {
			return fmt.Errorf("delivery log of hook %d on %s: %w", h.id, h.target, err)
		}
		for _, d := range log {
			k := deliveryKey{d.GUID, d.HookID}
			if !sent[k] {
				continue
			}
			if d.Redelivery {
				l.Redeliveries++
			}
			if d.OK() {
				ok[k] = true
			}
		}
	}
	l.Delivered = len(ok)
	l.LeftFailed = len(sent) - len(ok)
	return nil
}

// AddHooks fills the hook columns: declared hooks per repository are one
// each, with the URL url.
func (l *Ledger) AddHooks(sim *githubsim.Server, repos []string) error {
	l.HooksDeclared += len(repos)
	for _, repo := range repos {
		hooks, err := sim.Hooks(repo)
		if err != nil {
			return err
		}
		l.HooksOnGitHub += len(hooks)
		urls := map[string]int{}
		for _, h := range hooks {
			urls[h.Config.URL]++
			if urls[h.Config.URL] > 1 {
				l.DuplicateHooks++
			}
		}
	}
	return nil
}

// Lost is how many deliveries answered 2xx status does not count.
func (l *Ledger) Lost() int64 { return max(0, int64(l.Delivered)-l.Counted) }

// Duplicated is how many more deliveries status counts than were answered
// 2xx.
func (l *Ledger) Duplicated() int64 { return max(0, l.Counted-int64(l.Delivered)) }

// Problems are the broken promises, each saying what was seen.
func (l *Ledger) Problems() []string {
	var out []string
	if l.Sent != l.OK+l.Errors+l.Unanswered {
		out = append(out, fmt.Sprintf("sent %d != answered 2xx %d + error %d + unanswered %d", l.Sent, l.OK, l.Errors, l.Unanswered))
	}
	if l.Unanswered > 0 && !l.AllowedUnanswered {
		out = append(out, fmt.Sprintf("%d deliveries got no answer while the receiver was up: every delivery must be answered 2xx or with an explicit error status", l.Unanswered))
	}
	if l.LeftFailed > 0 {
		out = append(out, fmt.Sprintf("%d failed deliveries left without a successful redelivery", l.LeftFailed))
	}
	if d := l.Duplicated(); d > 0 {
		out = append(out, fmt.Sprintf("status counts %d deliveries more than were answered 2xx (%d counted, %d answered 2xx)", d, l.Counted, l.Delivered))
	}
	if lost := l.Lost(); lost > int64(l.AllowedLoss) {
		out = append(out, fmt.Sprintf("status lost %d deliveries answered 2xx (%d counted of %d), %d allowed", lost, l.Counted, l.Delivered, l.AllowedLoss))
	}
	if l.HooksOnGitHub != l.HooksDeclared {
		out = append(out, fmt.Sprintf("%d hooks on GitHub, %d declared", l.HooksOnGitHub, l.HooksDeclared))
	}
	if l.DuplicateHooks > 0 {
		out = append(out, fmt.Sprintf("%d duplicate hooks on GitHub", l.DuplicateHooks))
	}
	if l.FinalizersLeft > 0 {
		out = append(out, fmt.Sprintf("%d integrations not gone after deletion: finalizers did not complete", l.FinalizersLeft))
	}
	if l.HooksAfterDeletion > 0 {
		out = append(out, fmt.Sprintf("%d hooks left on GitHub after the integrations were deleted", l.HooksAfterDeletion))
	}
	return out
}

// Print writes the ledger as a table, then its notes and problems.
func (l *Ledger) Print(w io.Writer) {
	fmt.Fprintf(w, "ledger: %s\n", l.Scenario)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	row := func(name string, v any) { fmt.Fprintf(tw, "  %s\t%v\t\n", name, v) }
	row("deliveries sent", l.Sent)
	row("first attempt answered 2xx", l.OK)
	row("first attempt answered with an error status", l.Errors)
	row("first attempt not answered", l.Unanswered)
	row("redeliveries", l.Redeliveries)
	row("deliveries answered 2xx in the end", l.Delivered)
	row("deliveries left failed", l.LeftFailed)
	row("counted in status", l.Counted)
	row("lost from status (allowed)", fmt.Sprintf("%d (%d)", l.Lost(), l.AllowedLoss))
	row("counted twice in status", l.Duplicated())
	row("hooks declared / on GitHub", fmt.Sprintf("%d / %d", l.HooksDeclared, l.HooksOnGitHub))
	row("duplicate hooks", l.DuplicateHooks)
	row("finalizers not completed", l.FinalizersLeft)
	row("hooks left after deletion", l.HooksAfterDeletion)
	_ = tw.Flush()
	for _, n := range l.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
	if p := l.Problems(); len(p) > 0 {
		fmt.Fprintf(w, "  PROBLEMS: %s\n", strings.Join(p, "; "))
	} else {
		fmt.Fprintln(w, "  all checks hold")
	}
}
