// Package metrics defines hookwarden's Prometheus metrics in one place, so
// their names and labels are consistent, and registers them with the
// controller-runtime registry served on the metrics endpoint.
//
// Labels follow kube-state-metrics and Flux: an integration is named by the
// two labels namespace and name, an HTTP status code by the label code.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// The label names shared by several metrics.
const (
	// LabelNamespace and LabelName name an integration.
	LabelNamespace = "namespace"
	LabelName      = "name"
	// LabelCode is an HTTP status code ("error" when no answer came).
	LabelCode = "code"
)

// The writers of status, the values of StatusWrites' writer label.
const (
	WriterReconciler = "reconciler"
	WriterReceiver   = "receiver"
)

var (
	// Deliveries counts deliveries answered by the receiver.
	Deliveries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hookwarden_deliveries_total",
		Help: "Deliveries answered by the receiver, by integration (namespace, name), event and result (processed, ignored, rejected, duplicate).",
	}, []string{LabelNamespace, LabelName, "event", "result"})

	// ReceiverLatency observes how long the receiver takes to answer.
	ReceiverLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "hookwarden_receiver_request_duration_seconds",
		Help:    "Time the receiver took to answer a delivery, by HTTP status code.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{LabelCode})

	// GitHubRequests counts requests to the GitHub API.
	GitHubRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hookwarden_github_requests_total",
		Help: `Requests to the GitHub API, by method and HTTP status code ("error" when no answer came).`,
	}, []string{"method", LabelCode})

	// GitHubRequestDuration observes how long GitHub takes to answer.
	GitHubRequestDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "hookwarden_github_request_duration_seconds",
		Help:    "Time GitHub took to answer a request (or to fail), by method.",
		Buckets: []float64{.025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"method"})

	// RateLimitRemaining is GitHub's x-ratelimit-remaining per token fingerprint.
	RateLimitRemaining = rateLimitGauge("hookwarden_github_rate_limit_remaining",
		"GitHub's x-ratelimit-remaining as last seen, by token fingerprint and resource.")

	// RateLimitLimit is GitHub's x-ratelimit-limit per token fingerprint.
	RateLimitLimit = rateLimitGauge("hookwarden_github_rate_limit_limit",
		"GitHub's x-ratelimit-limit (requests per window) as last seen, by token fingerprint and resource.")

	// RateLimitReset is GitHub's x-ratelimit-reset per token fingerprint.
	RateLimitReset = rateLimitGauge("hookwarden_github_rate_limit_reset_timestamp_seconds",
		"GitHub's x-ratelimit-reset as last seen (Unix time when the window resets), by token fingerprint and resource.")

	// HooksRegistered is the number of hooks registered per integration.
	HooksRegistered = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "hookwarden_hooks_registered",
		Help: "Hooks registered on GitHub, by integration (namespace, name).",
	}, []string{LabelNamespace, LabelName})

	// Redeliveries counts redeliveries requested from GitHub.
	Redeliveries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hookwarden_redeliveries_total",
		Help: "Redeliveries of failed deliveries requested from GitHub, by integration (namespace, name).",
	}, []string{LabelNamespace, LabelName})

	// IntegrationCondition is one series per integration, condition type
	// and status, as kube-state-metrics shows pod conditions: 1 for the
	// condition's current status, 0 for the two others. It is kept as one
	// small entry per integration and its series are built at each scrape
	// (conditions.go): nine prometheus.Gauge series per integration cost
	// about 2 KB each integration.
	IntegrationCondition = newConditionGauges(prometheus.NewDesc("hookwarden_integration_condition",
		"Conditions of each GitHubIntegration as the reconciler last wrote them: 1 for the current status (True, False, Unknown) of each condition type, 0 for the others.",
		[]string{LabelNamespace, LabelName, "type", "status"}, nil))

	// StatusWrites counts status patches sent to the Kubernetes API.
	StatusWrites = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hookwarden_status_writes_total",
		Help: "Status patches sent to the Kubernetes API, by writer (reconciler, receiver, githubissue).",
	}, []string{"writer"})

	// StatusWriteFailures counts status writes that failed for good (after
	// the retries of conflicts).
	StatusWriteFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hookwarden_status_write_failures_total",
		Help: "Status writes that failed (after retrying conflicts), by writer (reconciler, receiver).",
	}, []string{"writer"})

	// StatusPendingIntegrations is how many integrations have delivery
	// results the receiver has not written to status yet.
	StatusPendingIntegrations = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "hookwarden_receiver_status_pending_integrations",
		Help: "Integrations whose delivery results the receiver has not written to status yet, as of its last flush.",
	})

	// StatusPendingAge is how long the oldest delivery result not written
	// to status had waited: how far behind status recording is, and what a
	// SIGKILL at that moment would lose.
	StatusPendingAge = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "hookwarden_receiver_status_pending_age_seconds",
		Help: "Age of the oldest delivery result the receiver had not written to status, as of its last flush: at most --status-flush-interval unless --status-write-rate holds writes back.",
	})

	// BuildInfo is 1, labelled with what `hookwarden version` prints.
	BuildInfo = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "hookwarden_build_info",
		Help: "Always 1, labelled with the version, commit and Go version hookwarden was built with.",
	}, []string{"version", "commit", "goversion"})
)

// rateLimitGauge is a gauge of one of GitHub's x-ratelimit-* headers: the
// client sets the three from the same answer and deletes them together
// (internal/github), so they share their labels.
func rateLimitGauge(name, help string) *prometheus.GaugeVec {
	return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, []string{"token", "resource"})
}

// ConditionStatuses are the values of IntegrationCondition's status label.
var ConditionStatuses = []string{"True", "False", "Unknown"}

func init() {
	ctrlmetrics.Registry.MustRegister(Deliveries, ReceiverLatency, GitHubRequests, GitHubRequestDuration,
		RateLimitRemaining, RateLimitLimit, RateLimitReset, HooksRegistered, Redeliveries, IntegrationCondition,
		StatusWrites, StatusWriteFailures, StatusPendingIntegrations, StatusPendingAge, BuildInfo)
	// The writers are known: their series exist from the start, so that
	// rate() and increase() see the first write or failure.
	for _, w := range []string{WriterReconciler, WriterReceiver} {
		StatusWrites.WithLabelValues(w)
		StatusWriteFailures.WithLabelValues(w)
	}
}

// SetBuildInfo exports the build's version, commit and Go version.
func SetBuildInfo(version, commit, goVersion string) {
	BuildInfo.Reset()
	BuildInfo.WithLabelValues(version, commit, goVersion).Set(1)
}

// Integration is the labels naming the integration namespace/name.
func Integration(namespace, name string) prometheus.Labels {
	return prometheus.Labels{LabelNamespace: namespace, LabelName: name}
}

// SetCondition sets the series of one condition of the integration
// namespace/name to its status (True, False or Unknown); an empty status,
// for a condition the integration does not have, deletes them, so that a
// condition that is gone leaves no series behind.
func SetCondition(namespace, name, condType, status string) {
	IntegrationCondition.set(namespace, name, condType, status)
}

// ForgetReconciled deletes the series the reconciler keeps for the
// integration namespace/name, once it is gone. The receiver forgets its
// own (Deliveries) when it stops knowing the integration.
func ForgetReconciled(namespace, name string) {
	labels := Integration(namespace, name)
	HooksRegistered.DeletePartialMatch(labels)
	Redeliveries.DeletePartialMatch(labels)
	IntegrationCondition.forget(namespace, name)
}
