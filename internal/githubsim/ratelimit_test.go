package githubsim

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSecondaryRateLimitOnPoints: reads cost 1 point, mutations 5, and a
// request over the points of the rolling minute is answered like any
// secondary limit, with the time until enough points have left the window.
func TestSecondaryRateLimitOnPoints(t *testing.T) {
	sim := newTestServer(t, WithSecondaryLimit(SecondaryLimit{PointsPerMinute: 12}))
	// Two creations (10 points), then two reads (2 points): the budget.
	for i := range 2 {
		status, _, body := apiRequest(t, sim, "POST", "/repos/acme/demo/hooks", adminToken, map[string]any{
			"config": map[string]any{"url": fmt.Sprintf("https://hooks.example.com/%d", i)}, "active": false})
		if status != 201 {
			t.Fatalf("create %d: %d %s", i, status, body)
		}
	}
	for i := range 2 {
		if status, _, body := apiRequest(t, sim, "GET", "/repos/acme/demo/hooks", adminToken, nil); status != 200 {
			t.Fatalf("read %d: %d %s", i, status, body)
		}
	}
	status, h, body := apiRequest(t, sim, "GET", "/repos/acme/demo/hooks", adminToken, nil)
	if status != 403 || !strings.Contains(string(body), "You have exceeded a secondary rate limit") {
		t.Fatalf("13th point: %d %s", status, body)
	}
	// The first creation's 5 points free enough, at most a minute away.
	if ra, err := strconv.Atoi(h.Get("Retry-After")); err != nil || ra < 1 || ra > 60 {
		t.Errorf("retry-after %q, want the seconds until the first creation leaves the minute", h.Get("Retry-After"))
	}
	if st := sim.Stats(); st.RateLimited != 1 {
		t.Errorf("stats count %d rate-limited requests, want 1", st.RateLimited)
	}
}

// TestPointsLimitDefaults: GitHub's 900 points a minute apply by default,
// and disabling the secondary limit disables them too.
func TestPointsLimitDefaults(t *testing.T) {
	if got := (SecondaryLimit{}).withDefaults().PointsPerMinute; got != DefaultPointsPerMinute {
		t.Errorf("default points per minute %d, want %d", got, DefaultPointsPerMinute)
	}
	if got := (SecondaryLimit{MutationsPerMinute: -1}).withDefaults().PointsPerMinute; got >= 0 {
		t.Errorf("with the secondary limit disabled, points per minute %d, want disabled", got)
	}
	now := time.Unix(1_700_000_000, 0)
	l := newRateLimiter(PrimaryLimit{}.withDefaults(), SecondaryLimit{MutationsPerMinute: -1, PointsPerMinute: 5}.withDefaults(), func() time.Time { return now })
	if _, d := l.take("t", 5000, true); d != allowed {
		t.Fatalf("one mutation (5 points) denied: %v", d)
	}
	if _, d := l.take("t", 5000, false); d != deniedSecondary {
		t.Fatalf("a read over 5 points: %v, want deniedSecondary", d)
	}
	now = now.Add(time.Minute + time.Second)
	if _, d := l.take("t", 5000, false); d != allowed {
		t.Fatalf("a read a minute later: %v, want allowed", d)
	}
}
