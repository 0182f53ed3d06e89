package github

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// secondaryLimitDefaultWait is how long GitHub asks clients to wait after a
// secondary rate limit answer that carries no retry-after header.
const secondaryLimitDefaultWait = time.Minute

// RateLimitedError is returned, without any request being sent, while
// GitHub's rate limit for the token is spent.
type RateLimitedError struct {
	// Until is when GitHub accepts requests again.
	Until time.Time
	// Secondary is true for the secondary (abuse) limit, false for the
	// primary (hourly) one.
	Secondary bool
}

func (e *RateLimitedError) Error() string {
	kind := "rate limit"
	if e.Secondary {
		kind = "secondary rate limit"
	}
	return fmt.Sprintf("GitHub %s exceeded until %s: request not sent", kind, e.Until.UTC().Format(time.RFC3339))
}

// RateLimitTransport keeps one token's requests within GitHub's limits. It
// reads x-ratelimit-remaining/x-ratelimit-reset and retry-after from every
// answer; once a limit is spent it refuses requests locally, with a
// RateLimitedError, until the announced time. It also spaces mutating
// requests by a minimum interval.
type RateLimitTransport struct {
	next      http.RoundTripper
	mutations *pacer
	// content keeps mutating requests within GitHub's content-creation
	// limits.
	content []*slidingWindow
	now     func() time.Time

	mu           sync.Mutex
	blockedUntil time.Time
	secondary    bool
}

// NewRateLimitTransport returns a RateLimitTransport over next that sends at
// most one mutating request per mutationInterval (none when <= 0), and no
// more mutating requests than each of the content limits allows.
func NewRateLimitTransport(next http.RoundTripper, mutationInterval time.Duration, content ...ContentLimit) *RateLimitTransport {
	t := &RateLimitTransport{next: next, now: time.Now}
	if mutationInterval > 0 {
		t.mutations = newPacer(mutationInterval, func() time.Time { return t.now() })
	}
	t.content = newSlidingWindows(content, func() time.Time { return t.now() })
	return t
}

// BlockedUntil is when requests may be sent again; the zero time when they
// may be sent now.
func (t *RateLimitTransport) BlockedUntil() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.now().Before(t.blockedUntil) {
		return t.blockedUntil
	}
	return time.Time{}
}

// RoundTrip implements http.RoundTripper. A mutating request whose context
// came from DeferPacing may fail with a *PacingDeferredError instead of
// waiting for the mutation interval.
func (t *RateLimitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := t.refuse(); err != nil {
		closeBody(req)
		return nil, err
	}
	if isMutating(req.Method) {
		if err := t.pace(req); err != nil {
			closeBody(req)
			return nil, err
		}
		// The limit may have been spent by another request meanwhile.
		if err := t.refuse(); err != nil {
			closeBody(req)
			return nil, err
		}
	}
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	return t.observe(resp)
}

// pace holds a mutating request until the content-creation limits and the
// mutation interval let it go. A request the pacing defers gives back its
// places in the content-creation windows: it was not sent.
func (t *RateLimitTransport) pace(req *http.Request) error {
	taken := make([]time.Time, 0, len(t.content))
	for _, w := range t.content {
		at, err := w.wait(req.Context())
		if err != nil {
			t.release(taken)
			return err
		}
		taken = append(taken, at)
	}
	if t.mutations == nil {
		return nil
	}
	if err := t.mutations.wait(req.Context()); err != nil {
		t.release(taken)
		return err
	}
	return nil
}

// release gives back places taken in the content-creation windows, in
// their order.
func (t *RateLimitTransport) release(taken []time.Time) {
	for i, at := range taken {
		t.content[i].release(at)
	}
}

func (t *RateLimitTransport) refuse() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.now().Before(t.blockedUntil) {
		return &RateLimitedError{Until: t.blockedUntil, Secondary: t.secondary}
	}
	return nil
}

// observe learns the limits from an answer.
func (t *RateLimitTransport) observe(resp *http.Response) (*http.Response, error) {
	now := t.now()
	remaining := resp.Header.Get("X-Ratelimit-Remaining")
	limited := resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusTooManyRequests

	if limited {
		if wait, ok := retryAfter(resp.Header.Get("Retry-After")); ok {
			t.block(now.Add(wait), remaining != "0")
			return resp, nil
		}
	}
	if remaining == "0" {
		// Spent: this answer was refused (403/429) or was the last one
		// allowed; either way the next request would be refused.
		if reset, ok := unixTime(resp.Header.Get("X-Ratelimit-Reset")); ok {
			t.block(reset, false)
		}
		return resp, nil
	}
	if limited {
		return t.detectSecondaryLimit(resp, now)
	}
	return resp, nil
}

// detectSecondaryLimit recognises a secondary limit answer without
// retry-after by its message; GitHub then asks for a minute's wait.
func (t *RateLimitTransport) detectSecondaryLimit(resp *http.Response, now time.Time) (*http.Response, error) {
	const maxErrorBody = 64 << 10
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	_ = resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("read GitHub's answer: %w", err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if strings.Contains(strings.ToLower(string(body)), "secondary rate limit") {
		t.block(now.Add(secondaryLimitDefaultWait), true)
	}
	return resp, nil
}

func (t *RateLimitTransport) block(until time.Time, secondary bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if until.After(t.blockedUntil) {
		t.blockedUntil = until
		t.secondary = secondary
	}
}

func retryAfter(v string) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second, true
	}
	if at, err := http.ParseTime(v); err == nil {
		return max(0, time.Until(at)), true
	}
	return 0, false
}

func unixTime(v string) (time.Time, bool) {
	secs, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || secs <= 0 {
		return time.Time{}, false
	}
	return time.Unix(secs, 0), true
}

func isMutating(method string) bool {
	switch method {
	case http.MethodPost, http.MethodPatch, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}
