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

// PacingDeferredError is returned, without any request being sent, for a
// mutating request whose context came from DeferPacing when the token's
// pacing would hold it longer than the context allows. The slot is kept for
// the next mutating request under the same key: the caller retries at (or
// shortly before) At, and its request then goes at once.
type PacingDeferredError struct {
	// At is the time of the slot kept for the caller.
	At time.Time
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
}

func newPacer(interval time.Duration, now func() time.Time) *pacer {
	return &pacer{interval: interval, now: now, kept: map[string]time.Time{}}
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
// returns the error that sends it away until then.
func (p *pacer) keep(req pacingRequest, held bool, send time.Time) error {
	if !held {
		p.kept[req.key] = send
		p.booked = later(p.booked, send)
	}
	return &PacingDeferredError{At: send}
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
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
