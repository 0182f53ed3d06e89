package metrics

import (
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// conditionGauges is the collector of IntegrationCondition. A GaugeVec
// keeps every series it ever exported as a gauge with its label pairs and
// hashes: nine of them per integration (three condition types, three
// statuses), about 2 KB an integration, the largest part of the operator's
// memory per integration. conditionGauges keeps, per integration, only the
// status of each condition type, and builds the same series when it is
// scraped: what a scrape shows is unchanged.
type conditionGauges struct {
	desc *prometheus.Desc

	mu sync.RWMutex
	// byIntegration holds the conditions of each integration that has
	// any; an integration with none has no entry.
	byIntegration map[integrationKey][]conditionState
}

// integrationKey names an integration. Its strings are the reconciler's
// (those of the cached object), not copies.
type integrationKey struct{ namespace, name string }

// conditionState is one condition type of an integration and the index
// of its status in ConditionStatuses (-1 for a value outside them:
// then all three series are 0).
type conditionState struct {
	condType string
	status   int
}

func newConditionGauges(desc *prometheus.Desc) *conditionGauges {
	return &conditionGauges{desc: desc, byIntegration: map[integrationKey][]conditionState{}}
}

// set records the status of one condition type of the integration; an
// empty status forgets the condition type, and the integration with its
// last one.
func (g *conditionGauges) set(namespace, name, condType, status string) {
	key := integrationKey{namespace, name}
	g.mu.Lock()
	defer g.mu.Unlock()
	conds := g.byIntegration[key]
	i := slices.IndexFunc(conds, func(c conditionState) bool { return c.condType == condType })
	if status == "" {
		if i < 0 {
			return
		}
		conds = slices.Delete(conds, i, i+1)
		if len(conds) == 0 {
			delete(g.byIntegration, key)
			return
		}
		g.byIntegration[key] = conds
		return
	}
	// -1 for a value outside ConditionStatuses: its three series are 0.
	st := slices.Index(ConditionStatuses, status)
	if i >= 0 {
		conds[i].status = st
		return
	}
	// Clipped, so that an integration's slice holds no spare room.
	g.byIntegration[key] = slices.Clip(append(conds, conditionState{condType: condType, status: st}))
}

// forget drops every condition of the integration.
func (g *conditionGauges) forget(namespace, name string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.byIntegration, integrationKey{namespace, name})
}

// Describe implements prometheus.Collector.
func (g *conditionGauges) Describe(ch chan<- *prometheus.Desc) { ch <- g.desc }

// Collect implements prometheus.Collector: for each condition type of each
// integration, one series per status, 1 for the current one and 0 for the
// others, as a GaugeVec set that way would show.
func (g *conditionGauges) Collect(ch chan<- prometheus.Metric) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	for key, conds := range g.byIntegration {
		for _, c := range conds {
			for i, status := range ConditionStatuses {
				v := 0.0
				if c.status == i {
					v = 1
				}
				ch <- prometheus.MustNewConstMetric(g.desc, prometheus.GaugeValue, v, key.namespace, key.name, c.condType, status)
			}
		}
	}
}
