package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// stopTimeout bounds a graceful stop of kube-apiserver or etcd.
const stopTimeout = 2 * time.Minute

// StartRestartable starts a control plane like Start whose kube-apiserver
// and etcd can be stopped and started again (StopControlPlane,
// StartControlPlane), as in an outage of the API server: they keep their
// ports, certificates and data, which live in dir, so clients and
// kubeconfigs made before the outage work after it.
func StartRestartable(dir string) (*Env, error) {
	assets, err := assetsDir()
	if err != nil {
		return nil, err
	}
	etcdDir, certDir := filepath.Join(dir, "etcd"), filepath.Join(dir, "kube-apiserver")
	for _, d := range []string{etcdDir, certDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	// envtest deletes the directories it creates itself when a process
	// stops; given directories are kept, and so are the processes' ports.
	return start(&envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(RepoRoot(), "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: assets,
		// kube-apiserver's graceful stop can take longer than envtest's
		// 20 s, which then kills it and reports an error.
		ControlPlaneStopTimeout: stopTimeout,
		ControlPlane: envtest.ControlPlane{
			Etcd:      &envtest.Etcd{DataDir: etcdDir},
			APIServer: &envtest.APIServer{CertDir: certDir},
		},
	})
}

// StopControlPlane stops kube-apiserver, then etcd, gracefully; the data
// stays. Only for an Env from StartRestartable.
func (e *Env) StopControlPlane() error {
	cp := &e.env.ControlPlane
	return inTurn("stop",
		process{"kube-apiserver", cp.APIServer.Stop},
		process{"etcd", cp.Etcd.Stop})
}

// StartControlPlane starts etcd, then kube-apiserver, again on their ports
// and data after StopControlPlane, and waits until the API server is healthy.
func (e *Env) StartControlPlane() error {
	cp := &e.env.ControlPlane
	return inTurn("restart",
		process{"etcd", cp.Etcd.Start},
		process{"kube-apiserver", cp.APIServer.Start})
}

// process is one process of the control plane and what to do to it.
type process struct {
	name string
	do   func() error
}

// inTurn does each process's action in turn and stops at the first that
// fails, with an error that says what failed ("stop etcd: ...").
func inTurn(verb string, processes ...process) error {
	for _, p := range processes {
		if err := p.do(); err != nil {
			return fmt.Errorf("%s %s: %w", verb, p.name, err)
		}
	}
	return nil
}
