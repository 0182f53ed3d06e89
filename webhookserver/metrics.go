package webhookserver

import (
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hookwarden/hookwarden/internal/metrics"
)

// answerMetrics caches the children of the receiver's metric vectors, so
// that an answer does not hash its label values under the vectors' locks nor
// format its status code. The label sets are bounded: integrations are
// known ones, events are GitHub's published events that the integration
// subscribes to, and ping (recordedEvent), results and codes are the
// receiver's own.
type answerMetrics struct {
	mu         sync.RWMutex
	deliveries map[deliveryLabels]prometheus.Counter
	latency    map[int]prometheus.Observer
}

// deliveryLabels are the labels of hookwarden_deliveries_total: the
// integration (namespace, name), the event and the result.
type deliveryLabels struct {
	namespace, name, event, result string
}

var receiverMetrics = &answerMetrics{
	deliveries: map[deliveryLabels]prometheus.Counter{},
	latency:    map[int]prometheus.Observer{},
}

// observe counts an answer and its duration in seconds. A series is
// created only for an answer that names no integration or one that known
// still reports: an answer racing the integration's deletion (its lookup
// before, its count after forget) must not bring its series back.
func (m *answerMetrics) observe(labels deliveryLabels, code int, seconds float64, known func(namespace, name string) bool) {
	m.mu.RLock()
	counter, okCounter := m.deliveries[labels]
	observer, okObserver := m.latency[code]
	m.mu.RUnlock()
	if !okCounter || !okObserver {
		m.mu.Lock()
		if counter, okCounter = m.deliveries[labels]; !okCounter {
			if labels.name != "" && !known(labels.namespace, labels.name) {
				counter = nil
			} else {
				counter = metrics.Deliveries.WithLabelValues(labels.namespace, labels.name, labels.event, labels.result)
				m.deliveries[labels] = counter
			}
		}
		if observer, okObserver = m.latency[code]; !okObserver {
			observer = metrics.ReceiverLatency.WithLabelValues(strconv.Itoa(code))
			m.latency[code] = observer
		}
		m.mu.Unlock()
	}
	if counter != nil {
		counter.Inc()
	}
	observer.Observe(seconds)
}

// forget deletes the delivery series of the integration namespace/name and
// the children cached for them, once the receiver no longer knows it: a
// deleted integration leaves no series behind.
func (m *answerMetrics) forget(namespace, name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for labels := range m.deliveries {
		if labels.namespace == namespace && labels.name == name {
			delete(m.deliveries, labels)
		}
	}
	metrics.Deliveries.DeletePartialMatch(metrics.Integration(namespace, name))
}
