package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookwarden/hookwarden/internal/testenv"
)

// scrape reads the manager's metrics endpoint in the text format and returns
// its sample lines.
func scrape(t *testing.T, addr string) []string {
	t.Helper()
	code, body := get(t, "http://"+addr+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics answered %d", code)
	}
	var samples []string
	for _, line := range strings.Split(body, "\n") {
		if line != "" && !strings.HasPrefix(line, "#") {
			samples = append(samples, line)
		}
	}
	return samples
}

// families are the metric family names of samples (a histogram's
// _bucket, _sum and _count samples count as their family too).
func families(samples []string) map[string]bool {
	out := map[string]bool{}
	for _, s := range samples {
		name := s[:strings.IndexAny(s, "{ ")]
		out[name] = true
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(name, suffix); ok {
				out[base] = true
			}
		}
	}
	return out
}

// TestMetricsOfARunningManager scrapes a running manager that registered
// hooks and answered deliveries: the integration is named by namespace and
// name labels, its condition is a gauge, the build is described, every
// metric the Grafana dashboard queries exists, and once the integration is
// deleted none of its series is left.
func TestMetricsOfARunningManager(t *testing.T) {
	e := newE2E(t, []string{"acme/api"})
	metricsAddr := freeAddr(t)
	e.opts.MetricsBindAddress = metricsAddr
	e.start()
	e.readyIntegration("observed", []string{"acme/api"}, e2eOldSecret)
	if code := e.deliver("observed", e2eOldSecret); code != http.StatusOK {
		t.Fatalf("a signed delivery answered %d", code)
	}
	if code := e.deliver("observed", "not-the-secret"); code != http.StatusUnauthorized {
		t.Fatalf("a wrongly signed delivery answered %d", code)
	}

	ours := fmt.Sprintf(`namespace=%q,name="observed"`, e.ns)
	var samples []string
	e.eventually(10*time.Second, func() error {
		samples = scrape(t, metricsAddr)
		for _, want := range []string{
			`hookwarden_deliveries_total{event="push",name="observed",namespace="` + e.ns + `",result="processed"} 1`,
			`hookwarden_deliveries_total{event="",name="observed",namespace="` + e.ns + `",result="rejected"} 1`,
			`hookwarden_hooks_registered{` + `name="observed",namespace="` + e.ns + `"} 1`,
			`hookwarden_integration_condition{name="observed",namespace="` + e.ns + `",status="True",type="Ready"} 1`,
			`hookwarden_integration_condition{name="observed",namespace="` + e.ns + `",status="False",type="Ready"} 0`,
			fmt.Sprintf(`hookwarden_build_info{commit="unknown",goversion=%q,version="dev"} 1`, runtime.Version()),
		} {
			if !slices.Contains(samples, want) {
				return fmt.Errorf("no sample %s", want)
			}
		}
		return nil
	})
	for _, s := range samples {
		if strings.Contains(s, `integration="`) || strings.Contains(s, `status="200"`) {
			t.Errorf("sample %s labels an integration or an HTTP code the old way", s)
		}
	}

	t.Run("the dashboard queries only metrics that exist", func(t *testing.T) {
		have := families(samples)
		for _, name := range dashboardMetrics(t) {
			if !have[name] {
				t.Errorf("config/monitoring/dashboard.json queries %s, which the manager does not expose", name)
			}
		}
	})

	if err := e.env.Client.Delete(e.ctx, e.get("observed")); err != nil {
		t.Fatal(err)
	}
	e.eventually(30*time.Second, func() error {
		var left []string
		for _, s := range scrape(t, metricsAddr) {
			if strings.Contains(s, ours) || strings.Contains(s, `name="observed",namespace="`+e.ns+`"`) {
				left = append(left, s)
			}
		}
		if len(left) > 0 {
			return fmt.Errorf("the deleted integration left %d series: %s", len(left), strings.Join(left, "\n"))
		}
		return nil
	})
}

// metricName matches the metric names in a PromQL expression: hookwarden's,
// controller-runtime's and the work queue's.
var metricName = regexp.MustCompile(`\b(?:hookwarden|controller_runtime|workqueue)_[a-zA-Z0-9_]+`)

// dashboardMetrics returns the metric families the dashboard's queries and
// variables read.
func dashboardMetrics(t *testing.T) []string {
	t.Helper()
	var dashboard struct {
		Panels []struct {
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Definition string `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal([]byte(testenv.ReadRepoFile(t, "config/monitoring/dashboard.json")), &dashboard); err != nil {
		t.Fatal(err)
	}
	var exprs []string
	for _, p := range dashboard.Panels {
		for _, target := range p.Targets {
			exprs = append(exprs, target.Expr)
		}
	}
	for _, v := range dashboard.Templating.List {
		exprs = append(exprs, v.Definition)
	}
	var names []string
	for _, expr := range exprs {
		for _, name := range metricName.FindAllString(expr, -1) {
			for _, suffix := range []string{"_bucket", "_count", "_sum"} {
				name = strings.TrimSuffix(name, suffix)
			}
			if !slices.Contains(names, name) {
				names = append(names, name)
			}
		}
	}
	if len(names) < 10 {
		t.Fatalf("the dashboard queries %d metrics: %v", len(names), names)
	}
	return names
}
