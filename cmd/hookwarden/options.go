package main

// This file holds hookwarden's command-line options: the flags, their
// defaults, the HOOKWARDEN_* environment variables that stand in for them,
// and the checks that say what to fix in a bad value.

import (
	"errors"
	"flag"
	"fmt"
	"maps"
	"math"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/controller-runtime/pkg/client/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/hookwarden/hookwarden/controllers"
	"github.com/hookwarden/hookwarden/internal/cliflag"
	"github.com/hookwarden/hookwarden/webhookserver"
)

// Options configure the manager. Each has a flag; see RegisterFlags.
type Options struct {
	GitHubURL           string
	PublicURL           string
	ReceiverBindAddress string
	ReceiverCertDir     string
	ReceiverMaxInflight int
	// ReceiverBodyBudget is in bytes.
	ReceiverBodyBudget          int64
	ReceiverMaxConnections      int
	ReceiverMaxConnectionsPerIP int
	ReceiverDedupeSize          int
	AllowedSourceCIDRs          string
	TrustedProxies              string
	MetricsBindAddress          string
	HealthProbeBindAddress      string
	// PprofBindAddress serves Go's profiles (/debug/pprof/); empty or "0"
	// serves none.
	PprofBindAddress        string
	LeaderElect             bool
	LeaderElectionNamespace string
	WatchNamespaces         []string
	MaxConcurrentReconciles int
	StatusFlushInterval     time.Duration
	// StatusWriteRate is in status writes per second, all integrations
	// together.
	StatusWriteRate   float64
	ReceiverQueueSize int
	RedeliveryWindow  time.Duration
	// Components are what this process runs: ComponentController,
	// ComponentReceiver, or both (the default).
	Components []string
	// OperatorNamespace is where the split layout keeps the webhook secret
	// mirrors and the receiver Service; defaults to the pod's namespace.
	OperatorNamespace string
	// ReceiverService names the receiver Service in OperatorNamespace,
	// whose ready endpoints a rotation waits for (split layout).
	ReceiverService string
	// ReplicaName names this receiver replica in status.receivers: the
	// Pod's name, from POD_NAME or the host name.
	ReplicaName string

	// The fields below have no flag: tests set them.

	// GitHubMutationInterval spaces the mutating GitHub requests of one
	// token; zero means one per second, as GitHub asks.
	GitHubMutationInterval time.Duration
	// GitHubNoContentLimits turns off GitHub's content-creation limits per
	// token, for tests against a simulator without a secondary limit.
	GitHubNoContentLimits bool
	// ReceiverBeforeRecord is called by the receiver's recording workers
	// before each delivery they record (tests block it to fill the queue).
	ReceiverBeforeRecord func()
	// SkipControllerNameValidation lets several managers run in one
	// process one after the other (controller names must otherwise be
	// unique per process).
	SkipControllerNameValidation bool
}

// DefaultOptions are the defaults of the flags.
func DefaultOptions() Options {
	return Options{
		GitHubURL:                   webhookserver.DefaultGitHubURL,
		ReceiverBindAddress:         webhookserver.DefaultBindAddress,
		ReceiverMaxInflight:         webhookserver.DefaultMaxInflight,
		ReceiverBodyBudget:          webhookserver.DefaultBodyBudget,
		ReceiverMaxConnections:      webhookserver.DefaultMaxConnections,
		ReceiverMaxConnectionsPerIP: webhookserver.DefaultMaxConnectionsPerIP,
		ReceiverDedupeSize:          webhookserver.DefaultDedupeSize,
		MetricsBindAddress:          ":8080",
		HealthProbeBindAddress:      ":8081",
		MaxConcurrentReconciles:     DefaultMaxConcurrentReconciles,
		StatusFlushInterval:         webhookserver.DefaultStatusFlushInterval,
		StatusWriteRate:             webhookserver.DefaultStatusWriteRate,
		ReceiverQueueSize:           webhookserver.DefaultQueueSize,
		RedeliveryWindow:            controllers.DefaultRedeliveryWindow,
		Components:                  []string{ComponentController, ComponentReceiver},
		OperatorNamespace:           podNamespace(),
		ReplicaName:                 podName(),
	}
}

// DefaultMaxConcurrentReconciles is the default of
// --max-concurrent-reconciles. A reconcile spends most of its time waiting
// for GitHub's answers (and a change never waits long for its token's
// pacing: it is deferred instead), so workers are cheap and many are needed
// to keep every token's pacing busy; see docs/install.md.
const DefaultMaxConcurrentReconciles = 32

// The components a process may run (--components).
const (
	// ComponentController is the reconcilers: they hold the GitHub tokens,
	// and run in the elected leader only.
	ComponentController = "controller"
	// ComponentReceiver is the delivery receiver, which answers the
	// internet; in every replica.
	ComponentReceiver = "receiver"
)

// serviceAccountNamespaceFile holds the pod's namespace in every pod that
// mounts its ServiceAccount token.
const serviceAccountNamespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// podNamespace is the default of --operator-namespace: POD_NAMESPACE (set
// from the downward API by the manifests), else the namespace of the
// mounted ServiceAccount, else empty.
func podNamespace() string {
	if ns := strings.TrimSpace(os.Getenv("POD_NAMESPACE")); ns != "" {
		return ns
	}
	if b, err := os.ReadFile(serviceAccountNamespaceFile); err == nil {
		return strings.TrimSpace(string(b))
	}
	return ""
}

// podName is this replica's name: POD_NAME (set from the downward API by
// the manifests), else the host name, which is the Pod's name unless the
// Pod sets spec.hostname.
func podName() string {
	if name := strings.TrimSpace(os.Getenv("POD_NAME")); name != "" {
		return name
	}
	name, _ := os.Hostname()
	return name
}

// runs reports whether the process runs component.
func (o *Options) runs(component string) bool { return slices.Contains(o.Components, component) }

// split reports whether the process runs one role only: the controller
// then writes the webhook secret mirrors and the receiver reads them.
func (o *Options) split() bool { return len(o.Components) == 1 }

// EnvPrefix starts the environment variable of every flag:
// --public-url is also read from HOOKWARDEN_PUBLIC_URL.
const EnvPrefix = "HOOKWARDEN_"

// EnvName is the environment variable read for a flag when it is not given
// on the command line.
func EnvName(flagName string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// newFlagSet defines every flag of the operator on a new flag set.
func newFlagSet(opts *Options, zapOpts *zap.Options) *flag.FlagSet {
	fs := flag.NewFlagSet("hookwarden", flag.ContinueOnError)
	opts.RegisterFlags(fs)
	zapOpts.BindFlags(fs)
	// --kubeconfig, read by ctrl.GetConfig (also KUBECONFIG, or in-cluster).
	config.RegisterFlags(fs)
	return fs
}

// RegisterFlags defines the manager's flags on fs, writing into o.
func (o *Options) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.GitHubURL, "github-url", o.GitHubURL, "GitHub REST API URL used when an integration sets no spec.github.url (GitHub Enterprise: https://HOST/api/v3/).")
	fs.StringVar(&o.PublicURL, "public-url", o.PublicURL, "URL where GitHub reaches the receiver (e.g. the Ingress host); payload URLs default to it followed by the receiver path.")
	fs.StringVar(&o.ReceiverBindAddress, "receiver-bind-address", o.ReceiverBindAddress, "Address the delivery receiver listens on, in every replica.")
	fs.StringVar(&o.ReceiverCertDir, "receiver-cert-dir", o.ReceiverCertDir, "Directory with tls.crt and tls.key for the receiver (reloaded on change); empty serves plain HTTP.")
	fs.IntVar(&o.ReceiverMaxInflight, "receiver-max-inflight", o.ReceiverMaxInflight, "Deliveries whose bodies are read and verified at once before the receiver answers 503; one source address gets at most an eighth.")
	fs.Var((*byteSize)(&o.ReceiverBodyBudget), "receiver-body-budget", "Memory for the request bodies being read at once, all requests together (a quantity such as 128Mi); beyond it the receiver answers 503.")
	fs.IntVar(&o.ReceiverMaxConnections, "receiver-max-connections", o.ReceiverMaxConnections, "Open connections to the receiver; beyond them new connections are answered 503.")
	fs.IntVar(&o.ReceiverMaxConnectionsPerIP, "receiver-max-connections-per-ip", o.ReceiverMaxConnectionsPerIP, "Open connections from one peer address (trusted proxies exempt); beyond them new connections are answered 429.")
	fs.IntVar(&o.ReceiverDedupeSize, "receiver-dedupe-size", o.ReceiverDedupeSize, "Deliveries remembered to answer redeliveries as duplicates.")
	fs.StringVar(&o.AllowedSourceCIDRs, "allowed-source-cidrs", o.AllowedSourceCIDRs, `Source addresses the receiver accepts: "github" for the hooks ranges of GitHub's /meta, or a comma-separated CIDR list; empty accepts any.`)
	fs.StringVar(&o.TrustedProxies, "trusted-proxies", o.TrustedProxies, "Comma-separated CIDRs of proxies whose X-Forwarded-For is believed.")
	fs.StringVar(&o.MetricsBindAddress, "metrics-bind-address", o.MetricsBindAddress, `Address of the Prometheus metrics endpoint; "0" disables it.`)
	fs.StringVar(&o.HealthProbeBindAddress, "health-probe-bind-address", o.HealthProbeBindAddress, "Address of /healthz and /readyz.")
	fs.StringVar(&o.PprofBindAddress, "pprof-bind-address", o.PprofBindAddress, `Address of Go's profiles (/debug/pprof/: heap, CPU, goroutines), to find where memory or CPU goes; empty or "0" (the default) serves none. Bind it to localhost and reach it with kubectl port-forward: it is not authenticated.`)
	fs.BoolVar(&o.LeaderElect, "leader-elect", o.LeaderElect, "Elect a leader so only one replica reconciles; every replica receives deliveries.")
	fs.StringVar(&o.LeaderElectionNamespace, "leader-election-namespace", o.LeaderElectionNamespace, "Namespace of the leader election lease; defaults to the pod's namespace.")
	fs.Func("watch-namespaces", "Comma-separated namespaces to watch; empty watches all.", func(v string) error {
		o.WatchNamespaces = SplitList(v)
		return nil
	})
	fs.IntVar(&o.MaxConcurrentReconciles, "max-concurrent-reconciles", o.MaxConcurrentReconciles, "GitHubIntegrations reconciled at once.")
	fs.IntVar(&o.ReceiverQueueSize, "receiver-queue-size", o.ReceiverQueueSize, "Answered deliveries waiting to be recorded before the receiver answers 503 (the reconciler redelivers them).")
	fs.DurationVar(&o.RedeliveryWindow, "redelivery-window", o.RedeliveryWindow, "How old a failed delivery may be and still be redelivered: GitHub keeps deliveries 3 days on github.com (72h), 7 days on newer GitHub Enterprise Server versions (168h).")
	fs.Func("components", `What this process runs: "controller" (the reconcilers, which hold the GitHub tokens), "receiver" (the internet-facing delivery receiver, which then reads webhook secrets only from mirrors in --operator-namespace), or both, comma-separated (the default).`, func(v string) error {
		components := SplitList(v)
		for _, c := range components {
			if c != ComponentController && c != ComponentReceiver {
				return fmt.Errorf("%q is not a component: use controller, receiver, or controller,receiver", c)
			}
		}
		if len(components) == 0 {
			return errors.New("empty: use controller, receiver, or controller,receiver")
		}
		slices.Sort(components)
		o.Components = slices.Compact(components)
		return nil
	})
	fs.StringVar(&o.OperatorNamespace, "operator-namespace", o.OperatorNamespace, "Namespace of hookwarden itself, where the split layout keeps the webhook secret mirrors and the receiver Service; defaults to POD_NAMESPACE, else the namespace of the pod's ServiceAccount.")
	fs.StringVar(&o.ReceiverService, "receiver-service", o.ReceiverService, "With --components=controller: the receiver Service in --operator-namespace; a rotation sends the new secret to GitHub once each of its ready endpoints has loaded it. Empty: wait a fixed 3 seconds instead.")
	fs.DurationVar(&o.StatusFlushInterval, "status-flush-interval", o.StatusFlushInterval, "Longest time delivery results wait before they are written to an integration's status (one write per integration per interval), while --status-write-rate allows.")
	fs.Float64Var(&o.StatusWriteRate, "status-write-rate", o.StatusWriteRate, "Status writes per second the receiver sends, all integrations together; when more integrations have new results than it allows per --status-flush-interval, those waiting longest are written first and the others wait.")
}

// ApplyEnv sets every flag not given on the command line from its
// HOOKWARDEN_* environment variable, if set. Call it after fs.Parse. It
// returns where each flag given was given: "--name" for the command line,
// the variable's name for the environment.
func ApplyEnv(fs *flag.FlagSet, lookup func(string) (string, bool)) (map[string]string, error) {
	given := map[string]string{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = "--" + f.Name })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] != "" {
			return
		}
		v, ok := lookup(EnvName(f.Name))
		if !ok {
			return
		}
		given[f.Name] = EnvName(f.Name)
		if err := cliflag.SetFromEnv(fs, f, EnvName(f.Name), v); err != nil {
			errs = append(errs, err)
		}
	})
	return given, errors.Join(errs...)
}

// readByBoth names the flags of RegisterFlags that both components read
// (logging's and --kubeconfig, defined elsewhere, are too);
// --receiver-service has a rule of its own in Validate.
var readByBoth = []string{"github-url", "watch-namespaces", "operator-namespace", "components",
	"metrics-bind-address", "health-probe-bind-address", "pprof-bind-address", "receiver-service"}

// readBy names the flags of RegisterFlags that one component alone reads.
var readBy = map[string]string{
	"public-url":                      ComponentController,
	"leader-elect":                    ComponentController,
	"leader-election-namespace":       ComponentController,
	"max-concurrent-reconciles":       ComponentController,
	"redelivery-window":               ComponentController,
	"receiver-bind-address":           ComponentReceiver,
	"receiver-cert-dir":               ComponentReceiver,
	"receiver-max-inflight":           ComponentReceiver,
	"receiver-body-budget":            ComponentReceiver,
	"receiver-max-connections":        ComponentReceiver,
	"receiver-max-connections-per-ip": ComponentReceiver,
	"receiver-dedupe-size":            ComponentReceiver,
	"receiver-queue-size":             ComponentReceiver,
	"allowed-source-cidrs":            ComponentReceiver,
	"trusted-proxies":                 ComponentReceiver,
	"status-flush-interval":           ComponentReceiver,
	"status-write-rate":               ComponentReceiver,
}

// givenByEarlierManifests are the receiver's settings that the split
// layout's controller was given by the manifests of earlier releases, which
// it ignored: a controller upgraded before its manifests still starts, and
// warns.
var givenByEarlierManifests = []string{"receiver-bind-address", "trusted-proxies"}

// CheckGiven refuses the flags given (where, from ApplyEnv) that no
// component of this process reads: in the split layout a receiver limit
// given to the controller, or a reconciler setting given to the receiver,
// would otherwise do nothing without a word. Those of
// givenByEarlierManifests are warnings instead.
func (o *Options) CheckGiven(given map[string]string) (warnings []string, _ error) {
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(given)) {
		c, ok := readBy[name]
		if !ok || o.runs(c) {
			continue
		}
		problem := fmt.Sprintf("%s: only the %s reads it, and this process runs --components=%s", given[name], c, strings.Join(o.Components, ","))
		if c == ComponentReceiver && slices.Contains(givenByEarlierManifests, name) {
			warnings = append(warnings, problem+": it is ignored; remove it (the manifests of this release do not set it)")
			continue
		}
		errs = append(errs, fmt.Errorf("%s: give it to the %s's Deployment instead", problem, c))
	}
	return warnings, errors.Join(errs...)
}

// Validate reports options that cannot work, saying what to fix.
func (o *Options) Validate() error {
	var errs []error
	if o.RedeliveryWindow <= 0 {
		errs = append(errs, fmt.Errorf("--redelivery-window=%s: must be positive, e.g. 72h (GitHub's three days)", o.RedeliveryWindow))
	}
	if err := validateHTTPURL("--github-url", o.GitHubURL, true); err != nil {
		errs = append(errs, err)
	}
	if err := validateHTTPURL("--public-url", o.PublicURL, false); err != nil {
		errs = append(errs, err)
	}
	if o.ReceiverMaxInflight < 1 {
		errs = append(errs, fmt.Errorf("--receiver-max-inflight=%d: must be at least 1", o.ReceiverMaxInflight))
	}
	if minimum := webhookserver.MinBodyBudget(); o.ReceiverBodyBudget < minimum {
		errs = append(errs, fmt.Errorf("--receiver-body-budget=%s: must be at least %s, what one 25 MiB delivery needs while it is read",
			resource.NewQuantity(o.ReceiverBodyBudget, resource.BinarySI), resource.NewQuantity(minimum, resource.BinarySI)))
	}
	if o.ReceiverMaxConnectionsPerIP < 1 || o.ReceiverMaxConnections < o.ReceiverMaxConnectionsPerIP {
		errs = append(errs, fmt.Errorf("--receiver-max-connections=%d and --receiver-max-connections-per-ip=%d: need 1 <= per IP <= total",
			o.ReceiverMaxConnections, o.ReceiverMaxConnectionsPerIP))
	}
	if o.ReceiverDedupeSize < 1 {
		errs = append(errs, fmt.Errorf("--receiver-dedupe-size=%d: must be at least 1", o.ReceiverDedupeSize))
	}
	if o.ReceiverQueueSize < 0 {
		errs = append(errs, fmt.Errorf("--receiver-queue-size=%d: must be at least 1", o.ReceiverQueueSize))
	}
	if o.MaxConcurrentReconciles < 1 {
		errs = append(errs, fmt.Errorf("--max-concurrent-reconciles=%d: must be at least 1", o.MaxConcurrentReconciles))
	}
	if o.StatusFlushInterval <= 0 {
		errs = append(errs, fmt.Errorf("--status-flush-interval=%s: must be positive", o.StatusFlushInterval))
	}
	if !(o.StatusWriteRate > 0) || math.IsInf(o.StatusWriteRate, 0) {
		errs = append(errs, fmt.Errorf("--status-write-rate=%v: must be a positive number of status writes per second, such as %v",
			o.StatusWriteRate, webhookserver.DefaultStatusWriteRate))
	}
	if len(o.Components) == 0 {
		errs = append(errs, errors.New("--components is empty: use controller, receiver, or controller,receiver"))
	}
	if o.split() && o.OperatorNamespace == "" {
		errs = append(errs, fmt.Errorf("--components=%s needs --operator-namespace (or POD_NAMESPACE): the namespace where the webhook secret mirrors are kept",
			strings.Join(o.Components, ",")))
	}
	if o.ReceiverService != "" && (!o.split() || !o.runs(ComponentController)) {
		errs = append(errs, fmt.Errorf("--receiver-service=%s: only used with --components=controller, the split layout's reconciler", o.ReceiverService))
	}
	return errors.Join(errs...)
}

// ReceiverOptions are the receiver's options from these.
func (o *Options) ReceiverOptions() webhookserver.Options {
	return webhookserver.Options{
		BindAddress:         o.ReceiverBindAddress,
		CertDir:             o.ReceiverCertDir,
		MaxInflight:         o.ReceiverMaxInflight,
		BodyBudget:          o.ReceiverBodyBudget,
		MaxConnections:      o.ReceiverMaxConnections,
		MaxConnectionsPerIP: o.ReceiverMaxConnectionsPerIP,
		DedupeSize:          o.ReceiverDedupeSize,
		StatusFlushInterval: o.StatusFlushInterval,
		StatusWriteRate:     o.StatusWriteRate,
		QueueSize:           o.ReceiverQueueSize,
		BeforeRecord:        o.ReceiverBeforeRecord,
		AllowedSourceCIDRs:  SplitList(o.AllowedSourceCIDRs),
		TrustedProxies:      SplitList(o.TrustedProxies),
		GitHubURL:           o.GitHubURL,
		MirrorNamespace:     o.mirrorNamespace(),
		ReplicaName:         o.ReplicaName,
	}
}

// mirrorNamespace is where the webhook secret mirrors are kept: the
// operator's namespace in the split layout, none otherwise.
func (o *Options) mirrorNamespace() string {
	if o.split() {
		return o.OperatorNamespace
	}
	return ""
}

// byteSize is a flag holding bytes, written as a Kubernetes quantity
// (128Mi, 1Gi, or a number of bytes).
type byteSize int64

func (b *byteSize) String() string {
	return resource.NewQuantity(int64(*b), resource.BinarySI).String()
}

func (b *byteSize) Set(v string) error {
	q, err := resource.ParseQuantity(strings.TrimSpace(v))
	if err != nil {
		return fmt.Errorf("not a size such as 128Mi: %w", err)
	}
	*b = byteSize(q.Value())
	return nil
}

func validateHTTPURL(flagName, v string, required bool) error {
	if v == "" {
		if required {
			return fmt.Errorf("%s is empty: set an absolute http(s) URL", flagName)
		}
		return nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%s=%q: must be an absolute http(s) URL such as https://hooks.example.com", flagName, v)
	}
	return nil
}

// SplitList splits a comma-separated flag value, dropping empty items.
func SplitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
