package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a clock the test moves.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// pacedPoster sends POSTs through a RateLimitTransport on a fake clock and
// counts the ones that reach the server.
type pacedPoster struct {
	t      *testing.T
	clock  *fakeClock
	client *http.Client
	url    string
	sent   atomic.Int64
}

func newPacedPoster(t *testing.T, interval time.Duration, content ...ContentLimit) *pacedPoster {
	p := &pacedPoster{t: t, clock: &fakeClock{now: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		p.sent.Add(1)
		w.WriteHeader(http.StatusCreated)
	}))
	t.Cleanup(srv.Close)
	rt := NewRateLimitTransport(http.DefaultTransport, interval, content...)
	rt.now = p.clock.Now
	p.client, p.url = &http.Client{Transport: rt}, srv.URL
	return p
}

// post sends one mutation for key (deferred beyond maxWait) and returns
// the time it was deferred to, or the zero time when it was sent.
func (p *pacedPoster) post(ctx context.Context, key string, maxWait time.Duration) time.Time {
	p.t.Helper()
	req, err := http.NewRequestWithContext(DeferPacing(ctx, key, maxWait), http.MethodPost, p.url, strings.NewReader("{}"))
	if err != nil {
		p.t.Fatal(err)
	}
	resp, err := p.client.Do(req)
	var deferred *PacingDeferredError
	switch {
	case errors.As(err, &deferred):
		return deferred.At
	case err != nil:
		p.t.Fatalf("POST for %s: %v", key, err)
	}
	_ = resp.Body.Close()
	return time.Time{}
}

func TestDeferredMutationKeepsItsSlot(t *testing.T) {
	const interval, maxWait = time.Second, 100 * time.Millisecond
	p := newPacedPoster(t, interval)
	ctx := context.Background()
	t0 := p.clock.Now()

	if at := p.post(ctx, "a", maxWait); !at.IsZero() || p.sent.Load() != 1 {
		t.Fatalf("first mutation deferred to %v (%d sent), want sent at once", at, p.sent.Load())
	}
	// The next two would wait longer than maxWait: deferred, not sent,
	// each to a slot of its own in the order they asked.
	if at := p.post(ctx, "b", maxWait); !at.Equal(t0.Add(interval)) {
		t.Errorf("b deferred to %v, want %v", at, t0.Add(interval))
	}
	if at := p.post(ctx, "c", maxWait); !at.Equal(t0.Add(2 * interval)) {
		t.Errorf("c deferred to %v, want %v", at, t0.Add(2*interval))
	}
	if n := p.sent.Load(); n != 1 {
		t.Fatalf("%d requests sent, want only the first: deferred ones are not sent", n)
	}

	// At b's slot, b goes without waiting; c, coming back too early, is
	// told the same slot again rather than losing its place.
	p.clock.Advance(interval)
	if at := p.post(ctx, "b", maxWait); !at.IsZero() {
		t.Errorf("b at its slot deferred again to %v", at)
	}
	if at := p.post(ctx, "c", maxWait); !at.Equal(t0.Add(2 * interval)) {
		t.Errorf("c back early deferred to %v, want its slot %v", at, t0.Add(2*interval))
	}
	// A newcomer queues behind c's kept slot.
	if at := p.post(ctx, "d", maxWait); !at.Equal(t0.Add(3 * interval)) {
		t.Errorf("d deferred to %v, want %v (behind c)", at, t0.Add(3*interval))
	}
	p.clock.Advance(interval)
	if at := p.post(ctx, "c", maxWait); !at.IsZero() {
		t.Errorf("c at its slot deferred again to %v", at)
	}
	if n := p.sent.Load(); n != 3 {
		t.Errorf("%d requests sent, want 3 (a, b, c)", n)
	}
}

// withKeptSlots returns a poster whose token sent "a" at t0 and kept the
// next slots, one an interval, for keys in order.
func withKeptSlots(t *testing.T, interval, maxWait time.Duration, keys ...string) (*pacedPoster, time.Time) {
	t.Helper()
	p := newPacedPoster(t, interval)
	t0 := p.clock.Now()
	p.post(context.Background(), "a", maxWait)
	for i, key := range keys {
		if at, want := p.post(context.Background(), key, maxWait), t0.Add(time.Duration(i+1)*interval); !at.Equal(want) {
			t.Fatalf("%s deferred to %v, want %v", key, at, want)
		}
	}
	return p, t0
}

func TestLateHolderStillKeepsTheInterval(t *testing.T) {
	const interval, maxWait = time.Second, 100 * time.Millisecond
	p, t0 := withKeptSlots(t, interval, maxWait, "b", "c")
	ctx := context.Background()

	// b comes back 1.5 s late and is sent at once; c, at its slot, is
	// then only 0.5 s after b and must wait for the interval: longer
	// than it may, so it is deferred to b's send + 1 s.
	p.clock.Advance(interval + 1500*time.Millisecond)
	if at := p.post(ctx, "b", maxWait); !at.IsZero() {
		t.Fatalf("late b deferred to %v, want sent", at)
	}
	if at, want := p.post(ctx, "c", maxWait), t0.Add(2*interval+1500*time.Millisecond); !at.Equal(want) {
		t.Errorf("c deferred to %v, want %v (a full interval after b)", at, want)
	}
	if n := p.sent.Load(); n != 2 {
		t.Errorf("%d requests sent, want 2", n)
	}
}

func TestDeferredMutationGivesBackItsContentLimitPlace(t *testing.T) {
	const interval, maxWait = time.Second, 100 * time.Millisecond
	// Two mutations a minute: the deferral of b must not count as one.
	p := newPacedPoster(t, interval, ContentLimit{Requests: 2, Period: time.Minute})
	ctx := context.Background()
	p.post(ctx, "a", maxWait)
	if at := p.post(ctx, "b", maxWait); at.IsZero() {
		t.Fatal("b was sent at once, want deferred by the interval")
	}
	p.clock.Advance(interval)
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if at := p.post(short, "b", maxWait); !at.IsZero() {
		t.Errorf("b at its slot deferred to %v", at)
	}
	if n := p.sent.Load(); n != 2 {
		t.Errorf("%d requests sent, want 2: the deferred attempt took the window's second place", n)
	}
}

func TestMutationWithoutDeferralWaitsForItsSlot(t *testing.T) {
	// Callers that did not ask for deferral (the GitHubIssue reconciler,
	// deletions) wait as before, behind the kept slots.
	const interval = 200 * time.Millisecond
	p := newPacedPoster(t, interval)
	p.client.Transport.(*RateLimitTransport).now = time.Now
	ctx := context.Background()
	p.post(ctx, "a", 0)
	kept := p.post(ctx, "b", 0)
	if kept.IsZero() {
		t.Fatal("b sent at once, want deferred")
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, p.url, strings.NewReader("{}"))
	resp, err := p.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	// Its slot comes after b's kept one.
	if sent, earliest := time.Now(), kept.Add(interval-10*time.Millisecond); sent.Before(earliest) {
		t.Errorf("sent at %v, before b's kept slot %v and the interval", sent, kept)
	}
	if n := p.sent.Load(); n != 2 {
		t.Errorf("%d sent, want 2", n)
	}
}

// A holder may come back up to heldMaxWait × maxWait before its slot and
// wait for it, so that it is not late for it; earlier than that it is told
// its slot again.
func TestHolderComingBackEarlyWaitsForItsSlot(t *testing.T) {
	const interval, maxWait = time.Second, 100 * time.Millisecond
	p, t0 := withKeptSlots(t, interval, maxWait, "b")
	ctx := context.Background()
	// 1.5 × maxWait early: more than a newcomer may wait, within what the
	// holder may.
	p.clock.Advance(interval - 3*maxWait/2)
	if at := p.post(ctx, "b", maxWait); !at.IsZero() {
		t.Errorf("b back %v before its slot deferred again to %v, want it to wait and be sent", 3*maxWait/2, at)
	}
	if n := p.sent.Load(); n != 2 {
		t.Errorf("%d requests sent, want 2 (a, b)", n)
	}
	// A newcomer asking now still may not wait that long.
	if at := p.post(ctx, "c", maxWait); !at.Equal(t0.Add(2 * interval)) {
		t.Errorf("c deferred to %v, want %v", at, t0.Add(2*interval))
	}
}

// A caller may learn its turn before the work that leads to its mutation:
// reserve books nothing when the mutation could go soon, and otherwise keeps
// the slot, in order with the deferred requests, and the mutation made on
// the caller's return goes in it.
func TestReserveKeepsTheSlotOfAMutationNotMadeYet(t *testing.T) {
	const interval, maxWait = time.Second, 100 * time.Millisecond
	p := newPacedPoster(t, interval)
	pace := p.client.Transport.(*RateLimitTransport).mutations
	ctx := context.Background()
	t0 := p.clock.Now()

	// Nothing sent yet: it may go at once, so nothing is booked and a
	// later newcomer's request is not held behind it.
	if err := pace.reserve(DeferPacing(ctx, "first", maxWait)); err != nil {
		t.Fatalf("reserve on an idle token: %v, want nil", err)
	}
	if at := p.post(ctx, "a", maxWait); !at.IsZero() {
		t.Fatalf("a deferred to %v after a reserve that booked nothing, want sent", at)
	}
	// b reserves behind a: kept, not sent.
	var deferred *PacingDeferredError
	if err := pace.reserve(DeferPacing(ctx, "b", maxWait)); !errors.As(err, &deferred) || !deferred.At.Equal(t0.Add(interval)) {
		t.Fatalf("reserve for b: %v, want deferred to %v", err, t0.Add(interval))
	}
	// A request deferred meanwhile queues behind b's slot.
	if at := p.post(ctx, "c", maxWait); !at.Equal(t0.Add(2 * interval)) {
		t.Errorf("c deferred to %v, want %v (behind b's reserved slot)", at, t0.Add(2*interval))
	}
	// b back too early to wait for its slot: told the same slot again.
	if err := pace.reserve(DeferPacing(ctx, "b", maxWait)); !errors.As(err, &deferred) || !deferred.At.Equal(t0.Add(interval)) {
		t.Errorf("reserve for b at once again: %v, want deferred to its slot %v", err, t0.Add(interval))
	}
	// Back shortly before its slot: it may go on, and its mutation takes
	// the kept slot.
	p.clock.Advance(interval - maxWait)
	if err := pace.reserve(DeferPacing(ctx, "b", maxWait)); err != nil {
		t.Errorf("reserve for b shortly before its slot: %v, want nil", err)
	}
	p.clock.Advance(maxWait)
	if at := p.post(ctx, "b", maxWait); !at.IsZero() {
		t.Errorf("b at its slot deferred to %v, want sent", at)
	}
	if n := p.sent.Load(); n != 2 {
		t.Errorf("%d requests sent, want 2 (a, b): reserve sends nothing", n)
	}
	// Without DeferPacing, reserve does nothing.
	if err := pace.reserve(ctx); err != nil {
		t.Errorf("reserve without DeferPacing: %v", err)
	}
}

// TestLeadIsLearnedFromHolders follows a token's lead: a deferred caller is
// told to come back the estimated time a holder takes from its return to
// its change before its slot. A holder that took longer raises the
// estimate by half the difference, one that took less lowers it by a
// quarter; a holder's wait for its slot, or for a worker before it came
// back, is not counted; and the lead stays where a holder can still wait
// for its slot.
func TestLeadIsLearnedFromHolders(t *testing.T) {
	const interval, maxWait = time.Second, 500 * time.Millisecond
	clock := &fakeClock{now: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
	p := newPacer(interval, clock.Now)
	ctx := context.Background()
	deferredOf := func(key string, err error) *PacingDeferredError {
		t.Helper()
		var deferred *PacingDeferredError
		if err != nil && !errors.As(err, &deferred) {
			t.Fatalf("%s: %v", key, err)
		}
		return deferred
	}
	// first asks for key's first turn, as a new integration does.
	first := func(key string) *PacingDeferredError {
		t.Helper()
		d := deferredOf(key, p.reserve(DeferPacing(ctx, key, maxWait)))
		if d == nil {
			t.Fatalf("%s was not deferred", key)
		}
		return d
	}
	// holder comes back for its turn d at back, works for took, and makes
	// its change.
	holder := func(key string, d *PacingDeferredError, back time.Time, took time.Duration) {
		t.Helper()
		clock.Advance(back.Sub(clock.Now()))
		if again := deferredOf(key, p.reserve(DeferPacing(ctx, key, maxWait))); again != nil {
			t.Fatalf("%s, back at %v for its slot %v, was deferred again", key, back, d.At)
		}
		clock.Advance(took)
		if _, err := p.take(DeferPacing(ctx, key, maxWait)); err != nil {
			t.Fatalf("%s's change: %v", key, err)
		}
	}
	expectLead := func(key string, d *PacingDeferredError, lead time.Duration) {
		t.Helper()
		if got := d.At.Sub(d.Back); got != lead {
			t.Fatalf("%s is told to come back %v before its slot, want %v", key, got, lead)
		}
	}

	if _, err := p.take(DeferPacing(ctx, "a", maxWait)); err != nil {
		t.Fatalf("the token's first mutation: %v", err)
	}
	b := first("b")
	expectLead("b", b, initialPrework)

	// b took 450 ms from its return to its change: the estimate goes half
	// the way up, to 350 ms.
	holder("b", b, b.Back, 450*time.Millisecond)
	c := first("c")
	expectLead("c", c, 350*time.Millisecond)

	// c comes back 2 s late (it waited for a worker) and takes 50 ms: the
	// estimate goes a quarter of the way down, to 275 ms. Its lateness is
	// not counted.
	holder("c", c, c.At.Add(2*time.Second), 50*time.Millisecond)
	d := first("d")
	expectLead("d", d, 275*time.Millisecond)

	// d comes back early, waits for its slot in its worker and changes at
	// it: the wait is not counted, only the 75 ms before it (275 ms less a
	// quarter of 200).
	holder("d", d, d.At.Add(-900*time.Millisecond), 75*time.Millisecond)
	e := first("e")
	expectLead("e", e, 225*time.Millisecond)

	// Holders that take 5 s: the lead goes no further than a holder may
	// come back early and still wait for its slot.
	for i := range 20 {
		key := fmt.Sprintf("slow%d", i)
		turn := first(key)
		holder(key, turn, turn.Back, 5*time.Second)
	}
	z := first("z")
	if lead, most := z.At.Sub(z.Back), heldMaxWait*maxWait-leadMargin; lead > most || lead < most-time.Millisecond {
		t.Fatalf("after holders that took 5 s, z is told to come back %v before its slot, want the most a holder may: %v", lead, most)
	}
}
