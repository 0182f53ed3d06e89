package github

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// ContentLimit is one of GitHub's secondary limits on content-creating
// requests: at most Requests in any rolling Period.
type ContentLimit struct {
	Requests int
	Period   time.Duration
}

// DefaultContentLimits are GitHub's published limits on content-generating
// requests per token: no more than 80 a minute and 500 an hour. hookwarden
// counts every mutating request (POST, PATCH, PUT, DELETE) against them, as
// the simulator does, which is never fewer than GitHub counts.
func DefaultContentLimits() []ContentLimit {
	return []ContentLimit{{Requests: 80, Period: time.Minute}, {Requests: 500, Period: time.Hour}}
}

// WithContentLimits replaces the limits on mutating requests per token
// (DefaultContentLimits by default); none disables them (tests against a
// simulator without a secondary limit).
func WithContentLimits(limits ...ContentLimit) FactoryOption {
	return func(f *Factory) { f.contentLimits = append([]ContentLimit(nil), limits...) }
}

// slidingWindow admits at most n requests in any rolling period: a request
// waits until the oldest one in the window leaves it. A token bucket would
// allow a burst on top of the rate, which GitHub's rolling count refuses.
type slidingWindow struct {
	limit ContentLimit
	// margin is added to the period: GitHub counts when a request arrives,
	// the window when it leaves, so the window keeps a little clear of
	// GitHub's edge.
	margin time.Duration
	now    func() time.Time

	mu   sync.Mutex
	sent []time.Time
}

func newSlidingWindows(limits []ContentLimit, now func() time.Time) []*slidingWindow {
	var out []*slidingWindow
	for _, l := range limits {
		if l.Requests > 0 && l.Period > 0 {
			out = append(out, &slidingWindow{limit: l, margin: l.Period / 60, now: now})
		}
	}
	return out
}

// wait reserves a place for one request in the window, waiting for one to
// free up, and returns the time the place was taken at; or returns ctx's
// error.
func (w *slidingWindow) wait(ctx context.Context) (time.Time, error) {
	for {
		at, delay := w.reserve()
		if delay <= 0 {
			return at, nil
		}
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			return time.Time{}, fmt.Errorf("wait for GitHub's content-creation limit (%d requests per %s): %w", w.limit.Requests, w.limit.Period, ctx.Err())
		case <-timer.C:
		}
	}
}

// release gives back the place taken at at, for a request that was not
// sent after all.
func (w *slidingWindow) release(at time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if i := slices.IndexFunc(w.sent, at.Equal); i >= 0 {
		w.sent = slices.Delete(w.sent, i, i+1)
	}
}

// reserve takes a place and returns its time and 0, or returns how long
// until one frees.
func (w *slidingWindow) reserve() (time.Time, time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.now()
	cutoff := now.Add(-w.limit.Period - w.margin)
	kept := w.sent[:0]
	for _, t := range w.sent {
		if t.After(cutoff) {
			kept = append(kept, t)
		}
	}
	w.sent = kept
	if len(w.sent) < w.limit.Requests {
		w.sent = append(w.sent, now)
		return now, 0
	}
	return time.Time{}, max(w.sent[0].Sub(cutoff), time.Millisecond)
}
