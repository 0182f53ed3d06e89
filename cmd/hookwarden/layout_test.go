package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLayoutImports keeps the layout docs/architecture.md describes: the
// reconcilers and the receiver never import each other (they meet only
// through API objects), and the pure delivery package imports nothing from
// Kubernetes.
func TestLayoutImports(t *testing.T) {
	deps := func(pkg string) []string {
		t.Helper()
		out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		return strings.Fields(string(out))
	}
	const module = "github.com/hookwarden/hookwarden/"
	rules := []struct {
		pkg       string
		forbidden func(dep string) bool
		why       string
	}{
		{module + "controllers/...", func(d string) bool { return strings.HasPrefix(d, module+"webhookserver") },
			"the reconcilers must not import the receiver"},
		{module + "webhookserver/...", func(d string) bool { return strings.HasPrefix(d, module+"controllers") },
			"the receiver must not import the reconcilers"},
		{module + "internal/delivery/...", func(d string) bool {
			return strings.HasPrefix(d, "k8s.io/") || strings.HasPrefix(d, "sigs.k8s.io/") || strings.HasPrefix(d, module+"api/")
		}, "the delivery package must import nothing from Kubernetes"},
	}
	for _, rule := range rules {
		all := deps(rule.pkg)
		if len(all) == 0 {
			t.Fatalf("go list found no packages for %s", rule.pkg)
		}
		for _, dep := range all {
			if rule.forbidden(dep) {
				t.Errorf("%s imports %s: %s", rule.pkg, dep, rule.why)
			}
		}
	}
}
