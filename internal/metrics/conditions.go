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
// status of each condition type, packed in one word, and builds the same
// series when it is scraped: what a scrape shows is unchanged.
type conditionGauges struct {
	desc *prometheus.Desc

	mu sync.RWMutex
	// types are the condition types set so far, in the order they came:
	// a conditionCodes holds a code per index of types.
	types []string
	// byIntegration holds the conditions of each integration that has
	// any; an integration with none has no entry.
	byIntegration map[integrationKey]conditionCodes
}

// integrationKey names an integration. Its strings are the reconciler's
// (those of the cached object), not copies.
type integrationKey struct{ namespace, name string }

// maxConditionTypes is how many condition types a conditionCodes holds.
// The reconciler exports three (Ready, Reconciling, Stalled); set drops
// the statuses of condition types past this many.
const maxConditionTypes = 8

// conditionCodes packs the status of each condition type of an
// integration, four bits per index of conditionGauges.types: 0 when it
// does not have that condition, 1 + the index of its status in
// ConditionStatuses, or codeOther for a value outside them (then all three
// series are 0). A slice of type and status per integration cost some
// 150 bytes; a word in the map entry, nothing more.
type conditionCodes uint32

const (
	codeBits  = 4
	codeMask  = 1<<codeBits - 1
	codeOther = codeMask
)

func (c conditionCodes) code(i int) conditionCodes { return c >> (i * codeBits) & codeMask }

func (c conditionCodes) with(i int, code conditionCodes) conditionCodes {
	return c&^(codeMask<<(i*codeBits)) | code<<(i*codeBits)
}

func newConditionGauges(desc *prometheus.Desc) *conditionGauges {
	return &conditionGauges{desc: desc, byIntegration: map[integrationKey]conditionCodes{}}
}

// set records the status of one condition type of the integration; an
// empty status forgets the condition type, and the integration with its
// last one.
func (g *conditionGauges) set(namespace, name, condType, status string) {
	key := integrationKey{namespace, name}
	g.mu.Lock()
	defer g.mu.Unlock()
	i := slices.Index(g.types, condType)
	if i < 0 {
		if status == "" || len(g.types) == maxConditionTypes {
			return
		}
		g.types = append(g.types, condType)
		i = len(g.types) - 1
	}
	var code conditionCodes
	if status != "" {
		code = codeOther
		for st, s := range ConditionStatuses {
			if s == status {
				code = conditionCodes(1 + st) //nolint:gosec // st indexes the three ConditionStatuses
			}
		}
	}
	codes := g.byIntegration[key].with(i, code)
	if codes == 0 {
		delete(g.byIntegration, key)
		return
	}
	g.byIntegration[key] = codes
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
	for key, codes := range g.byIntegration {
		for t, condType := range g.types {
			code := codes.code(t)
			if code == 0 {
				continue
			}
			for i, status := range ConditionStatuses {
				v := 0.0
				if int(code) == 1+i {
					v = 1
				}
				ch <- prometheus.MustNewConstMetric(g.desc, prometheus.GaugeValue, v, key.namespace, key.name, condType, status)
			}
		}
	}
}
