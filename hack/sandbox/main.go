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
	verbose := flag.Bool("v", false, "Show the operator's logs.")
	flag.Parse()

	// The operator logs errors only, unless -v: the sandbox shows status.
	level := zapcore.ErrorLevel
	if *verbose {
		level = zapcore.InfoLevel
	}
	ctrl.SetLogger(zap.New(zap.Level(level)))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := sandbox.Run(ctx, opts); err != nil {
		fmt.Fprintln(os.Stderr, "sandbox:", err)
		os.Exit(1)
	}
}
