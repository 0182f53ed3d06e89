package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hookwarden/hookwarden/internal/testenv"
)

// binary is the hookwarden binary as `make build` (and the Dockerfile)
// builds it; `make test` sets HOOKWARDEN_BINARY, so what is tested here is
// what ships.
func binary(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("HOOKWARDEN_BINARY")
	if bin == "" {
		t.Fatal("HOOKWARDEN_BINARY is not set: run the tests with 'make test', which builds bin/hookwarden first")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("HOOKWARDEN_BINARY=%s: %v", bin, err)
	}
	return bin
}

// TestBinaryServes starts the built binary against a real API server, as a
// Deployment would, and checks that it becomes ready, serves metrics and
// answers deliveries.
func TestBinaryServes(t *testing.T) {
	bin := binary(t)
	env := testenv.StartForTest(t)
	kubeconfig, err := env.Kubeconfig()
	if err != nil {
		t.Fatal(err)
	}
	kubeconfigPath := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfigPath, kubeconfig, 0o600); err != nil {
		t.Fatal(err)
	}

	receiver, metrics, health := freeAddr(t), freeAddr(t), freeAddr(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var logs bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "--kubeconfig", kubeconfigPath,
		"--metrics-bind-address", metrics, "--health-probe-bind-address", health)
	// Flags may also come from the environment, as in the Deployment.
	cmd.Env = append(os.Environ(), "HOOKWARDEN_RECEIVER_BIND_ADDRESS="+receiver, "HOOKWARDEN_PUBLIC_URL=https://hooks.example.com")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var exitErr error
	exited := make(chan struct{})
	go func() { exitErr = cmd.Wait(); close(exited) }()
	stop := func() string {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		return logs.String()
	}

	ready := false
	for deadline := time.Now().Add(60 * time.Second); !ready && time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		select {
		case <-exited:
			t.Fatalf("hookwarden exited before it was ready: %v\n%s", exitErr, logs.String())
		default:
		}
		code, _ := get(t, "http://"+health+"/readyz")
		ready = code == http.StatusOK
	}
	if !ready {
		t.Fatalf("the binary never became ready (/readyz); its output:\n%s", stop())
	}
	defer func() {
		out := stop()
		if !strings.Contains(out, "Starting manager") {
			t.Errorf("the binary's log lacks its start line:\n%s", out)
		}
	}()
	if code, _ := get(t, "http://"+health+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz answered %d", code)
	}
	code, body := get(t, "http://"+metrics+"/metrics")
	if code != http.StatusOK || !strings.Contains(body, "hookwarden_status_writes_total") || !strings.Contains(body, "controller_runtime_") {
		t.Errorf("/metrics answered %d without controller or hookwarden metrics", code)
	}
	// build_info says what `hookwarden version` says.
	version, commit, goVersion := binaryVersion(t, bin)
	if want := fmt.Sprintf("hookwarden_build_info{commit=%q,goversion=%q,version=%q} 1\n", commit, goVersion, version); !strings.Contains(body, want) {
		t.Errorf("/metrics lacks %s", want)
	}
	// The receiver listens where the environment said, and answers like GitHub expects.
	code, body = get(t, "http://"+receiver+"/api/v1/integrations/team-a/experiments/webhook/github")
	if code != http.StatusMethodNotAllowed || !strings.Contains(body, `"error"`) {
		t.Errorf("GET on the receiver answered %d %s, want 405 with a JSON error", code, body)
	}
}

// binaryVersion runs `hookwarden version` and returns what it printed.
func binaryVersion(t *testing.T, bin string) (version, commit, goVersion string) {
	t.Helper()
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatalf("hookwarden version: %v", err)
	}
	m := regexp.MustCompile(`^hookwarden (\S+) \(commit (\S+), (go\S+)\)\n$`).FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("hookwarden version printed %q, want \"hookwarden VERSION (commit COMMIT, GOVERSION)\"", out)
	}
	return m[1], m[2], m[3]
}

// TestBinaryVersion: the binary `make build` made carries the version and
// commit of the checkout it was built from, not the defaults.
func TestBinaryVersion(t *testing.T) {
	version, commit, _ := binaryVersion(t, binary(t))
	head, err := exec.Command("git", "-C", testenv.RepoRoot(), "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("not a git checkout (%v): the binary says version %s, commit %s", err, version, commit)
	}
	if version == "dev" || commit != strings.TrimSpace(string(head)) {
		t.Errorf("the binary says version %s, commit %s; built from commit %s it should say that commit and git describe's version",
			version, commit, strings.TrimSpace(string(head)))
	}
}

// TestBinarySend runs `hookwarden send` from the built binary.
func TestBinarySend(t *testing.T) {
	bin := binary(t)
	var gotSignature string
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		gotSignature = r.Header.Get("X-Hub-Signature-256")
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"processed": true}`)
	})
	payload := filepath.Join(t.TempDir(), "payload.json")
	if err := os.WriteFile(payload, []byte("Hello, World!"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "send", "--url", srv, "--event", "push", payload)
	cmd.Env = append(os.Environ(), "HOOKWARDEN_SEND_SECRET=It's a Secret to Everybody")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("hookwarden send: %v\n%s", err, out)
	}
	// GitHub's published test vector.
	if want := "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"; gotSignature != want {
		t.Errorf("signature %q, want GitHub's test vector %q", gotSignature, want)
	}
	if !strings.Contains(string(out), `{"processed": true}`) {
		t.Errorf("output does not show the answer:\n%s", out)
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, ""
	}
	body := testenv.ReadBody(t, resp)
	return resp.StatusCode, string(body)
}

func newServer(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	l, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return fmt.Sprintf("http://%s/", l.Addr())
}
