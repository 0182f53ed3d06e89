// Command hookwarden runs the hookwarden operator: the GitHubIntegration
// controller and the delivery receiver. `hookwarden send` signs and sends a
// test delivery to a receiver instead.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/hookwarden/hookwarden/internal/logging"
	"github.com/hookwarden/hookwarden/internal/send"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "send" {
		os.Exit(send.Run(os.Args[2:], os.Stdout, os.Stderr))
	}
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	opts := DefaultOptions()
	fs := flag.NewFlagSet("hookwarden", flag.ContinueOnError)
	opts.RegisterFlags(fs)
	zapOpts := zap.Options{}
	zapOpts.BindFlags(fs)
	// --kubeconfig, read by ctrl.GetConfig (also KUBECONFIG, or in-cluster).
	config.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if err := ApplyEnv(fs, os.LookupEnv); err != nil {
		fmt.Fprintln(os.Stderr, "hookwarden:", err)
		return 2
	}
	logger, flushLog := logging.New(zapOpts)
	defer flushLog()
	ctrl.SetLogger(logger)
	log := ctrl.Log.WithName("setup")

	ctx := ctrl.SetupSignalHandler()
	cfg, err := ctrl.GetConfig()
	if err != nil {
		log.Error(err, "Unable to load a kubeconfig")
		return 1
	}
	mgr, err := newManager(ctx, cfg, opts)
	if err != nil {
		log.Error(err, "Unable to set up the manager")
		return 1
	}
	log.Info("Starting manager", "receiverBindAddress", opts.ReceiverBindAddress, "publicURL", opts.PublicURL)
	if err := mgr.Start(ctx); err != nil {
		log.Error(err, "Manager stopped with an error")
		return 1
	}
	return 0
}
