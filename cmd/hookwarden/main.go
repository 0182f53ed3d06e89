// Command hookwarden runs the hookwarden operator: the GitHubIntegration
// controller and the delivery receiver. `hookwarden send` signs and sends a
// test delivery to a receiver instead; `hookwarden version` prints the
// version; `hookwarden completion SHELL` prints a completion script.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/hookwarden/hookwarden/internal/cliflag"
	"github.com/hookwarden/hookwarden/internal/logging"
	"github.com/hookwarden/hookwarden/internal/send"
)

const usageHead = `Usage:
  hookwarden [flags]          run the operator: the reconcilers and the delivery receiver
  hookwarden send [flags] F   sign and send a test delivery (hookwarden send --help)
  hookwarden version          print the version, the commit and the Go version
  hookwarden completion SHELL print a completion script for bash, zsh or fish

Every flag can also be set with an environment variable HOOKWARDEN_<FLAG>,
e.g. --public-url with HOOKWARDEN_PUBLIC_URL.

Flags:
`

func main() {
	os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr))
}

// dispatch runs the subcommand args name, or the operator. An unknown
// subcommand or a stray argument is a usage error (exit 2) and never
// starts the operator.
func dispatch(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		switch args[0] {
		case "send":
			return send.Run(args[1:], stdout, stderr)
		case "version":
			if len(args) > 1 {
				fmt.Fprintf(stderr, "hookwarden version: unexpected argument %q\n", args[1])
				return 2
			}
			fmt.Fprintf(stdout, "hookwarden %s (commit %s, %s)\n", version, commit, runtime.Version())
			return 0
		case "completion":
			return completion(args[1:], stdout, stderr)
		}
		fmt.Fprintf(stderr, "hookwarden: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	return run(args, stderr)
}

// usage prints the subcommands and every flag of the operator with its
// default.
func usage(w io.Writer) {
	opts := DefaultOptions()
	fs := newFlagSet(&opts, new(zap.Options))
	fmt.Fprint(w, usageHead)
	fs.SetOutput(w)
	fs.PrintDefaults()
}

func run(args []string, stderr io.Writer) int {
	opts := DefaultOptions()
	zapOpts := zap.Options{}
	fs := newFlagSet(&opts, &zapOpts)
	cliflag.Explain(fs)
	fs.SetOutput(stderr)
	fs.Usage = func() { usage(stderr) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "hookwarden: unexpected argument %q: the operator takes flags only\n\n", fs.Arg(0))
		usage(stderr)
		return 2
	}
	given, err := ApplyEnv(fs, os.LookupEnv)
	var warnings []string
	if err == nil {
		warnings, err = opts.CheckGiven(given)
	}
	if err != nil {
		fmt.Fprintln(stderr, "hookwarden:", err)
		return 2
	}
	logger, flushLog := logging.New(zapOpts)
	defer flushLog()
	ctrl.SetLogger(logger)
	log := ctrl.Log.WithName("setup")
	for _, w := range warnings {
		log.Info("Ignoring a setting: " + w)
	}

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
	log.Info("Starting manager", "version", version, "commit", commit, "receiverBindAddress", opts.ReceiverBindAddress, "publicURL", opts.PublicURL)
	if err := mgr.Start(ctx); err != nil {
		log.Error(err, "Manager stopped with an error")
		return 1
	}
	return 0
}
