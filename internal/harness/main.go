package harness

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"testing"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/hookwarden/hookwarden/internal/testenv"
)

// Main is the TestMain of a suite that runs the built binary (test/scale,
// test/resilience). The operator logs in its own process, so the suite's
// clients log nothing (controller-runtime would print a stack trace the
// first time one is made). When enabled, it starts a control plane with
// start and stores it in *env before the tests run, and stops it and runs
// cleanup (when not nil) after them, or when the process gets SIGINT or
// SIGTERM: kube-apiserver and etcd outlive their parent otherwise. It exits
// the process.
func Main(m *testing.M, enabled bool, env **testenv.Env, start func() (*testenv.Env, error), cleanup func()) {
	ctrllog.SetLogger(logr.Discard())
	if !enabled {
		os.Exit(m.Run())
	}
	var err error
	if *env, err = start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		if cleanup != nil {
			cleanup()
		}
		os.Exit(1)
	}
	stop := func() error {
		err := (*env).Stop()
		if cleanup != nil {
			cleanup()
		}
		return err
	}
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig := <-signals
		fmt.Fprintf(os.Stderr, "%s: stopping the control plane\n", sig)
		_ = stop()
		os.Exit(1)
	}()
	code := m.Run()
	if err := stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stop control plane:", err)
	}
	os.Exit(code)
}
