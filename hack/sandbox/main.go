// Command sandbox runs hookwarden end to end on this machine (see
// internal/sandbox). `make sandbox` builds what it needs and runs it;
// `make sandbox ARGS=--once` checks the flow and exits 0 or 1.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.uber.org/zap/zapcore"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/hookwarden/hookwarden/internal/sandbox"
)

func main() {
	opts := sandbox.Options{Out: os.Stdout}
	flag.BoolVar(&opts.Once, "once", false, "Run the flow once, check the outcome and exit 0 (all checks passed) or 1.")
	flag.StringVar(&opts.Dir, "dir", "bin/sandbox", "Directory for the kubeconfig and the webhook secret.")
	flag.DurationVar(&opts.Timeout, "timeout", 90*time.Second, "Longest wait for each step.")
	flag.BoolVar(&opts.Verbose, "v", false, "Show the operator's logs (otherwise errors only: the sandbox shows status).")
	flag.StringVar(&opts.Binary, "binary", os.Getenv("HOOKWARDEN_BINARY"), "The hookwarden binary to run (make sandbox builds bin/hookwarden).")
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.Level(zapcore.ErrorLevel)))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := sandbox.Run(ctx, opts); err != nil {
		fmt.Fprintln(os.Stderr, "sandbox:", err)
		os.Exit(1)
	}
}
