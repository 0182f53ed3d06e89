// Package metrics defines hookwarden's Prometheus metrics in one place, so
// their names and labels are consistent, and registers them with the
// controller-runtime registry served on the metrics endpoint.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	// Deliveries counts deliveries answered by the receiver.
	Deliveries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hookwarden_deliveries_total",
		Help: "Deliveries answered by the receiver, by integration (namespace/name), event and result (processed, ignored, rejected, duplicate).",
	}, []string{"integration", "event", "result"})

	// ReceiverLatency observes how long the receiver takes to answer.
	ReceiverLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "hookwarden_receiver_request_duration_seconds",
		Help:    "Time the receiver took to answer a delivery, by HTTP status code.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"code"})

	// GitHubRequests counts requests to the GitHub API.
	GitHubRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hookwarden_github_requests_total",
		Help: "Requests to the GitHub API, by method and HTTP status code.",
	}, []string{"method", "status"})

	// RateLimitRemaining is GitHub's x-ratelimit-remaining per token fingerprint.
	RateLimitRemaining = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "hookwarden_github_rate_limit_remaining",
		Help: "GitHub's x-ratelimit-remaining as last seen, by token fingerprint and resource.",
	}, []string{"token", "resource"})

	// HooksRegistered is the number of hooks registered per integration.
	HooksRegistered = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "hookwarden_hooks_registered",
		Help: "Hooks registered on GitHub, by integration (namespace/name).",
	}, []string{"integration"})

	// Redeliveries counts redeliveries requested from GitHub.
	Redeliveries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hookwarden_redeliveries_total",
		Help: "Redeliveries of failed deliveries requested from GitHub, by integration (namespace/name).",
	}, []string{"integration"})

	// StatusWrites counts status patches sent to the Kubernetes API.
	StatusWrites = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hookwarden_status_writes_total",
		Help: "Status patches sent to the Kubernetes API, by writer (reconciler, receiver, githubissue).",
	}, []string{"writer"})
)

func init() {
	ctrlmetrics.Registry.MustRegister(Deliveries, ReceiverLatency, GitHubRequests, RateLimitRemaining,
		HooksRegistered, Redeliveries, StatusWrites)
}
