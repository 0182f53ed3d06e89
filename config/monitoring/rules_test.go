// Package monitoring holds the tests of the monitoring kit: the alerts, the
// component and the Grafana dashboard beside them.
package monitoring

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/hookwarden/hookwarden/internal/installer"
	"github.com/hookwarden/hookwarden/internal/testenv"
)

// promtool finds promtool (`make promtool` installs it). Outside CI a
// machine without it skips the alert tests; under CI=true it fails them.
func promtool(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err == nil {
		return path
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("promtool is missing: run 'make promtool' (Debian's prometheus package) before the tests")
	}
	t.Skip("promtool is missing: 'make promtool' installs it (make test does)")
	return ""
}

// rulesFile writes the spec.groups of prometheusrule.yaml, the one copy
// of the alerts, as a Prometheus rule file into dir.
func rulesFile(t *testing.T, dir string) string {
	t.Helper()
	var rule struct {
		Kind string `json:"kind"`
		Spec struct {
			Groups []any `json:"groups"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal([]byte(testenv.ReadRepoFile(t, "config/monitoring/prometheusrule.yaml")), &rule); err != nil {
		t.Fatal(err)
	}
	if rule.Kind != "PrometheusRule" || len(rule.Spec.Groups) == 0 {
		t.Fatalf("config/monitoring/prometheusrule.yaml is a %s with %d groups, want a PrometheusRule with the alerts", rule.Kind, len(rule.Spec.Groups))
	}
	out, err := yaml.Marshal(map[string]any{"groups": rule.Spec.Groups})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestAlertRules checks the rules with promtool and runs the cases of
// alerts_test.yaml: each alert fires on the synthetic series it is for, and
// stays quiet on those it is not.
func TestAlertRules(t *testing.T) {
	bin := promtool(t)
	dir := t.TempDir()
	rules := rulesFile(t, dir)
	if out, err := exec.Command(bin, "check", "rules", rules).CombinedOutput(); err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
	cases := filepath.Join(dir, "alerts_test.yaml")
	if err := os.WriteFile(cases, []byte(testenv.ReadRepoFile(t, "config/monitoring/alerts_test.yaml")), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "test", "rules", cases).CombinedOutput(); err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
}

// TestEveryAlertIsTestedAndDocumented: each alert has promtool cases that
// expect it to fire, and a section in docs/monitoring.md (its runbook_url).
func TestEveryAlertIsTestedAndDocumented(t *testing.T) {
	var rule struct {
		Spec struct {
			Groups []struct {
				Rules []struct {
					Alert       string            `json:"alert"`
					Annotations map[string]string `json:"annotations"`
				} `json:"rules"`
			} `json:"groups"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal([]byte(testenv.ReadRepoFile(t, "config/monitoring/prometheusrule.yaml")), &rule); err != nil {
		t.Fatal(err)
	}
	var cases struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string `json:"alertname"`
				ExpAlerts []any  `json:"exp_alerts"`
			} `json:"alert_rule_test"`
		} `json:"tests"`
	}
	if err := yaml.Unmarshal([]byte(testenv.ReadRepoFile(t, "config/monitoring/alerts_test.yaml")), &cases); err != nil {
		t.Fatal(err)
	}
	fires, quiet := map[string]bool{}, map[string]bool{}
	for _, tc := range cases.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = true
			} else {
				quiet[a.Alertname] = true
			}
		}
	}
	doc := testenv.ReadRepoFile(t, "docs/monitoring.md")
	n := 0
	for _, g := range rule.Spec.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			n++
			if !fires[r.Alert] || !quiet[r.Alert] {
				t.Errorf("%s: alerts_test.yaml needs a case where it fires and one where it does not", r.Alert)
			}
			want := "https://github.com/hookwarden/hookwarden/blob/main/docs/monitoring.md#" + strings.ToLower(r.Alert)
			if r.Annotations["runbook_url"] != want || !strings.Contains(doc, "### "+r.Alert+"\n") {
				t.Errorf("%s: runbook_url %q, want %s and a section '### %s' in docs/monitoring.md", r.Alert, r.Annotations["runbook_url"], want, r.Alert)
			}
		}
	}
	if n < 5 {
		t.Errorf("%d alerts, want at least the five of docs/monitoring.md", n)
	}
}

// TestComponentAddsTheMonitoring renders config/default with the
// component, as a user's overlay does: the ServiceMonitor selects the
// metrics Service by its labels and port, in hookwarden's namespace, and
// keeps the metrics' own namespace label.
func TestComponentAddsTheMonitoring(t *testing.T) {
	root := testenv.RepoRoot()
	manifests, err := installer.Render(filepath.Join(root, "config", "default"), "", filepath.Join(root, "config", "monitoring"))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := installer.Objects(manifests)
	if err != nil {
		t.Fatal(err)
	}
	byKind := map[string]map[string]any{}
	var metricsService map[string]any
	for _, o := range objs {
		if o.GetKind() == "Service" && o.GetName() == "hookwarden-metrics" {
			metricsService = o.Object
		}
		if o.GetKind() == "ServiceMonitor" || o.GetKind() == "PrometheusRule" {
			if o.GetNamespace() != "hookwarden-system" {
				t.Errorf("%s %s in namespace %q, want hookwarden-system", o.GetKind(), o.GetName(), o.GetNamespace())
			}
			byKind[o.GetKind()] = o.Object
		}
	}
	if byKind["PrometheusRule"] == nil || byKind["ServiceMonitor"] == nil || metricsService == nil {
		t.Fatalf("rendered %d objects without a PrometheusRule, a ServiceMonitor and the metrics Service", len(objs))
	}
	selector := nested(byKind["ServiceMonitor"], "spec", "selector", "matchLabels").(map[string]any)
	labels := nested(metricsService, "metadata", "labels").(map[string]any)
	for k, v := range selector {
		if labels[k] != v {
			t.Errorf("the ServiceMonitor selects %s=%v, the metrics Service has %s=%v", k, v, k, labels[k])
		}
	}
	endpoint := nested(byKind["ServiceMonitor"], "spec", "endpoints").([]any)[0].(map[string]any)
	port := nested(metricsService, "spec", "ports").([]any)[0].(map[string]any)
	if endpoint["port"] != port["name"] || endpoint["honorLabels"] != true {
		t.Errorf("ServiceMonitor endpoint %v: want port %v and honorLabels (the metrics' namespace label names the integration)", endpoint, port["name"])
	}
}

func nested(obj map[string]any, path ...string) any {
	var cur any = obj
	for _, p := range path {
		m, _ := cur.(map[string]any)
		cur = m[p]
	}
	return cur
}
