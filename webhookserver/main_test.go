package webhookserver

import (
	"fmt"
	"os"
	"testing"

	"github.com/hookwarden/hookwarden/internal/testenv"
)

// env is the control plane shared by the envtest tests of this package.
var env *testenv.Env

func TestMain(m *testing.M) {
	var err error
	env, err = testenv.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	if err := env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stop envtest:", err)
	}
	os.Exit(code)
}
