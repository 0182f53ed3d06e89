// Package testenv starts a real kube-apiserver and etcd (envtest) with the
// hookwarden CRDs installed, for tests. The binaries come from
// KUBEBUILDER_ASSETS, which `make test` points at the control plane built by
// hack/controlplane/build.sh.
package testenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	goruntime "runtime"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/hookwarden/hookwarden/internal/scheme"
)

// Env is a running control plane.
type Env struct {
	// Config reaches the API server as an administrator.
	Config *rest.Config
	// Client is an uncached client with the hookwarden scheme.
	Client client.Client
	// Scheme has the Kubernetes and hookwarden types.
	Scheme *runtime.Scheme

	env *envtest.Environment
}

// NewScheme returns a scheme with the Kubernetes built-in and hookwarden
// types, as the manager uses.
func NewScheme() *runtime.Scheme { return scheme.New() }

// RepoRoot is the directory of hookwarden's go.mod.
func RepoRoot() string {
	_, file, _, _ := goruntime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// ReadRepoFile returns the content of a file of the repository, by its path
// from the repository's root.
func ReadRepoFile(t testing.TB, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(RepoRoot(), name))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// Start starts kube-apiserver and etcd with the CRDs of config/crd/bases.
// It fails with a clear message when KUBEBUILDER_ASSETS is not set: tests
// that need a control plane must not pass silently without one.
func Start() (*Env, error) {
	assets, err := assetsDir()
	if err != nil {
		return nil, err
	}
	return start(&envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(RepoRoot(), "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: assets,
	})
}

// StartForTest starts a control plane of the test's own, for a test that
// needs one no other test touches; the test's cleanup stops it, and the
// test fails when it cannot start.
func StartForTest(t testing.TB) *Env {
	t.Helper()
	env, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	return env
}

// assetsDir is KUBEBUILDER_ASSETS, checked to hold the control plane.
func assetsDir() (string, error) {
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		return "", errors.New("KUBEBUILDER_ASSETS is not set: run the tests with 'make test', or export KUBEBUILDER_ASSETS=$(make -s envtest)")
	}
	for _, bin := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(assets, bin)); err != nil {
			return "", fmt.Errorf("KUBEBUILDER_ASSETS=%s has no %s: run 'make envtest'", assets, bin)
		}
	}
	return assets, nil
}

// start starts env and connects a client to it.
func start(env *envtest.Environment) (*Env, error) {
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("start envtest: %w", err)
	}
	scheme := NewScheme()
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		_ = env.Stop()
		return nil, fmt.Errorf("create client: %w", err)
	}
	return &Env{Config: cfg, Client: c, Scheme: scheme, env: env}, nil
}

// Stop stops the control plane.
func (e *Env) Stop() error {
	return e.env.Stop()
}

// Namespace returns a new namespace for one test.
func (e *Env) Namespace(ctx context.Context, prefix string) (string, error) {
	ns := &corev1.Namespace{}
	ns.GenerateName = prefix + "-"
	if err := e.Client.Create(ctx, ns); err != nil {
		return "", fmt.Errorf("create namespace: %w", err)
	}
	return ns.Name, nil
}

// NewNamespace returns a new namespace for one test, whose name starts with
// prefix; the test fails when it cannot be created.
func (e *Env) NewNamespace(t testing.TB, prefix string) string {
	t.Helper()
	ns, err := e.Namespace(context.Background(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

// Kubeconfig returns a kubeconfig for an administrator of this control plane,
// for kubectl.
func (e *Env) Kubeconfig() ([]byte, error) {
	user, err := e.env.AddUser(envtest.User{Name: "hookwarden-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return nil, fmt.Errorf("add kubeconfig user: %w", err)
	}
	return user.KubeConfig()
}

// Main runs a test package with one control plane for all its tests,
// stored in *env before the tests run and stopped after them. Use it as
// the package's TestMain; it exits the process.
func Main(m *testing.M, env **Env) {
	var err error
	*env, err = Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	if err := (*env).Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stop envtest:", err)
	}
	os.Exit(code)
}

// Shared is a control plane started on first use, for packages whose unit
// tests should not wait for one. Stop it after m.Run.
type Shared struct {
	once sync.Once
	env  *Env
	err  error
}

// Get returns the control plane, starting it the first time; the test
// fails when it cannot start.
func (s *Shared) Get(t testing.TB) *Env {
	t.Helper()
	s.once.Do(func() { s.env, s.err = Start() })
	if s.err != nil {
		t.Fatal(s.err)
	}
	return s.env
}

// Stop stops the control plane if it was started.
func (s *Shared) Stop() {
	if s.env != nil {
		if err := s.env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stop envtest:", err)
		}
	}
}

// Eventually polls cond until it returns nil, failing the test with what and
// cond's last error once timeout has passed. Tests wait for an outcome this
// way rather than sleeping a fixed time, which is both slow and flaky on a
// loaded machine.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still not true after %v: %v", what, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ReadBody reads an HTTP answer's body to its end and closes it; the test
// fails when the body cannot be read.
func ReadBody(t testing.TB, resp *http.Response) []byte {
	t.Helper()
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read the answer's body: %v", err)
	}
	return body
}
