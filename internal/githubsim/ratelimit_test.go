package githubsim

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
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

// TestSecondaryRateLimitOnConcurrentRequests: a request beyond the
// concurrent requests GitHub allows one budget is answered like any
// secondary limit and spends nothing, another user's requests are not
// affected, and the limit counts only requests still being served.
func TestSecondaryRateLimitOnConcurrentRequests(t *testing.T) {
	const otherToken = "ghp_other0000000000000000000000000000"
	sim := newTestServer(t, WithSecondaryLimit(SecondaryLimit{MaxConcurrent: 2}))
	sim.AddToken(otherToken, []string{"repo"}, testOrg)
	// Every request is served for a second, so that those sent at once
	// are in flight together.
	sim.SetFault(FaultAll, Fault{Latency: time.Second})

	type answer struct {
		status int
		header http.Header
		body   []byte
	}
	send := func(token string, n int) []answer {
		answers := make([]answer, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				status, h, body := apiRequest(t, sim, "GET", "/repos/acme/demo/hooks", token, nil)
				answers[i] = answer{status, h, body}
			})
		}
		wg.Wait()
		return answers
	}
	var mine, others []answer
	var wg sync.WaitGroup
	wg.Go(func() { mine = send(adminToken, 3) })
	wg.Go(func() { others = send(otherToken, 2) })
	wg.Wait()

	denied := 0
	for _, a := range mine {
		switch a.status {
		case 200:
		case 403:
			denied++
			if !strings.Contains(string(a.body), "You have exceeded a secondary rate limit") {
				t.Errorf("denied with %s, want the secondary rate limit's message", a.body)
			}
			if ra, err := strconv.Atoi(a.header.Get("Retry-After")); err != nil || ra < 1 {
				t.Errorf("retry-after %q, want whole seconds", a.header.Get("Retry-After"))
			}
		default:
			t.Errorf("answer %d %s", a.status, a.body)
		}
	}
	if denied != 1 {
		t.Errorf("%d of 3 concurrent requests of one user denied, want 1 (limit 2)", denied)
	}
	for _, a := range others {
		if a.status != 200 {
			t.Errorf("another user's request answered %d %s, want 200", a.status, a.body)
		}
	}
	st := sim.Stats()
	if st.RateLimited != 1 {
		t.Errorf("stats count %d rate-limited requests, want 1", st.RateLimited)
	}
	if st.Spent != 4 {
		t.Errorf("%d requests spent the primary limit, want 4 (the denied one spends nothing)", st.Spent)
	}

	// Once they are answered, the budget may send as many at once again.
	sim.ClearFaults()
	for _, a := range send(adminToken, 2) {
		if a.status != 200 {
			t.Errorf("after the earlier requests ended: %d %s, want 200", a.status, a.body)
		}
	}
}

// TestConcurrentRequestsLimitDefaults: GitHub's 100 concurrent requests
// apply by default, and disabling the secondary limit disables it too.
func TestConcurrentRequestsLimitDefaults(t *testing.T) {
	if got := (SecondaryLimit{}).withDefaults().MaxConcurrent; got != DefaultMaxConcurrent {
		t.Errorf("default concurrent requests %d, want %d", got, DefaultMaxConcurrent)
	}
	if got := (SecondaryLimit{MutationsPerMinute: -1}).withDefaults().MaxConcurrent; got >= 0 {
		t.Errorf("with the secondary limit disabled, concurrent requests %d, want disabled", got)
	}
	l := newRateLimiter(PrimaryLimit{}.withDefaults(), SecondaryLimit{MaxConcurrent: 1}.withDefaults(), time.Now)
	if !l.enter("a") || l.enter("a") {
		t.Fatal("with a limit of 1, the first request must enter and the second must not")
	}
	if !l.enter("b") {
		t.Fatal("another budget's request was denied")
	}
	l.leave("a")
	if !l.enter("a") {
		t.Fatal("a request was denied after the one in flight left")
	}
	l.leave("a")
	l.leave("b")
	if len(l.inFlight) != 0 {
		t.Errorf("budgets with nothing in flight are kept: %v", l.inFlight)
	}
}
