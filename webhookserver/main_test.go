package webhookserver

import (
	"os"
	"testing"

	"github.com/hookwarden/hookwarden/internal/testenv"
)

var (
	// env is the control plane shared by the envtest tests of this package,
	// started by the first test that needs it.
	env    *testenv.Env
	shared testenv.Shared
)

// requireEnv starts the shared control plane once. A test that needs it
// fails (never skips) without KUBEBUILDER_ASSETS. Fuzzing, which runs no
// test, starts no control plane in its workers.
func requireEnv(t testing.TB) {
	t.Helper()
	env = shared.Get(t)
}

func TestMain(m *testing.M) {
	if target := os.Getenv(benchServeEnv); target != "" {
		// A server process of TestSideBySide.
		os.Exit(serveBenchTarget(target))
	}
	code := m.Run()
	shared.Stop()
	os.Exit(code)
}
