package main

import (
	"flag"
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/hookwarden/hookwarden/internal/testenv"
)

// TestInstallDocListsEveryFlag keeps the configuration table of
// docs/install.md in step with the manager's flags and their HOOKWARDEN_*
// variables.
func TestInstallDocListsEveryFlag(t *testing.T) {
	doc := readRepoFile(t, "docs/install.md")
	opts := DefaultOptions()
	fs := flag.NewFlagSet("hookwarden", flag.ContinueOnError)
	opts.RegisterFlags(fs)
	fs.VisitAll(func(f *flag.Flag) {
		row := "| `--" + f.Name + "` | `" + EnvName(f.Name) + "` |"
		if !strings.Contains(doc, row) {
			t.Errorf("docs/install.md has no row %q", row)
		}
	})
	// The logging flags are documented by the one most people need.
	zapFlags := flag.NewFlagSet("zap", flag.ContinueOnError)
	(&zap.Options{}).BindFlags(zapFlags)
	if zapFlags.Lookup("zap-log-level") == nil || !strings.Contains(doc, "| `--zap-log-level` | `HOOKWARDEN_ZAP_LOG_LEVEL` |") {
		t.Error("docs/install.md does not document --zap-log-level")
	}
}

func readRepoFile(t *testing.T, name string) string { return testenv.ReadRepoFile(t, name) }
