// Package sandbox runs hookwarden end to end on one machine: a local control
// plane (kube-apiserver and etcd), the GitHub API simulator with a repository
// acme/demo, the CRDs and config/samples (a GitHubIntegration and a
// GitHubIssue), and the operator itself. The simulator then delivers ping,
// push, pull_request and issues events to the receiver, and the
// integration's status is shown as it changes.
package sandbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	"github.com/hookwarden/hookwarden/internal/githubsim"
	"github.com/hookwarden/hookwarden/internal/testenv"
)

// Names the sandbox uses.
const (
	Namespace   = "default"
	Repository  = "acme/demo"
	SecretName  = "github-experiments"
	Integration = "experiments"
	// LinkKey is the experiment_key the sandbox's pull request carries.
	LinkKey = "checkout-flow-v2"
	// IssueLabel is the label of the sandbox's issue (as in the sample).
	IssueLabel = "experiment"
	// IssueName is the sample GitHubIssue.
	IssueName = "checkout-flow-v2-review"

	// simToken is a token of the simulator only; it means nothing on GitHub.
	simToken = "ghp_sandboxSimulatorToken0000000000000000"
)

// Options configure a sandbox run.
type Options struct {
	// Once runs the flow, checks the outcome and returns; otherwise the
	// sandbox keeps running and showing status until ctx ends.
	Once bool
	// Dir receives the kubeconfig and the webhook secret file.
	Dir string
	// Out receives the progress and the status view.
	Out io.Writer
	// Timeout bounds each wait of the flow.
	Timeout time.Duration
	// Binary is the hookwarden binary the sandbox runs (make sandbox
	// builds bin/hookwarden).
	Binary string
	// Verbose shows the operator's info logs; otherwise errors only.
	Verbose bool
}

// sandbox is one run.
type sandbox struct {
	Options
	env        *testenv.Env
	sim        *githubsim.Server
	c          client.Client
	kubeconfig string
	secretFile string
	receiver   string
	control    string
	// operatorExited receives the operator process's exit;
	// cancelOperator asks it to stop.
	operatorExited <-chan error
	cancelOperator context.CancelFunc
}

// Run runs the sandbox. With Once it returns an error naming every check that
// failed.
func Run(ctx context.Context, o Options) error {
	if o.Out == nil {
		o.Out = os.Stdout
	}
	if o.Timeout == 0 {
		o.Timeout = 60 * time.Second
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", o.Dir, err)
	}
	s := &sandbox{Options: o}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	s.step("Starting the local control plane (kube-apiserver and etcd) with the hookwarden CRDs")
	env, err := testenv.Start()
	if err != nil {
		return err
	}
	defer func() { _ = env.Stop() }()
	s.env, s.c = env, env.Client
	if err := s.writeKubeconfig(); err != nil {
		return err
	}

	s.step("Starting the GitHub API simulator with the repository " + Repository)
	s.sim = githubsim.New()
	defer s.sim.Close()
	if err := s.sim.AddRepo(Repository); err != nil {
		return err
	}
	s.sim.AddToken(simToken, []string{"admin:repo_hook", "repo"}, Repository)

	if err := s.startOperator(ctx); err != nil {
		return err
	}
	defer s.stopOperator()
	if err := s.applySamples(ctx); err != nil {
		return err
	}
	gi, err := s.waitReady(ctx)
	if err != nil {
		return err
	}
	s.step(fmt.Sprintf("Hook registered on %s, delivering to %s", Repository, gi.Status.PayloadURL))

	s.step("Delivering push, pull_request (experiment_key: " + LinkKey + ") and issues (label " + IssueLabel + ") events")
	for _, event := range []string{"push", "pull_request", "issues"} {
		if _, err := s.trigger(event); err != nil {
			return err
		}
	}
	if err := s.waitDeliveriesRecorded(ctx); err != nil {
		return err
	}
	if o.Once {
		return s.check(ctx)
	}
	return s.serve(ctx)
}

func (s *sandbox) step(msg string) { fmt.Fprintf(s.Out, "==> %s\n", msg) }

func (s *sandbox) writeKubeconfig() error {
	raw, err := s.env.Kubeconfig()
	if err != nil {
		return err
	}
	s.kubeconfig = filepath.Join(s.Dir, "kubeconfig")
	return os.WriteFile(s.kubeconfig, raw, 0o600)
}

// startOperator runs the hookwarden binary (Binary), as a Deployment would,
// pointed at the local control plane and the simulator, with the receiver on
// a free loopback port. The process is stopped when ctx ends.
func (s *sandbox) startOperator(ctx context.Context) error {
	if s.Binary == "" {
		return errors.New("no hookwarden binary: run the sandbox with 'make sandbox', which builds bin/hookwarden first")
	}
	port, err := freePort(ctx)
	if err != nil {
		return err
	}
	s.receiver = fmt.Sprintf("http://127.0.0.1:%d", port)
	s.step("Starting hookwarden (receiver on " + s.receiver + ")")
	level := "error"
	if s.Verbose {
		level = "info"
	}
	ctx, s.cancelOperator = context.WithCancel(ctx)
	cmd := exec.CommandContext(ctx, s.Binary,
		"--kubeconfig="+s.kubeconfig,
		"--github-url="+s.sim.URL()+"/",
		"--public-url="+s.receiver,
		fmt.Sprintf("--receiver-bind-address=127.0.0.1:%d", port),
		"--metrics-bind-address=0",
		"--health-probe-bind-address=0",
		"--status-flush-interval=1s",
		"--zap-log-level="+level,
	)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 20 * time.Second
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.Binary, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	s.operatorExited = exited
	select {
	case err := <-exited:
		return fmt.Errorf("hookwarden stopped: %w", err)
	case <-time.After(200 * time.Millisecond):
		return nil
	}
}

// stopOperator stops the operator process gracefully and waits for it.
func (s *sandbox) stopOperator() {
	s.cancelOperator()
	if err := <-s.operatorExited; err != nil && s.Verbose {
		fmt.Fprintf(s.Out, "hookwarden exited: %v\n", err)
	}
}

// applySamples creates the Secret the sample names, then config/samples.
func (s *sandbox) applySamples(ctx context.Context) error {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return err
	}
	webhookSecret := hex.EncodeToString(secret)
	s.secretFile = filepath.Join(s.Dir, "webhook_secret")
	if err := os.WriteFile(s.secretFile, []byte(webhookSecret), 0o600); err != nil {
		return err
	}
	s.step("Creating the Secret " + SecretName + " (simulator token and a random webhook secret)")
	err := s.c.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: Namespace, Name: SecretName},
		StringData: map[string]string{"token": simToken, "webhook_secret": webhookSecret},
	})
	if err != nil {
		return fmt.Errorf("create Secret %s: %w", SecretName, err)
	}
	dir := filepath.Join(testenv.RepoRoot(), "config", "samples")
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return err
	}
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		raw, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(raw, &u.Object); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		u.SetNamespace(Namespace)
		s.step("Applying config/samples/" + filepath.Base(f))
		if err := s.c.Create(ctx, u); err != nil {
			return fmt.Errorf("apply %s: %w", filepath.Base(f), err)
		}
	}
	return nil
}

func (s *sandbox) get(ctx context.Context) (*hookv1.GitHubIntegration, error) {
	gi := &hookv1.GitHubIntegration{}
	err := s.c.Get(ctx, client.ObjectKey{Namespace: Namespace, Name: Integration}, gi)
	return gi, err
}

func (s *sandbox) waitReady(ctx context.Context) (*hookv1.GitHubIntegration, error) {
	s.step("Waiting for the GitHubIntegration to be Ready")
	var last *hookv1.GitHubIntegration
	err := s.poll(ctx, func(ctx context.Context) (bool, error) {
		gi, err := s.get(ctx)
		if err != nil {
			return false, client.IgnoreNotFound(err)
		}
		last = gi
		return meta.IsStatusConditionTrue(gi.Status.Conditions, hookv1.ConditionReady), nil
	})
	if err != nil {
		msg := "no status yet"
		if last != nil {
			if c := meta.FindStatusCondition(last.Status.Conditions, hookv1.ConditionReady); c != nil {
				msg = fmt.Sprintf("Ready=%s %s: %s", c.Status, c.Reason, c.Message)
			}
		}
		return nil, fmt.Errorf("the GitHubIntegration did not become Ready (%s): %w", msg, err)
	}
	return last, nil
}

// waitDeliveriesRecorded waits until the ping and the three events are in
// status: the receiver records them asynchronously.
func (s *sandbox) waitDeliveriesRecorded(ctx context.Context) error {
	s.step("Waiting for the deliveries to be recorded in status")
	err := s.poll(ctx, func(ctx context.Context) (bool, error) {
		gi, err := s.get(ctx)
		if err != nil {
			return false, err
		}
		return gi.Status.Deliveries.Processed >= 4 && len(gi.Status.PullRequests) > 0 && len(gi.Status.Issues) > 0, nil
	})
	if gi, gerr := s.get(ctx); gerr == nil {
		fmt.Fprint(s.Out, View(gi))
	}
	if err != nil {
		return fmt.Errorf("deliveries not recorded in status: %w", err)
	}
	return nil
}

func (s *sandbox) poll(ctx context.Context, done func(context.Context) (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	for {
		ok, err := done(ctx)
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("gave up after %s", s.Timeout)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// check verifies the outcome of the flow, as `make sandbox ARGS=--once` does.
func (s *sandbox) check(ctx context.Context) error {
	s.step("Checking the outcome")
	gi, err := s.get(ctx)
	if err != nil {
		return err
	}
	var failed []string
	expect := func(ok bool, format string, args ...any) {
		mark := "ok  "
		if !ok {
			mark = "FAIL"
			failed = append(failed, fmt.Sprintf(format, args...))
		}
		fmt.Fprintf(s.Out, "    %s %s\n", mark, fmt.Sprintf(format, args...))
	}

	hooks, err := s.sim.Hooks(Repository)
	if err != nil {
		return err
	}
	expect(len(hooks) == 1, "exactly one hook on %s (found %d)", Repository, len(hooks))
	if len(hooks) == 1 {
		h := hooks[0]
		expect(h.Config.URL == gi.Status.PayloadURL, "the hook delivers to %s", gi.Status.PayloadURL)
		expect(strings.Join(h.Events, ",") == "issues,pull_request,push", "the hook subscribes to issues, pull_request, push (has %v)", h.Events)
		expect(len(gi.Status.Hooks) == 1 && gi.Status.Hooks[0].ID == h.ID, "status.hooks records hook %d", h.ID)
		deliveries, err := s.sim.Deliveries(Repository, h.ID)
		if err != nil {
			return err
		}
		failedAttempts := 0
		for _, d := range deliveries {
			if d.StatusCode < 200 || d.StatusCode > 299 {
				failedAttempts++
			}
		}
		expect(len(deliveries) >= 4 && failedAttempts == 0, "GitHub saw %d deliveries answered 2xx, %d not", len(deliveries)-failedAttempts, failedAttempts)
	}
	expect(meta.IsStatusConditionTrue(gi.Status.Conditions, hookv1.ConditionReady), "Ready=True")
	d := gi.Status.Deliveries
	expect(d.Processed >= 4 && d.Rejected == 0, "status.deliveries: %d processed, %d rejected", d.Processed, d.Rejected)
	expect(hasPullRequest(gi, LinkKey), "status.pullRequests links a pull request with %s", LinkKey)
	expect(len(gi.Status.Issues) > 0, "status.issues tracks the issue labelled %s", IssueLabel)
	linked, err := s.hasEvent(ctx, "PullRequestLinked")
	if err != nil {
		return err
	}
	expect(linked, "a PullRequestLinked Event on the GitHubIntegration")
	if err := s.checkIssue(ctx, expect); err != nil {
		return err
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d sandbox checks failed: %s", len(failed), strings.Join(failed, "; "))
	}
	s.step("Sandbox flow verified")
	return nil
}

// checkIssue verifies the sample GitHubIssue: its issue created once on
// GitHub, Ready, and the pull request linked by its experiment key in its
// status and in the issue body.
func (s *sandbox) checkIssue(ctx context.Context, expect func(bool, string, ...any)) error {
	is := &hookv1.GitHubIssue{}
	var onGitHub []githubsim.Issue
	listed := func() bool {
		return len(onGitHub) == 1 && strings.Contains(onGitHub[0].Body, fmt.Sprintf("%s#", Repository)) &&
			len(is.Status.PullRequests) > 0 && strings.Contains(onGitHub[0].Body, is.Status.PullRequests[0].URL)
	}
	err := s.poll(ctx, func(ctx context.Context) (bool, error) {
		if err := s.c.Get(ctx, client.ObjectKey{Namespace: Namespace, Name: IssueName}, is); err != nil {
			return false, client.IgnoreNotFound(err)
		}
		all, err := s.sim.Issues(Repository)
		if err != nil {
			return false, err
		}
		onGitHub = nil
		for _, i := range all {
			if i.Number == int(is.Status.Number) {
				onGitHub = append(onGitHub, i)
			}
		}
		return meta.IsStatusConditionTrue(is.Status.Conditions, hookv1.ConditionReady) && listed(), nil
	})
	if err != nil && !strings.Contains(err.Error(), "gave up") {
		return err
	}
	fmt.Fprint(s.Out, IssueView(is))
	expect(meta.IsStatusConditionTrue(is.Status.Conditions, hookv1.ConditionReady), "GitHubIssue %s Ready=True", IssueName)
	expect(len(onGitHub) == 1 && onGitHub[0].Title == is.Spec.Title, "issue #%d on %s with the declared title", is.Status.Number, Repository)
	expect(len(is.Status.PullRequests) > 0, "the GitHubIssue's status.pullRequests links a pull request with %s", LinkKey)
	expect(listed(), "the issue body lists the linked pull request")
	return nil
}

func hasPullRequest(gi *hookv1.GitHubIntegration, key string) bool {
	for _, pr := range gi.Status.PullRequests {
		if pr.LinkKey == key {
			return true
		}
	}
	return false
}

func (s *sandbox) hasEvent(ctx context.Context, reason string) (bool, error) {
	var found bool
	err := s.poll(ctx, func(ctx context.Context) (bool, error) {
		events := &corev1.EventList{}
		if err := s.c.List(ctx, events, client.InNamespace(Namespace)); err != nil {
			return false, err
		}
		for _, e := range events.Items {
			if e.Reason == reason && e.InvolvedObject.Name == Integration {
				found = true
			}
		}
		return found, nil
	})
	if err != nil && !found {
		return false, nil
	}
	return found, nil
}

func freePort(ctx context.Context) (int, error) {
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
