package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	"github.com/hookwarden/hookwarden/internal/testenv"
	"github.com/hookwarden/hookwarden/internal/webhooksecret"
)

// splitReceiverService is the receiver Service of the split layout in
// these tests, as config/split names it.
const splitReceiverService = "hookwarden-receiver"

// process is one run of the built binary, with its output.
type process struct {
	name   string
	cmd    *exec.Cmd
	output testenv.Buffer
	exited chan struct{}
}

// stop interrupts the process as Kubernetes would and waits for it.
func (p *process) stop() {
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.exited:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// run starts the binary with args against the test's API server.
func (e *e2e) run(bin, kubeconfig, name string, env []string, args ...string) *process {
	e.t.Helper()
	p := &process{name: name, exited: make(chan struct{})}
	p.cmd = exec.Command(bin, append([]string{"--kubeconfig", kubeconfig}, args...)...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = &p.output, &p.output
	if err := p.cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.exited) }()
	e.t.Cleanup(func() {
		p.stop()
		out := p.output.String()
		for _, secret := range []string{e2eToken, e2eOldSecret, e2eNewSecret} {
			if strings.Contains(out, secret) {
				e.t.Errorf("the %s logged a token or webhook secret", name)
			}
		}
		if e.t.Failed() {
			lines := strings.Split(strings.TrimSpace(out), "\n")
			e.t.Logf("last lines of the %s:\n%s", name, strings.Join(lines[max(0, len(lines)-40):], "\n"))
		}
	})
	return p
}

// balance serves addr, sending each request to the next of backends in
// turn, as a Service does: both receivers answer deliveries.
func (e *e2e) balance(addr string, backends ...string) {
	e.t.Helper()
	var next atomic.Uint64
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		backend := backends[next.Add(1)%uint64(len(backends))]
		r.SetURL(&url.URL{Scheme: "http", Host: backend})
	}}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		e.t.Fatal(err)
	}
	srv := &http.Server{Handler: proxy, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	e.t.Cleanup(func() { _ = srv.Close() })
}

// setReceiverEndpoints writes the EndpointSlice of the receiver Service
// with a ready endpoint per named receiver Pod, as the endpoint slice
// controller would.
func (e *e2e) setReceiverEndpoints(namespace string, pods ...string) {
	e.t.Helper()
	es := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: splitReceiverService + "-e2e"}}
	_, err := ctrlCreateOrUpdate(e.ctx, e.env.Client, es, func() {
		es.Labels = map[string]string{discoveryv1.LabelServiceName: splitReceiverService}
		es.AddressType = discoveryv1.AddressTypeIPv4
		es.Endpoints = nil
		for i, pod := range pods {
			// The addresses are not dialled: the reconciler reads the
			// endpoints' Pods only.
			es.Endpoints = append(es.Endpoints, discoveryv1.Endpoint{
				Addresses:  []string{fmt.Sprintf("10.0.0.%d", i+1)},
				Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)},
				TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: namespace, Name: pod},
			})
		}
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

func ctrlCreateOrUpdate(ctx context.Context, c client.Client, obj client.Object, mutate func()) (bool, error) {
	err := c.Get(ctx, client.ObjectKeyFromObject(obj), obj)
	if apierrors.IsNotFound(err) {
		mutate()
		return true, c.Create(ctx, obj)
	}
	if err != nil {
		return false, err
	}
	mutate()
	return false, c.Update(ctx, obj)
}

// mirror reads the webhook secret mirror of the integration with uid; nil
// when there is none.
func (e *e2e) mirror(namespace string, uid types.UID) *corev1.Secret {
	e.t.Helper()
	s := &corev1.Secret{}
	if err := e.env.Client.Get(e.ctx, client.ObjectKey{Namespace: namespace, Name: webhooksecret.MirrorName(uid)}, s); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		e.t.Fatal(err)
	}
	return s
}

// TestSplitLayoutLosesNoDelivery runs the controller and two receivers as
// separate processes of the built binary (--components), as config/split
// does, with the receivers behind one address. The mirrors hold no token;
// a user rotation and a scheduled rotation fail no delivery at 25 per
// second and every delivery is recorded exactly once; the new secret goes
// to GitHub only once every ready receiver has acknowledged it; deleting
// an integration removes its mirror, and a mirror deleted by hand is
// written again.
func TestSplitLayoutLosesNoDelivery(t *testing.T) {
	bin := binary(t)
	t.Parallel()
	repos := []string{"acme/api", "acme/web"}
	e := newE2E(t, append(slices.Clone(repos), "acme/ops"))
	kubeconfig, err := e.env.Kubeconfig()
	if err != nil {
		t.Fatal(err)
	}
	kubeconfigPath := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfigPath, kubeconfig, 0o600); err != nil {
		t.Fatal(err)
	}
	operatorNS, err := e.env.Namespace(e.ctx, "hookwarden")
	if err != nil {
		t.Fatal(err)
	}
	// A third Pod, ready but never started, holds the first rotation back.
	e.setReceiverEndpoints(operatorNS, "receiver-a", "receiver-b", "receiver-ghost")

	e.run(bin, kubeconfigPath, "controller", nil, "--components=controller",
		"--operator-namespace="+operatorNS, "--receiver-service="+splitReceiverService,
		// The operator's namespace is watched, as with config/split, which
		// watches all: a mirror deleted by someone is written again.
		"--github-url="+e.opts.GitHubURL, "--public-url="+e.opts.PublicURL, "--watch-namespaces="+e.ns+","+operatorNS,
		"--metrics-bind-address=0", "--health-probe-bind-address=0")
	var receivers []string
	for _, name := range []string{"receiver-a", "receiver-b"} {
		addr := freeAddr(t)
		receivers = append(receivers, addr)
		// The operator's namespace comes from POD_NAMESPACE, as in the
		// Deployment.
		e.run(bin, kubeconfigPath, name, []string{"POD_NAME=" + name, "POD_NAMESPACE=" + operatorNS},
			"--components=receiver", "--receiver-bind-address="+addr, "--watch-namespaces="+e.ns,
			"--status-flush-interval=500ms", "--metrics-bind-address=0", "--health-probe-bind-address=0")
	}
	e.balance(e.addr, receivers...)

	const grace = userRotationGrace
	gi, newFP := e.integrationForUserRotation(repos)

	t.Run("the mirror holds no token", func(t *testing.T) {
		m := e.mirror(operatorNS, gi.UID)
		if m == nil {
			t.Fatalf("no mirror %s in %s", webhooksecret.MirrorName(gi.UID), operatorNS)
		}
		for k, v := range m.Data {
			if bytes.Contains(v, []byte(e2eToken)) {
				t.Errorf("mirror key %q holds the token", k)
			}
			if k != webhooksecret.MirrorCurrentKey && k != webhooksecret.MirrorAppliedKey {
				t.Errorf("the mirror has key %q: only the current and applied secrets are expected before a rotation", k)
			}
		}
		for k, v := range m.Annotations {
			if strings.Contains(v, e2eToken) || strings.Contains(v, e2eOldSecret) {
				t.Errorf("mirror annotation %q holds a token or secret", k)
			}
		}
		if string(m.Data[webhooksecret.MirrorCurrentKey]) != e2eOldSecret {
			t.Error("the mirror does not hold the user's webhook secret")
		}
		if e.secret(webhooksecret.MirrorName(gi.UID)) != nil {
			t.Error("a mirror was written in the integration's namespace")
		}
	})

	t.Run("user rotation", func(t *testing.T) {
		s := e.startStream("acme/api", streamRate)
		time.Sleep(time.Second)
		e.setWebhookSecret("rotate", e2eNewSecret)
		// Both receivers acknowledge the new secret; the ghost never does,
		// so the hooks keep the old one and Reconciling says why.
		e.eventually(30*time.Second, func() error {
			got := e.get("rotate")
			var acked []string
			for _, rs := range got.Status.Receivers {
				if rs.SecretFingerprint == newFP {
					acked = append(acked, rs.Name)
				}
			}
			if !slices.Equal(acked, []string{"receiver-a", "receiver-b"}) {
				return fmt.Errorf("receivers acknowledging %s: %v", newFP, acked)
			}
			c := apimeta.FindStatusCondition(got.Status.Conditions, hookv1.ConditionReconciling)
			if c == nil || !strings.Contains(c.Message, "receiver-ghost") {
				return fmt.Errorf("Reconciling does not name the receiver waited for: %+v", c)
			}
			return nil
		})
		time.Sleep(2 * time.Second)
		if got := e.hookSecrets(repos...); !slices.Equal(got, []string{e2eOldSecret, e2eOldSecret}) {
			t.Fatal("the new secret went to GitHub before every ready receiver had loaded it")
		}
		e.setReceiverEndpoints(operatorNS, "receiver-a", "receiver-b")
		e.eventually(30*time.Second, func() error {
			if got := e.hookSecrets(repos...); !slices.Equal(got, []string{e2eNewSecret, e2eNewSecret}) {
				return fmt.Errorf("hooks do not carry the new secret yet")
			}
			if ws := e.get("rotate").Status.WebhookSecret; ws == nil || ws.Fingerprint != newFP || ws.PreviousExpiresTime == nil {
				return fmt.Errorf("status.webhookSecret = %+v", ws)
			}
			return nil
		})
		time.Sleep(time.Second)
		guids := e.endLosingNothing(s, "the rotation")
		e.waitLedger("rotate", "acme/api", guids, 60*time.Second)
		// status.receivers has one writer, the receivers' field manager.
		owned := statusFieldsByManager(t, e.get("rotate"))
		if !slices.Contains(owned[hookv1.ReceiverFieldManager], "receivers") || slices.Contains(owned[hookv1.ReconcilerFieldManager], "receivers") {
			t.Errorf("status.receivers is not owned by %s alone: %v", hookv1.ReceiverFieldManager, owned)
		}

		m := e.mirror(operatorNS, gi.UID)
		if m == nil || string(m.Data[webhooksecret.MirrorCurrentKey]) != e2eNewSecret ||
			string(m.Data[webhooksecret.MirrorPreviousKey]) != e2eOldSecret || m.Annotations[webhooksecret.ExpiresAnnotation] == "" {
			t.Error("the mirror does not hold the new secret and the previous one with its expiry")
		}
		// After the grace period both receivers refuse the old secret.
		e.eventually(grace+30*time.Second, func() error {
			for range receivers {
				if code := e.deliver("rotate", e2eOldSecret); code != http.StatusUnauthorized {
					return fmt.Errorf("delivery signed with the old secret after the grace period: %d, want 401", code)
				}
			}
			return nil
		})
	})

	t.Run("scheduled rotation", func(t *testing.T) {
		const interval, schedGrace = 12 * time.Second, 3 * time.Second
		e.integrationRotatingEvery("scheduled", []string{"acme/ops"}, interval, schedGrace)
		e.waitReady("scheduled", 1)
		first := string(e.secret("scheduled").Data["webhook_secret"])
		s := e.startStream("acme/ops", streamRate)
		e.waitScheduledRotation("scheduled", []string{"acme/ops"}, first, interval+30*time.Second)
		time.Sleep(time.Second)
		guids := e.endLosingNothing(s, "the scheduled rotation")
		e.waitLedger("scheduled", "acme/ops", guids, 60*time.Second)
	})

	t.Run("a mirror deleted by hand is written again", func(t *testing.T) {
		// "rotate" is not due before a minute: only the watch of the
		// mirror wakes it.
		deleted := e.mirror(operatorNS, gi.UID)
		if err := e.env.Client.Delete(e.ctx, deleted); err != nil {
			t.Fatal(err)
		}
		e.eventually(10*time.Second, func() error {
			if m := e.mirror(operatorNS, gi.UID); m == nil || m.UID == deleted.UID {
				return fmt.Errorf("the deleted mirror was not written again")
			}
			return nil
		})
	})

	t.Run("deleting an integration removes its mirror", func(t *testing.T) {
		scheduled := e.get("scheduled")
		if err := e.env.Client.Delete(e.ctx, gi); err != nil {
			t.Fatal(err)
		}
		e.eventually(60*time.Second, func() error {
			err := e.env.Client.Get(e.ctx, client.ObjectKeyFromObject(gi), &hookv1.GitHubIntegration{})
			if !apierrors.IsNotFound(err) {
				return fmt.Errorf("integration not gone yet: %w", err)
			}
			if e.mirror(operatorNS, gi.UID) != nil {
				return fmt.Errorf("the mirror of the deleted integration is still there")
			}
			return nil
		})
		if e.mirror(operatorNS, scheduled.UID) == nil {
			t.Error("the mirror of the remaining integration went too")
		}
	})
}
