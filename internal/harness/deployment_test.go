package harness

import (
	"slices"
	"strings"
	"testing"
)

// The operator under test gets the Go runtime settings the Deployment sets:
// a memory limit, and the GOGC docs/performance.md measured it with.
func TestDeploymentRuntimeEnvHasTheRuntimeSettings(t *testing.T) {
	env, err := DeploymentRuntimeEnv()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(env, func(e string) bool {
		v, ok := strings.CutPrefix(e, "GOMEMLIMIT=")
		return ok && v != ""
	}) {
		t.Errorf("no GOMEMLIMIT among %v: the manager container of config/manager sets one", env)
	}
	if !slices.Contains(env, "GOGC=50") {
		t.Errorf("no GOGC=50 among %v: the manager container of config/manager sets it", env)
	}
}
