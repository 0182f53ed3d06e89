package metrics_test

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/hookwarden/hookwarden/internal/metrics"
	"github.com/hookwarden/hookwarden/internal/metrics/metricstest"
)

const conditionMetric = "hookwarden_integration_condition"

func conditionSeries(t *testing.T, ns, name string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, s := range metricstest.Series(t, conditionMetric, map[string]string{"namespace": ns, "name": name}) {
		out[s.Labels["type"]+"/"+s.Labels["status"]] = s.Value
	}
	return out
}

// TestConditionSeries: each condition type an integration has is three
// series, 1 for its status and 0 for the two others; a condition it no
// longer has, and an integration that is gone, leave no series.
func TestConditionSeries(t *testing.T) {
	ns, name := "team-a", "conditions"
	defer metrics.ForgetReconciled(ns, name)
	metrics.SetCondition(ns, name, "Ready", "False")
	metrics.SetCondition(ns, name, "Stalled", "True")
	metrics.SetCondition(ns, name, "Reconciling", "")
	want := map[string]float64{
		"Ready/True": 0, "Ready/False": 1, "Ready/Unknown": 0,
		"Stalled/True": 1, "Stalled/False": 0, "Stalled/Unknown": 0,
	}
	if got := conditionSeries(t, ns, name); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("series %v, want %v", got, want)
	}

	metrics.SetCondition(ns, name, "Ready", "True")
	metrics.SetCondition(ns, name, "Stalled", "")
	want = map[string]float64{"Ready/True": 1, "Ready/False": 0, "Ready/Unknown": 0}
	if got := conditionSeries(t, ns, name); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after Ready became True and Stalled went: series %v, want %v", got, want)
	}

	metrics.SetCondition(ns, name, "Reconciling", "Maybe")
	want = map[string]float64{"Ready/True": 1, "Ready/False": 0, "Ready/Unknown": 0,
		"Reconciling/True": 0, "Reconciling/False": 0, "Reconciling/Unknown": 0}
	if got := conditionSeries(t, ns, name); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("with a status outside True, False and Unknown: series %v, want %v", got, want)
	}

	metrics.SetCondition(ns, "other", "Ready", "Unknown")
	defer metrics.ForgetReconciled(ns, "other")
	metrics.ForgetReconciled(ns, name)
	if got := conditionSeries(t, ns, name); len(got) != 0 {
		t.Fatalf("after the integration was forgotten: series %v, want none", got)
	}
	if got := conditionSeries(t, ns, "other"); got["Ready/Unknown"] != 1 || len(got) != 3 {
		t.Fatalf("another integration's series %v, want its three Ready series", got)
	}
}

// TestConditionSeriesMemory: the condition series of an integration with
// three conditions cost less than a hundred bytes of heap (its map
// entry), not the ~2 KB that
// nine gauges of a GaugeVec cost (docs/performance.md, memory per
// integration).
func TestConditionSeriesMemory(t *testing.T) {
	const n = 10_000
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("integration-%05d", i)
	}
	defer func() {
		for _, name := range names {
			metrics.ForgetReconciled("memory", name)
		}
	}()
	before := heapInUse()
	for _, name := range names {
		metrics.SetCondition("memory", name, "Ready", "True")
		metrics.SetCondition("memory", name, "Reconciling", "False")
		metrics.SetCondition("memory", name, "Stalled", "False")
	}
	perIntegration := float64(heapInUse()-before) / n
	t.Logf("condition series: %.0f bytes of heap per integration", perIntegration)
	if perIntegration > 120 {
		t.Fatalf("condition series cost %.0f bytes of heap per integration, want at most 120", perIntegration)
	}
	runtime.KeepAlive(names)
}

func heapInUse() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}
