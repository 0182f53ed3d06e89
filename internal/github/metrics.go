package github

import (
	"net/http"
	"strconv"
	"time"

	"github.com/hookwarden/hookwarden/internal/metrics"
)

// metricsTransport counts the requests that reach GitHub, times them, and
// records the rate limit GitHub announces for the token.
type metricsTransport struct {
	next  http.RoundTripper
	token string // fingerprint
}

func (t *metricsTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.next.RoundTrip(req)
	metrics.GitHubRequestDuration.WithLabelValues(req.Method).Observe(time.Since(start).Seconds())
	if err != nil {
		metrics.GitHubRequests.WithLabelValues(req.Method, "error").Inc()
		return nil, err
	}
	metrics.GitHubRequests.WithLabelValues(req.Method, strconv.Itoa(resp.StatusCode)).Inc()
	t.recordRateLimit(resp.Header)
	return resp, nil
}

// recordRateLimit keeps the x-ratelimit-* headers of an answer: what is
// left, the window's size, and when it resets.
func (t *metricsTransport) recordRateLimit(h http.Header) {
	remaining, err := strconv.ParseFloat(h.Get("X-Ratelimit-Remaining"), 64)
	if err != nil {
		return
	}
	resource := h.Get("X-Ratelimit-Resource")
	if resource == "" {
		resource = "core"
	}
	metrics.RateLimitRemaining.WithLabelValues(t.token, resource).Set(remaining)
	if limit, err := strconv.ParseFloat(h.Get("X-Ratelimit-Limit"), 64); err == nil {
		metrics.RateLimitLimit.WithLabelValues(t.token, resource).Set(limit)
	}
	if reset, err := strconv.ParseFloat(h.Get("X-Ratelimit-Reset"), 64); err == nil {
		metrics.RateLimitReset.WithLabelValues(t.token, resource).Set(reset)
	}
}

// forgetRateLimits deletes the rate-limit series of a token no client uses
// any more.
func forgetRateLimits(fingerprint string) {
	labels := map[string]string{"token": fingerprint}
	metrics.RateLimitRemaining.DeletePartialMatch(labels)
	metrics.RateLimitLimit.DeletePartialMatch(labels)
	metrics.RateLimitReset.DeletePartialMatch(labels)
}
