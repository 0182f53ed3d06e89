package main

import (
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/hookwarden/hookwarden/internal/installer"
	"github.com/hookwarden/hookwarden/internal/testenv"
	"github.com/hookwarden/hookwarden/webhookserver"
)

func parse(t *testing.T, args []string, env map[string]string) (Options, error) {
	t.Helper()
	o := DefaultOptions()
	fs := flag.NewFlagSet("hookwarden", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	given, err := ApplyEnv(fs, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		return o, err
	}
	warnings, err := o.CheckGiven(given)
	if err == nil && len(warnings) > 0 {
		// parse's callers take no warning: those that expect one call
		// CheckGiven themselves.
		return o, fmt.Errorf("warnings: %s", strings.Join(warnings, "; "))
	}
	return o, err
}

func TestFlagsAndEnv(t *testing.T) {
	o, err := parse(t, []string{"--public-url=https://flag.example.com"}, map[string]string{
		"HOOKWARDEN_PUBLIC_URL":            "https://env.example.com",
		"HOOKWARDEN_WATCH_NAMESPACES":      "team-a, team-b",
		"HOOKWARDEN_STATUS_FLUSH_INTERVAL": "5s",
		"HOOKWARDEN_LEADER_ELECT":          "true",
		"HOOKWARDEN_RECEIVER_MAX_INFLIGHT": "64",
		"HOOKWARDEN_STATUS_WRITE_RATE":     "2.5",
	})
	if err != nil {
		t.Fatal(err)
	}
	if o.PublicURL != "https://flag.example.com" {
		t.Errorf("PublicURL = %q: the command line must win over the environment", o.PublicURL)
	}
	if !reflect.DeepEqual(o.WatchNamespaces, []string{"team-a", "team-b"}) {
		t.Errorf("WatchNamespaces = %v", o.WatchNamespaces)
	}
	if o.StatusFlushInterval != 5*time.Second || !o.LeaderElect || o.ReceiverMaxInflight != 64 || o.ReceiverOptions().StatusWriteRate != 2.5 {
		t.Errorf("env not applied: %+v", o)
	}
	if o.ReceiverBindAddress != ":9292" || o.GitHubURL != "https://api.github.com/" || o.RedeliveryWindow != 72*time.Hour {
		t.Errorf("defaults lost: %+v", o)
	}
	// GitHub Enterprise Server keeps deliveries 7 days.
	if o, err := parse(t, []string{"--redelivery-window=168h"}, nil); err != nil || o.RedeliveryWindow != 168*time.Hour {
		t.Errorf("--redelivery-window=168h gave %s, %v", o.RedeliveryWindow, err)
	}
}

func TestEnvErrorsNameTheVariable(t *testing.T) {
	_, err := parse(t, nil, map[string]string{"HOOKWARDEN_RECEIVER_MAX_INFLIGHT": "lots", "HOOKWARDEN_REDELIVERY_WINDOW": "3 days",
		"HOOKWARDEN_STATUS_WRITE_RATE": "fast"})
	for _, want := range []string{
		`HOOKWARDEN_RECEIVER_MAX_INFLIGHT="lots" (flag --receiver-max-inflight): want a whole number such as 64`,
		`HOOKWARDEN_REDELIVERY_WINDOW="3 days" (flag --redelivery-window): want a duration such as 30s, 5m or 1h30m`,
		`HOOKWARDEN_STATUS_WRITE_RATE="fast" (flag --status-write-rate): want a number such as 0.5`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want it to say %s", err, want)
		}
	}
	// A value type of hookwarden's own keeps its own explanation.
	if _, err := parse(t, nil, map[string]string{"HOOKWARDEN_RECEIVER_BODY_BUDGET": "lots"}); err == nil ||
		!strings.Contains(err.Error(), `HOOKWARDEN_RECEIVER_BODY_BUDGET="lots" (flag --receiver-body-budget): not a size such as 128Mi`) {
		t.Errorf("error %v, want it to name the variable, the flag and a size such as 128Mi", err)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"defaults", nil, ""},
		{"relative public url", []string{"--public-url=hooks.example.com"}, "--public-url"},
		{"ftp github url", []string{"--github-url=ftp://github.example.com"}, "--github-url"},
		{"zero inflight", []string{"--receiver-max-inflight=0"}, "--receiver-max-inflight"},
		{"zero flush", []string{"--status-flush-interval=0s"}, "--status-flush-interval"},
		{"zero redelivery window", []string{"--redelivery-window=0s"}, "--redelivery-window"},
		{"zero write rate", []string{"--status-write-rate=0"}, "--status-write-rate=0: must be a positive number of status writes per second"},
		{"negative write rate", []string{"--status-write-rate=-5"}, "--status-write-rate=-5: must be a positive"},
		{"NaN write rate", []string{"--status-write-rate=NaN"}, "--status-write-rate=NaN: must be a positive"},
		{"infinite write rate", []string{"--status-write-rate=+Inf"}, "--status-write-rate=+Inf: must be a positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parse(t, tt.args, nil)
			if err != nil {
				t.Fatal(err)
			}
			err = o.Validate()
			if tt.wantErr == "" && err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("error %v, want it to name %s", err, tt.wantErr)
			}
		})
	}
}

// TestReceiverFlags: the receiver's limits have flags, sizes are quantities,
// and impossible values are refused with what to fix.
func TestReceiverFlags(t *testing.T) {
	o, err := parse(t, []string{"--receiver-body-budget=256Mi", "--receiver-max-connections=2048",
		"--receiver-max-connections-per-ip=16"}, map[string]string{"HOOKWARDEN_RECEIVER_DEDUPE_SIZE": "1000"})
	if err != nil {
		t.Fatal(err)
	}
	r := o.ReceiverOptions()
	if r.BodyBudget != 256<<20 || r.MaxConnections != 2048 || r.MaxConnectionsPerIP != 16 || r.DedupeSize != 1000 {
		t.Errorf("receiver options %+v", r)
	}
	for _, tc := range []struct{ args []string }{
		{[]string{"--receiver-body-budget=1Mi"}},
		{[]string{"--receiver-max-connections=8", "--receiver-max-connections-per-ip=16"}},
		{[]string{"--receiver-dedupe-size=0"}},
	} {
		o, err := parse(t, tc.args, nil)
		if err != nil {
			t.Fatal(err)
		}
		flagName, _, _ := strings.Cut(tc.args[0], "=")
		if err := o.Validate(); err == nil || !strings.Contains(err.Error(), flagName) {
			t.Errorf("%v: error %v, want it to name %s", tc.args, err, flagName)
		}
	}
	if _, err := parse(t, []string{"--receiver-body-budget=lots"}, nil); err == nil {
		t.Error("--receiver-body-budget=lots accepted")
	}
}

// TestDefaultReceiverLimitsFitTheDeployment: the worst case of the
// receiver's default flags leaves the reconciler its room within the
// Deployment's memory limit.
func TestDefaultReceiverLimitsFitTheDeployment(t *testing.T) {
	o := DefaultOptions()
	worst := o.ReceiverOptions().WorstCaseMemory().Total()
	if worst+webhookserver.ReconcilerMemory > webhookserver.DeploymentMemoryLimit {
		t.Errorf("receiver worst case %d MiB + %d MiB for the reconciler exceeds %d MiB", worst>>20,
			webhookserver.ReconcilerMemory>>20, webhookserver.DeploymentMemoryLimit>>20)
	}
}

// TestComponentsFlag: --components (or HOOKWARDEN_COMPONENTS) chooses the
// roles, a bad value names the flag and the accepted form, and a process
// running one role needs the operator's namespace, taken from POD_NAMESPACE
// by default.
func TestComponentsFlag(t *testing.T) {
	t.Setenv("POD_NAMESPACE", "hookwarden-system")
	o, err := parse(t, nil, nil)
	if err != nil || !reflect.DeepEqual(o.Components, []string{ComponentController, ComponentReceiver}) || o.split() {
		t.Fatalf("default components %v (%v), want both in one process", o.Components, err)
	}
	if o.ReceiverOptions().MirrorNamespace != "" {
		t.Error("the single-process receiver reads mirrors")
	}
	o, err = parse(t, nil, map[string]string{"HOOKWARDEN_COMPONENTS": "receiver"})
	if err != nil || !reflect.DeepEqual(o.Components, []string{ComponentReceiver}) || o.runs(ComponentController) {
		t.Fatalf("HOOKWARDEN_COMPONENTS=receiver gave %v, %v", o.Components, err)
	}
	if err := o.Validate(); err != nil {
		t.Errorf("receiver-only: %v", err)
	}
	if got := o.ReceiverOptions().MirrorNamespace; got != "hookwarden-system" {
		t.Errorf("the receiver-only process reads mirrors in %q, want POD_NAMESPACE's hookwarden-system", got)
	}
	o, err = parse(t, []string{"--components=receiver, controller"}, nil)
	if err != nil || o.split() {
		t.Errorf("--components=receiver, controller gave %v, %v", o.Components, err)
	}

	for _, bad := range []string{"--components=webhooks", "--components=,"} {
		_, err := parse(t, []string{bad}, nil)
		if err == nil || !strings.Contains(err.Error(), "components") || !strings.Contains(err.Error(), "controller, receiver, or controller,receiver") {
			t.Errorf("%s: error %v, want it to name the flag and the accepted values", bad, err)
		}
	}
	if _, err := parse(t, nil, map[string]string{"HOOKWARDEN_COMPONENTS": "web"}); err == nil ||
		!strings.Contains(err.Error(), "HOOKWARDEN_COMPONENTS") {
		t.Errorf("HOOKWARDEN_COMPONENTS=web: error %v, want it to name the variable", err)
	}

	t.Setenv("POD_NAMESPACE", "")
	o, err = parse(t, []string{"--components=controller", "--receiver-service=hookwarden-receiver"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	o.OperatorNamespace = "" // as outside a pod
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "--operator-namespace") {
		t.Errorf("controller-only without a namespace: error %v, want it to ask for --operator-namespace", err)
	}
	o, err = parse(t, []string{"--receiver-service=hookwarden-receiver"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "--receiver-service") {
		t.Errorf("--receiver-service in the single-process layout: error %v, want it refused", err)
	}
}

// TestEveryFlagNamesItsReaders: each flag is either read by both
// components or listed with the one that reads it, so that a new flag
// cannot be given to a process that ignores it without a word.
func TestEveryFlagNamesItsReaders(t *testing.T) {
	o := DefaultOptions()
	fs := flag.NewFlagSet("hookwarden", flag.ContinueOnError)
	o.RegisterFlags(fs)
	fs.VisitAll(func(f *flag.Flag) {
		_, one := readBy[f.Name]
		if both := slices.Contains(readByBoth, f.Name); one == both {
			t.Errorf("--%s: list it in readBy (one component reads it) or in readByBoth, not both or neither", f.Name)
		}
	})
	for name := range readBy {
		if fs.Lookup(name) == nil {
			t.Errorf("readBy names --%s, which is not a flag", name)
		}
	}
}

// TestFlagsOfAnotherComponentAreRefused: a process refuses a flag, given
// on the command line or through its variable, that only a component it
// does not run reads, naming where it was given and where it belongs; a
// process running both takes every flag.
func TestFlagsOfAnotherComponentAreRefused(t *testing.T) {
	t.Setenv("POD_NAMESPACE", "hookwarden-system")
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want []string // in the error, in order; none: no error
	}{
		{args: []string{"--components=controller", "--receiver-max-inflight=1024"},
			want: []string{"--receiver-max-inflight: only the receiver reads it", "--components=controller", "receiver's Deployment"}},
		{args: []string{"--components=controller"}, env: map[string]string{"HOOKWARDEN_ALLOWED_SOURCE_CIDRS": "github"},
			want: []string{"HOOKWARDEN_ALLOWED_SOURCE_CIDRS: only the receiver reads it"}},
		{args: []string{"--components=receiver", "--max-concurrent-reconciles=4", "--leader-elect"},
			want: []string{"--leader-elect: only the controller reads it", "--max-concurrent-reconciles: only the controller reads it", "controller's Deployment"}},
		{env: map[string]string{"HOOKWARDEN_COMPONENTS": "receiver", "HOOKWARDEN_PUBLIC_URL": "https://hooks.example.com"},
			want: []string{"HOOKWARDEN_PUBLIC_URL: only the controller reads it", "--components=receiver"}},
		{args: []string{"--components=controller", "--github-url=https://github.example.com/api/v3/", "--watch-namespaces=a", "--leader-elect", "--public-url=https://hooks.example.com"}},
		{args: []string{"--components=receiver", "--github-url=https://github.example.com/api/v3/", "--receiver-bind-address=:9292", "--allowed-source-cidrs=github"},
			env: map[string]string{"HOOKWARDEN_TRUSTED_PROXIES": "10.0.0.0/8"}},
		{args: []string{"--receiver-bind-address=:9292", "--leader-elect", "--max-concurrent-reconciles=4"},
			env: map[string]string{"HOOKWARDEN_TRUSTED_PROXIES": "10.0.0.0/8"}},
	} {
		_, err := parse(t, tc.args, tc.env)
		if len(tc.want) == 0 {
			if err != nil {
				t.Errorf("%v %v: %v", tc.args, tc.env, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%v %v: taken, want it refused", tc.args, tc.env)
			continue
		}
		rest := err.Error()
		for _, w := range tc.want {
			i := strings.Index(rest, w)
			if i < 0 {
				t.Errorf("%v %v: error %q, want %q (in that order)", tc.args, tc.env, err, w)
				break
			}
			rest = rest[i+len(w):]
		}
	}
}

// TestEarlierManifestsStillStartTheController: the receiver's settings
// the split layout's controller got from the manifests of earlier releases
// are ignored with a warning, not refused, so an image upgraded before its
// manifests still starts; any other setting of the receiver is refused
// with them.
func TestEarlierManifestsStillStartTheController(t *testing.T) {
	t.Setenv("POD_NAMESPACE", "hookwarden-system")
	o := DefaultOptions()
	fs := flag.NewFlagSet("hookwarden", flag.ContinueOnError)
	o.RegisterFlags(fs)
	if err := fs.Parse([]string{"--leader-elect", "--receiver-bind-address=:9292", "--components=controller"}); err != nil {
		t.Fatal(err)
	}
	given, err := ApplyEnv(fs, func(k string) (string, bool) {
		return "10.0.0.0/8", k == "HOOKWARDEN_TRUSTED_PROXIES"
	})
	if err != nil {
		t.Fatal(err)
	}
	warnings, err := o.CheckGiven(given)
	if err != nil {
		t.Fatalf("the earlier manifests' controller is refused: %v", err)
	}
	want := []string{"--receiver-bind-address: only the receiver reads it", "HOOKWARDEN_TRUSTED_PROXIES: only the receiver reads it"}
	if len(warnings) != len(want) {
		t.Fatalf("warnings %q, want one for each of %q", warnings, want)
	}
	for i, w := range want {
		if !strings.HasPrefix(warnings[i], w) || !strings.Contains(warnings[i], "ignored; remove it") {
			t.Errorf("warning %q, want it to start %q and say it is ignored", warnings[i], w)
		}
	}
	given["receiver-cert-dir"] = "--receiver-cert-dir"
	if _, err := o.CheckGiven(given); err == nil || !strings.Contains(err.Error(), "--receiver-cert-dir") {
		t.Errorf("another receiver flag beside them: error %v, want it refused", err)
	}
}

// TestManifestsGiveEachProcessItsFlags parses the arguments and
// HOOKWARDEN_* variables of every container of config/default and
// config/split (the chart renders the same: charts/chart_test.go) as the
// binary does: none is refused.
func TestManifestsGiveEachProcessItsFlags(t *testing.T) {
	for _, dir := range []string{"config/default", "config/split"} {
		manifests, err := installer.Render(filepath.Join(testenv.RepoRoot(), dir), "")
		if err != nil {
			t.Fatal(err)
		}
		objs, err := installer.Objects(manifests)
		if err != nil {
			t.Fatal(err)
		}
		deployments := 0
		for _, obj := range objs {
			if obj.GetKind() != "Deployment" {
				continue
			}
			var d appsv1.Deployment
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, &d); err != nil {
				t.Fatal(err)
			}
			for _, c := range d.Spec.Template.Spec.Containers {
				deployments++
				env := map[string]string{}
				for _, e := range c.Env {
					if e.ValueFrom == nil {
						env[e.Name] = e.Value
					}
				}
				t.Setenv("POD_NAMESPACE", "hookwarden-system")
				o, err := parse(t, c.Args, env)
				if err == nil {
					err = o.Validate()
				}
				if err != nil {
					t.Errorf("%s: Deployment %s, container %s: %v", dir, d.Name, c.Name, err)
				}
			}
		}
		if want := map[string]int{"config/default": 1, "config/split": 2}[dir]; deployments != want {
			t.Errorf("%s: %d containers in Deployments, want %d", dir, deployments, want)
		}
	}
}
