// Package harness runs the built hookwarden binary against a local control
// plane and the GitHub simulator, as a Deployment would run it, for the
// suites that stop, kill and measure it: make test-resilience
// (test/resilience) and make bench-scale (test/scale). It starts and signals
// operator processes, streams signed deliveries through the simulator, and
// keeps the ledger of what GitHub sent, what was answered and what status
// recorded.
package harness

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// OperatorOptions configure one hookwarden process.
type OperatorOptions struct {
	// Binary is the hookwarden binary (make build writes bin/hookwarden).
	Binary string
	// Kubeconfig reaches the control plane.
	Kubeconfig string
	// GitHubURL is the simulator's URL.
	GitHubURL string
	// PublicURL is where GitHub delivers; empty means this process's own
	// receiver.
	PublicURL string
	// Namespace is the only namespace watched; the leader election lease
	// lives there too.
	Namespace string
	// Receiver is the address the receiver binds; empty picks a free
	// loopback port.
	Receiver string
	// LeaderElect runs with --leader-elect.
	LeaderElect bool
	// FlushInterval is --status-flush-interval; zero keeps hookwarden's
	// default.
	FlushInterval time.Duration
	// LogDir receives the process's log as <Name>.log.
	LogDir string
	// Args are more flags.
	Args []string
	// Env is more environment, NAME=value, after the Deployment's Go
	// runtime settings (so that it overrides them).
	Env []string
}

// Operator is one running hookwarden process.
type Operator struct {
	// Name names the process in logs and ledgers.
	Name string
	// Receiver is the receiver's address (host:port).
	Receiver string
	// Health is the address of /healthz and /readyz.
	Health string
	// LogPath is the file with the process's output.
	LogPath string

	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// StartOperator starts hookwarden with the options and waits until its
// receiver answers.
func StartOperator(ctx context.Context, name string, o OperatorOptions) (*Operator, error) {
	if o.Binary == "" {
		return nil, errors.New("no hookwarden binary: set HOOKWARDEN_BINARY (make test-resilience and make bench-scale build bin/hookwarden)")
	}
	receiver := o.Receiver
	if receiver == "" {
		var err error
		if receiver, err = FreeAddr(); err != nil {
			return nil, err
		}
	}
	health, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	public := o.PublicURL
	if public == "" {
		public = "http://" + receiver
	}
	args := []string{
		"--kubeconfig=" + o.Kubeconfig,
		"--github-url=" + o.GitHubURL + "/",
		"--public-url=" + public,
		"--receiver-bind-address=" + receiver,
		"--health-probe-bind-address=" + health,
		"--metrics-bind-address=0",
		"--zap-log-level=info",
	}
	if o.Namespace != "" {
		args = append(args, "--watch-namespaces="+o.Namespace, "--leader-election-namespace="+o.Namespace)
	}
	if o.FlushInterval > 0 {
		args = append(args, "--status-flush-interval="+o.FlushInterval.String())
	}
	if o.LeaderElect {
		args = append(args, "--leader-elect")
	}
	args = append(args, o.Args...)
	op := &Operator{Name: name, Receiver: receiver, Health: health, done: make(chan struct{})}
	// Not ctx: the scenarios decide how the process ends.
	op.cmd = exec.CommandContext(context.Background(), o.Binary, args...) //nolint:gosec // the binary under test
	// The process dies with the harness, even when the harness is killed.
	op.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	runtimeEnv, err := DeploymentRuntimeEnv()
	if err != nil {
		return nil, fmt.Errorf("the Deployment's Go runtime settings: %w", err)
	}
	op.cmd.Env = append(append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, runtimeEnv...), o.Env...)
	if o.LogDir != "" {
		op.LogPath = filepath.Join(o.LogDir, name+".log")
		f, err := os.OpenFile(op.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		op.cmd.Stdout, op.cmd.Stderr = f, f
	}
	if err := op.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", o.Binary, err)
	}
	go func() {
		op.err = op.cmd.Wait()
		close(op.done)
	}()
	if err := op.waitReceiving(ctx, 60*time.Second); err != nil {
		op.Kill()
		return nil, err
	}
	return op, nil
}

// waitReceiving waits until the receiver answers a request, whatever the
// answer.
func (op *Operator) waitReceiving(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-op.done:
			return fmt.Errorf("%s exited before its receiver answered (log: %s): %w", op.Name, op.LogPath, cmp.Or(op.err, errors.New("exit status 0")))
		default:
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+op.Receiver+"/", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			_ = resp.Body.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: receiver on %s not answering after %s (log: %s)", op.Name, op.Receiver, timeout, op.LogPath)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Pid is the process id.
func (op *Operator) Pid() int { return op.cmd.Process.Pid }

// Stop stops the process with SIGTERM, as Kubernetes does, and waits for
// it to exit; it returns the process's exit error.
func (op *Operator) Stop(timeout time.Duration) error {
	_ = op.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-op.done:
		return op.err
	case <-time.After(timeout):
		op.Kill()
		return fmt.Errorf("%s did not exit within %s of SIGTERM", op.Name, timeout)
	}
}

// Kill kills the process with SIGKILL and waits for it.
func (op *Operator) Kill() {
	_ = op.cmd.Process.Kill()
	<-op.done
}

// Running reports whether the process has not exited.
func (op *Operator) Running() bool {
	select {
	case <-op.done:
		return false
	default:
		return true
	}
}

// RSS is the process's resident set size in bytes (VmRSS, Linux).
func (op *Operator) RSS() (int64, error) { return op.statusBytes("VmRSS") }

// RSSParts splits the resident set (Linux): anon is the process's own
// memory (the Go runtime's heap, stacks and metadata), file the pages of
// mapped files resident (the binary's code and data, paged in as they are
// first used).
func (op *Operator) RSSParts() (anon, file int64, err error) {
	if anon, err = op.statusBytes("RssAnon"); err != nil {
		return 0, 0, err
	}
	file, err = op.statusBytes("RssFile")
	return anon, file, err
}

// statusBytes reads a field in kB of /proc/<pid>/status, in bytes.
func (op *Operator) statusBytes(field string) (int64, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", op.Pid()))
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("no %s in /proc status", field)
}

// CPUTime is the CPU time the operator's process has used so far, user
// and system (/proc/<pid>/stat, in clock ticks of 1/100 s, Linux's
// USER_HZ).
func (op *Operator) CPUTime() (time.Duration, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", op.Pid()))
	if err != nil {
		return 0, err
	}
	// The command name, in parentheses, may hold spaces: the fields
	// counted from stat(5) start after it (utime and stime are the 14th
	// and 15th, the 12th and 13th after the parenthesis).
	_, rest, ok := strings.Cut(string(raw), ") ")
	if !ok {
		return 0, errors.New("no command name in /proc stat")
	}
	fields := strings.Fields(rest)
	if len(fields) < 13 {
		return 0, errors.New("short /proc stat")
	}
	var ticks int64
	for _, f := range fields[11:13] {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc stat: %w", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond, nil
}

// FreeAddr returns a loopback address with a free port.
func FreeAddr() (string, error) {
	var lc net.ListenConfig
	l, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
