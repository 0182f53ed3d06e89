package github

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// reservationTTL is how long after its time a kept slot is still honoured;
// later, its holder asks again like anyone. It bounds the memory of slots
// whose holder never came back (the integration was deleted, or no longer
// needed the change).
const reservationTTL = time.Minute

// heldMaxWait is how many times DeferPacing's maxWait the holder of a kept
// slot may wait for it when it comes back: it comes back early on purpose.
const heldMaxWait = 2

// The lead of a token's pacing: how long before its slot a deferred caller
// comes back (PacingDeferredError.Back). It must cover what the caller does
// between its return and its change (for a new hook: reads of its Secrets,
// the finalizer and the Secret's bookkeeping, the list of the target's
// hooks on GitHub), or the holder is late for its slot and moves every later
// slot of the token. But the time it comes back early, it waits in a worker
// that other integrations need: at 1,000 new integrations over 50 tokens,
// a fixed lead of 0.9 s kept on average 26 of 32 workers busy, many of them
// waiting, and the first reconciles of the integrations not yet seen waited
// 10 to 100 s for one (docs/performance.md). So each token learns its lead
// from the time its holders took from their return (the reservation they
// ask for again, ReserveMutation) to their change, the part that depends
// on GitHub's latency and the API server's: an estimate that follows a
// longer time by half the difference and a shorter one by a quarter, so
// that it stays above most of them with no margin added (every millisecond
// of margin is a millisecond of a worker waiting, per change). The wait for
// a worker is left out on purpose: a longer lead keeps more workers
// waiting, which makes that wait longer, which would lengthen the lead
// again. The estimate starts at initialPrework; the lead stays within
// [minLead, heldMaxWait × maxWait − leadMargin], so that a holder never
// comes back too early to be let wait.
const (
	initialPrework = 250 * time.Millisecond
	minLead        = 50 * time.Millisecond
	leadMargin     = 100 * time.Millisecond
)

// PacingDeferredError is returned, without any request being sent, for a
// mutating request whose context came from DeferPacing when the token's
// pacing would hold it longer than the context allows. The slot is kept for
// the next mutating request under the same key: the caller comes back at
// Back, shortly before At, and its request then goes in its slot.
type PacingDeferredError struct {
	// At is the time of the slot kept for the caller.
	At time.Time
	// Back is when the caller should come back: At less the token's lead,
	// the time its earlier holders took from their return to their change.
	Back time.Time
}

func (e *PacingDeferredError) Error() string {
	return fmt.Sprintf("mutation deferred by the token's pacing to %s: request not sent", e.At.UTC().Format(time.RFC3339Nano))
}

type pacingKey struct{}

type pacingRequest struct {
	key     string
	maxWait time.Duration
}

// DeferPacing returns a context whose mutating requests wait at most
// maxWait for their token's pacing: a request that would wait longer fails
// with a *PacingDeferredError, and the slot it would have had is kept for
// key (one caller, e.g. one integration), so that the caller's next attempt
// neither queues behind those who asked meanwhile nor waits longer than
// heldMaxWait × maxWait (it may come back that early for its slot). A
// worker that serves many tokens then never sits in one token's queue.
// Without it, a mutating request waits for its slot as long as its context
// allows.
func DeferPacing(ctx context.Context, key string, maxWait time.Duration) context.Context {
	return context.WithValue(ctx, pacingKey{}, pacingRequest{key: key, maxWait: maxWait})
}

// pacer spaces one token's mutating requests by at least interval. Every
// request is given a send time at least interval apart from every other
// one given; a deferred caller keeps a slot (a lower bound for its send
// time, and its place in the order) until it comes back.
type pacer struct {
	interval time.Duration
	now      func() time.Time

	mu sync.Mutex
	// sends are the send times given, of the last interval and after.
	sends []time.Time
	// booked is the latest slot handed out, sent or kept.
	booked time.Time
	// kept are the slots of deferred callers, by key.
	kept map[string]time.Time
	// returned are the holders back for their slot (they reserved it
	// again), by key, with the time they came back.
	returned map[string]time.Time
	// prework estimates the time a holder takes from its return to its
	// change (learnPrework); the lead is derived from it.
	prework time.Duration
}

func newPacer(interval time.Duration, now func() time.Time) *pacer {
	return &pacer{interval: interval, now: now, kept: map[string]time.Time{}, returned: map[string]time.Time{}, prework: initialPrework}
}

// wait holds a mutating request until its send time, or returns a
// *PacingDeferredError (see DeferPacing), or ctx's error.
func (p *pacer) wait(ctx context.Context) error {
	send, err := p.take(ctx)
	if err != nil {
		return err
	}
	delay := send.Sub(p.now())
	if delay <= 0 {
		return nil
	}
	timer := time.NewTimer(delay)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return fmt.Errorf("wait for the mutation interval: %w", ctx.Err())
	case <-timer.C:
		return nil
	}
}

// take gives the request its send time, or keeps a slot for its caller and
// says when to come back.
func (p *pacer) take(ctx context.Context) (time.Time, error) {
	if err := ctx.Err(); err != nil {
		return time.Time{}, fmt.Errorf("wait for the mutation interval: %w", err)
	}
	req, deferrable := ctx.Value(pacingKey{}).(pacingRequest)
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	p.prune(now)

	send, held, limit := p.slot(req, deferrable, now)
	if deferrable && send.Sub(now) > limit {
		return time.Time{}, p.keep(req, held, send)
	}
	if held {
		p.learnPrework(req.key, now, req.maxWait)
	}
	delete(p.kept, req.key)
	p.sends = append(p.sends, send)
	slices.SortFunc(p.sends, time.Time.Compare)
	p.booked = later(p.booked, send)
	return send, nil
}

// reserve is take for a mutation its caller has not made yet, to learn its
// turn before the work that leads up to it: with a context from
// DeferPacing, when the mutation would wait longer than the context
// allows, the slot is kept for the caller as take keeps it and a
// *PacingDeferredError says when to come back; otherwise nothing is booked
// (the mutation takes its slot when it is made). Without DeferPacing it
// does nothing.
func (p *pacer) reserve(ctx context.Context) error {
	req, deferrable := ctx.Value(pacingKey{}).(pacingRequest)
	if !deferrable {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	p.prune(now)
	send, held, limit := p.slot(req, true, now)
	if send.Sub(now) <= limit {
		if held {
			p.returned[req.key] = now
		}
		return nil
	}
	return p.keep(req, held, send)
}

// slot is the send time the request would get now, whether its caller
// holds a kept slot, and how long it may wait for it.
func (p *pacer) slot(req pacingRequest, deferrable bool, now time.Time) (send time.Time, held bool, limit time.Duration) {
	kept, held := p.kept[req.key]
	earliest := now
	switch {
	case deferrable && held:
		// Its place was kept: it goes at its slot, not behind the slots
		// kept since.
		earliest = later(now, kept)
	case !p.booked.IsZero():
		// A newcomer queues behind every slot handed out.
		earliest = later(now, p.booked.Add(p.interval))
	}
	limit = req.maxWait
	if held {
		// A holder comes back a little before its slot, so that it is not
		// late for it: a late holder moves every later slot of the token.
		limit = heldMaxWait * req.maxWait
	}
	return p.fit(earliest), held, limit
}

// keep keeps send for the caller (unless it holds a slot already) and
// returns the error that sends it away until shortly before then.
func (p *pacer) keep(req pacingRequest, held bool, send time.Time) error {
	if !held {
		p.kept[req.key] = send
		p.booked = later(p.booked, send)
	}
	lead := min(max(p.prework, minLead), maxLead(req.maxWait))
	return &PacingDeferredError{At: send, Back: send.Add(-lead)}
}

// learnPrework takes the time from key's return to its change, now, into
// the estimate (see initialPrework). A holder that made its change without
// asking again first teaches nothing.
func (p *pacer) learnPrework(key string, now time.Time, maxWait time.Duration) {
	back, ok := p.returned[key]
	if !ok {
		return
	}
	delete(p.returned, key)
	took := min(now.Sub(back), maxLead(maxWait))
	if took > p.prework {
		p.prework += (took - p.prework) / 2
	} else {
		p.prework -= (p.prework - took) / 4
	}
}

// maxLead is the longest lead with which a holder of maxWait can still
// wait for its slot when it comes back.
func maxLead(maxWait time.Duration) time.Duration {
	return max(heldMaxWait*maxWait-leadMargin, minLead)
}

// fit is the earliest time from t that is at least interval apart from
// every send time given.
func (p *pacer) fit(t time.Time) time.Time {
	for _, s := range p.sends { // sorted
		if !t.After(s.Add(-p.interval)) {
			break // fits before s, and after the ones before it
		}
		if t.Before(s.Add(p.interval)) {
			t = s.Add(p.interval)
		}
	}
	return t
}

// prune forgets the send times that no longer constrain a new one and the
// kept slots whose holders did not come back in time.
func (p *pacer) prune(now time.Time) {
	p.sends = slices.DeleteFunc(p.sends, func(s time.Time) bool { return s.Add(p.interval).Before(now) })
	for key, slot := range p.kept {
		if now.Sub(slot) > reservationTTL {
			delete(p.kept, key)
		}
	}
	for key, back := range p.returned {
		if now.Sub(back) > reservationTTL {
			delete(p.returned, key)
		}
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
