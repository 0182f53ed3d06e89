package harness

import (
	"strings"
	"testing"
)

// The operator under test gets the Go runtime's memory limit the
// Deployment sets.
func TestDeploymentRuntimeEnvHasTheMemoryLimit(t *testing.T) {
	env, err := DeploymentRuntimeEnv()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "GOMEMLIMIT="); ok && v != "" {
			return
		}
	}
	t.Errorf("no GOMEMLIMIT among %v: the manager container of config/manager sets one", env)
}
