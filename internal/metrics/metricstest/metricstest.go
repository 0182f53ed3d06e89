// Package metricstest reads hookwarden's metrics back in tests, from the
// registry the metrics endpoint serves.
package metricstest

import (
	"testing"

	dto "github.com/prometheus/client_model/go"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Sample is one series: its labels and its value (a histogram's sample
// count).
type Sample struct {
	Labels map[string]string
	Value  float64
}

// Series returns the series of the metric family name whose labels include
// match.
func Series(t testing.TB, name string, match map[string]string) []Sample {
	t.Helper()
	families, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []Sample
	for _, mf := range families {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			for k, v := range match {
				if labels[k] != v {
					continue series
				}
			}
			out = append(out, Sample{Labels: labels, Value: value(m)})
		}
	}
	return out
}

// Value is the value of the one series of name whose labels include match;
// ok is false when there is none.
func Value(t testing.TB, name string, match map[string]string) (v float64, ok bool) {
	t.Helper()
	s := Series(t, name, match)
	switch len(s) {
	case 0:
		return 0, false
	case 1:
		return s[0].Value, true
	}
	t.Fatalf("%d series of %s match %v, want one", len(s), name, match)
	return 0, false
}

func value(m *dto.Metric) float64 {
	switch {
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue()
	case m.GetGauge() != nil:
		return m.GetGauge().GetValue()
	case m.GetHistogram() != nil:
		return float64(m.GetHistogram().GetSampleCount())
	}
	return m.GetUntyped().GetValue()
}
