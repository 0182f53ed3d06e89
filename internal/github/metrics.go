package github

import (
	"net/http"
	"strconv"

	"github.com/hookwarden/hookwarden/internal/metrics"
)

// metricsTransport counts the requests that reach GitHub and records the
// rate limit GitHub announces for the token.
type metricsTransport struct {
	next  http.RoundTripper
	token string // fingerprint
}

func (t *metricsTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		metrics.GitHubRequests.WithLabelValues(req.Method, "error").Inc()
		return nil, err
	}
	metrics.GitHubRequests.WithLabelValues(req.Method, strconv.Itoa(resp.StatusCode)).Inc()
	if v, err := strconv.ParseFloat(resp.Header.Get("X-Ratelimit-Remaining"), 64); err == nil {
		resource := resp.Header.Get("X-Ratelimit-Resource")
		if resource == "" {
			resource = "core"
		}
		metrics.RateLimitRemaining.WithLabelValues(t.token, resource).Set(v)
	}
	return resp, nil
}
