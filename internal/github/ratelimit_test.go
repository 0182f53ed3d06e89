package github

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hookwarden/hookwarden/internal/githubsim"
	"github.com/hookwarden/hookwarden/internal/testenv"
)

func TestPrimaryLimitRefusesLocallyUntilReset(t *testing.T) {
	sim := newSim(t, githubsim.WithPrimaryLimit(githubsim.PrimaryLimit{Limit: 100, Window: 3 * time.Second}))
	f := NewFactory(WithMutationInterval(0))
	hooks := repoHooks(t, f, sim, testToken)
	c, _ := f.Client(sim.URL(), Credentials{Token: testToken})
	ctx := context.Background()

	sim.SetRemaining(testToken, 1)
	if _, err := hooks.List(ctx); err != nil {
		t.Fatalf("the last allowed request failed: %v", err)
	}
	_, remaining, _, reset := sim.RateLimit(testToken)
	if remaining != 0 {
		t.Fatalf("simulator remaining = %d", remaining)
	}
	sim.ResetStats()
	for range 3 {
		_, err := hooks.Create(ctx, newHook("https://hooks.example.com/a", "push"))
		ce := Classify(err)
		if ce == nil || ce.Kind != RateLimited {
			t.Fatalf("request with the limit spent: %v, want RateLimited", err)
		}
		if !ce.RetryAt.Equal(reset) {
			t.Errorf("RetryAt = %v, want GitHub's reset %v", ce.RetryAt, reset)
		}
	}
	if n := sim.Stats().Total; n != 0 {
		t.Errorf("%d requests reached GitHub while the limit was spent", n)
	}
	if until := c.RateLimitedUntil(); !until.Equal(reset) {
		t.Errorf("RateLimitedUntil = %v, want %v", until, reset)
	}

	time.Sleep(time.Until(reset) + 50*time.Millisecond)
	if _, err := hooks.Create(ctx, newHook("https://hooks.example.com/a", "push")); err != nil {
		t.Fatalf("after the reset: %v", err)
	}
}

func TestSecondaryLimitHonoursRetryAfter(t *testing.T) {
	sim := newSim(t, githubsim.WithSecondaryLimit(githubsim.SecondaryLimit{MutationsPerMinute: 1, Period: 2 * time.Second, RetryAfter: 2 * time.Second}))
	hooks := repoHooks(t, NewFactory(WithMutationInterval(0)), sim, testToken)
	ctx := context.Background()
	if _, err := hooks.Create(ctx, newHook("https://hooks.example.com/a", "push")); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err := hooks.Create(ctx, newHook("https://hooks.example.com/b", "push"))
	ce := Classify(err)
	if ce == nil || ce.Kind != RateLimited || !ce.Secondary {
		t.Fatalf("second mutation: %v, want a secondary RateLimited", err)
	}
	if wait := ce.RetryAt.Sub(start); wait < 1500*time.Millisecond || wait > 3*time.Second {
		t.Errorf("RetryAt is %v after the answer, want the 2s of retry-after", wait)
	}
	sim.ResetStats()
	if _, err := hooks.List(ctx); Classify(err).Kind != RateLimited {
		t.Errorf("a request within retry-after: %v, want RateLimited", err)
	}
	if n := sim.Stats().Total; n != 0 {
		t.Errorf("%d requests reached GitHub within retry-after", n)
	}
	time.Sleep(time.Until(ce.RetryAt) + 50*time.Millisecond)
	if _, err := hooks.Create(ctx, newHook("https://hooks.example.com/b", "push")); err != nil {
		t.Fatalf("after retry-after: %v", err)
	}
}

func TestSecondaryLimitWithoutRetryAfterWaitsAMinute(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-Ratelimit-Remaining", "4000")
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, `{"message":"You have exceeded a secondary rate limit and have been temporarily blocked from content creation."}`)
	}))
	defer srv.Close()
	rt := NewRateLimitTransport(http.DefaultTransport, 0)
	client := &http.Client{Transport: rt}
	resp, err := client.Post(srv.URL, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	body := testenv.ReadBody(t, resp)
	if !strings.Contains(string(body), "secondary rate limit") {
		t.Errorf("the answer's body was not given back to the caller: %q", body)
	}
	if wait := time.Until(rt.BlockedUntil()); wait < 55*time.Second || wait > time.Minute {
		t.Errorf("blocked for %v, want a minute", wait)
	}
	_, err = client.Get(srv.URL)
	var rl *RateLimitedError
	if !errors.As(err, &rl) || !rl.Secondary {
		t.Errorf("next request: %v, want a local secondary RateLimitedError", err)
	}
}

func TestMutatingRequestsAreSpaced(t *testing.T) {
	rec := &recordingServer{times: make(chan time.Time, 10)}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	const interval = 150 * time.Millisecond
	client := &http.Client{Transport: NewRateLimitTransport(http.DefaultTransport, interval)}
	for range 4 {
		resp, err := client.Post(srv.URL, "application/json", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		resp, err = client.Get(srv.URL) // reads are not paced
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	close(rec.times)
	var times []time.Time
	for tm := range rec.times {
		times = append(times, tm)
	}
	// POST, GET, POST, GET...: compare the POSTs.
	for i := 2; i < len(times); i += 2 {
		if gap := times[i].Sub(times[i-2]); gap < interval-10*time.Millisecond {
			t.Errorf("mutations %d and %d were %v apart, want >= %v", i/2-1, i/2, gap, interval)
		}
	}
	if gap := times[1].Sub(times[0]); gap > interval/2 {
		t.Errorf("a read waited %v behind a mutation", gap)
	}
}

func TestRetryAfterParsing(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"3", 3 * time.Second, true},
		{" 0 ", 0, true},
		{"", 0, false},
		{"soon", 0, false},
		{"-1", 0, false},
	} {
		got, ok := retryAfter(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("retryAfter(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	at := time.Now().Add(10 * time.Second).UTC().Format(http.TimeFormat)
	if got, ok := retryAfter(at); !ok || got < 8*time.Second || got > 10*time.Second {
		t.Errorf("retryAfter(HTTP date) = %v, %v", got, ok)
	}
}
