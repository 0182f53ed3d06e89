// Package resilience is make test-resilience: it runs the built hookwarden
// binary against a control plane and the GitHub simulator, streams signed
// deliveries through the simulator, stops, kills and fails what hookwarden
// depends on in the middle, and prints and checks a ledger per scenario
// (docs/resilience.md). The scenarios take minutes; without -resilience
// they are skipped, and make test runs only the ledger's own tests.
package resilience

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hookwarden/hookwarden/internal/githubsim"
	"github.com/hookwarden/hookwarden/internal/harness"
	"github.com/hookwarden/hookwarden/internal/testenv"
)

var runScenarios = flag.Bool("resilience", false, "run the resilience scenarios (make test-resilience)")

var controlPlane *testenv.Env

func TestMain(m *testing.M) {
	flag.Parse()
	// The control plane keeps its data in a directory of its own, so that
	// a scenario can stop and start it again (StartRestartable).
	var planeDir string
	harness.Main(m, *runScenarios, &controlPlane, func() (*testenv.Env, error) {
		var err error
		if planeDir, err = os.MkdirTemp("", "hookwarden-resilience-"); err != nil {
			return nil, err
		}
		return testenv.StartRestartable(planeDir)
	}, func() { _ = os.RemoveAll(planeDir) })
}

const (
	// flushInterval is the operators' --status-flush-interval.
	flushInterval = time.Second
	// checkInterval is the integrations' spec.interval: how often failed
	// deliveries are looked for.
	checkInterval = 5 * time.Second
	// streamRate is the deliveries per second of the scenarios' streams.
	streamRate = 20
)

// scenario is one scenario's scene: integrations each with one repository
// and its own token (hookwarden paces mutations per token).
type scenario struct {
	t     *testing.T
	ctx   context.Context
	scene *harness.Scene
	repos []string
	// receiver is where the scenario's operators receive, one after the
	// other: a restarted operator keeps its public URL, as a Deployment's
	// new pod behind the same Service does.
	receiver string
	ledger   harness.Ledger
}

func newScenario(t *testing.T, title string, integrations int, simOpts ...githubsim.Option) *scenario {
	t.Helper()
	if !*runScenarios {
		t.Skip("a resilience scenario: run it with make test-resilience")
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	sim := githubsim.New(simOpts...)
	t.Cleanup(sim.Close)
	// Not t.TempDir: the operators' logs must outlive a failed scenario.
	dir, err := os.MkdirTemp("", "hookwarden-"+t.Name()+"-")
	if err != nil {
		t.Fatal(err)
	}
	scene, err := harness.NewScene(ctx, controlPlane, sim, dir)
	if err != nil {
		t.Fatal(err)
	}
	s := &scenario{t: t, ctx: ctx, scene: scene, receiver: mustFreeAddr(t), ledger: harness.Ledger{Scenario: title}}
	for i := range integrations {
		repo := fmt.Sprintf("acme/service-%02d", i)
		token := fmt.Sprintf("ghp_resilience_simulator_only_%010d", i)
		if err := sim.AddRepo(repo); err != nil {
			t.Fatal(err)
		}
		sim.AddToken(token, []string{"admin:repo_hook"}, repo)
		s.repos = append(s.repos, repo)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("operator logs are in %s", dir)
			return
		}
		_ = os.RemoveAll(dir)
	})
	return s
}

// declare creates the scenario's integrations.
func (s *scenario) declare() {
	s.t.Helper()
	for i, repo := range s.repos {
		name := fmt.Sprintf("service-%02d", i)
		token := fmt.Sprintf("ghp_resilience_simulator_only_%010d", i)
		if err := s.scene.Integration(s.ctx, name, token, "webhook-secret-of-"+name, []string{repo}, checkInterval); err != nil {
			s.t.Fatal(err)
		}
	}
}

func (s *scenario) operator(name string, o harness.OperatorOptions) *harness.Operator {
	s.t.Helper()
	if o.FlushInterval == 0 {
		o.FlushInterval = flushInterval
	}
	if o.Receiver == "" && o.PublicURL == "" {
		o.Receiver = s.receiver
	}
	op, err := s.scene.Operator(s.ctx, name, o)
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() {
		if op.Running() {
			_ = op.Stop(30 * time.Second)
		}
	})
	return op
}

func (s *scenario) waitReady(timeout time.Duration) {
	s.t.Helper()
	if _, err := s.scene.WaitReady(s.ctx, len(s.repos), timeout); err != nil {
		s.t.Fatalf("integrations not Ready: %v", err)
	}
}

// settle waits until every delivery of the stream was answered 2xx at some
// attempt (hookwarden redelivers the others) and status has counted them,
// then fills the ledger, deletes the integrations with a running operator,
// and prints and checks the ledger.
func (s *scenario) settle(attempts []harness.Attempt, timeout time.Duration) {
	s.t.Helper()
	err := harness.Poll(s.ctx, timeout, time.Second, func() (bool, error) {
		l := harness.Ledger{}
		if err := l.AddDeliveries(s.scene.Sim, attempts); err != nil {
			return false, err
		}
		return l.LeftFailed == 0, nil
	})
	if err != nil {
		s.t.Logf("redeliveries not complete: %v", err)
	}
	if err := s.ledger.AddDeliveries(s.scene.Sim, attempts); err != nil {
		s.t.Fatal(err)
	}
	counted, err := s.scene.WaitCounted(s.ctx, int64(s.ledger.Delivered), 4*flushInterval+5*time.Second, 2*time.Minute)
	if err != nil {
		s.t.Logf("status count: %v", err)
	}
	s.ledger.Counted = counted
	if err := s.ledger.AddHooks(s.scene.Sim, s.repos); err != nil {
		s.t.Fatal(err)
	}
}

// finish deletes the integrations (an operator must be running), then
// prints and checks the ledger.
func (s *scenario) finish() {
	s.t.Helper()
	left, err := s.scene.DeleteAll(s.ctx, 2*time.Minute)
	if err != nil {
		s.t.Fatal(err)
	}
	s.ledger.FinalizersLeft = left
	for _, repo := range s.repos {
		hooks, err := s.scene.Sim.Hooks(repo)
		if err != nil {
			s.t.Fatal(err)
		}
		s.ledger.HooksAfterDeletion += len(hooks)
	}
	var b strings.Builder
	s.ledger.Print(&b)
	fmt.Print(b.String())
	for _, p := range s.ledger.Problems() {
		s.t.Error(p)
	}
}

// note adds a line under the ledger.
func (s *scenario) note(format string, args ...any) {
	s.ledger.Notes = append(s.ledger.Notes, fmt.Sprintf(format, args...))
}

func mustFreeAddr(t *testing.T) string {
	t.Helper()
	addr, err := harness.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// streaming starts a scenario of four integrations and one operator, and a
// stream of 20 deliveries a second that has run for 10 s.
func streaming(t *testing.T, title string) (*scenario, *harness.Operator, *harness.Stream) {
	t.Helper()
	s := newScenario(t, title, 4)
	s.declare()
	op := s.operator("hookwarden-1", harness.OperatorOptions{})
	s.waitReady(2 * time.Minute)
	stream := harness.StartStream(s.scene.Sim, s.repos, streamRate)
	time.Sleep(10 * time.Second)
	return s, op, stream
}

// restartAndEnd starts a new operator 5 s after the old one went away, lets
// the stream run 10 s more, and ends it.
func (s *scenario) restartAndEnd(stream *harness.Stream) []harness.Attempt {
	s.t.Helper()
	time.Sleep(5 * time.Second)
	s.operator("hookwarden-2", harness.OperatorOptions{})
	time.Sleep(10 * time.Second)
	attempts, err := stream.Stop()
	if err != nil {
		s.t.Error(err)
	}
	return attempts
}
