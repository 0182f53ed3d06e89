package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	"github.com/hookwarden/hookwarden/internal/githubsim"
	"github.com/hookwarden/hookwarden/internal/installer"
	"github.com/hookwarden/hookwarden/internal/testenv"
	"github.com/hookwarden/hookwarden/internal/webhooksecret"
)

const (
	// namespace and serviceAccount are where config/ installs the manager.
	namespace      = "hookwarden-system"
	serviceAccount = "hookwarden-controller-manager"
	watchedNS      = "team-a" // the namespace config/namespaced grants and watches
	unwatchedNS    = "team-b"
	saUser         = "system:serviceaccount:" + namespace + ":" + serviceAccount
	rbacToken      = "ghp_rbacTestToken000000000000000000000000"
)

// requestLog records one line per request a client sends; by default
// (wrap) "METHOD path".
type requestLog struct {
	mu       sync.Mutex
	requests []string
}

func (l *requestLog) add(line string) {
	l.mu.Lock()
	l.requests = append(l.requests, line)
	l.mu.Unlock()
}

func (l *requestLog) list() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.requests)
}

func (l *requestLog) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		l.add(req.Method + " " + req.URL.Path)
		return rt.RoundTrip(req)
	})
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// secretWrites records every write the manager sends for Secrets.
type secretWrites struct {
	writes requestLog // "METHOD namespace/name"
	mu     sync.Mutex
	// patches holds the body of each PATCH, by "namespace/name".
	patches map[string][][]byte
}

var secretPath = regexp.MustCompile(`^/api/v1/namespaces/([^/]+)/secrets(?:/([^/?]+))?`)

func (s *secretWrites) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		if req.Method != http.MethodGet {
			if m := secretPath.FindStringSubmatch(req.URL.Path); m != nil {
				name := m[2]
				if name == "" && req.Body != nil { // a create names the Secret in its body
					body, err := rereadBody(req)
					if err != nil {
						return nil, err
					}
					// JSON or protobuf, as the client chose.
					obj, _, err := clientgoscheme.Codecs.UniversalDeserializer().Decode(body, nil, nil)
					if sec, ok := obj.(*corev1.Secret); err == nil && ok {
						name = sec.Name
					} else {
						name = fmt.Sprintf("(unreadable create body: %v)", err)
					}
				}
				var patch []byte
				if req.Method == http.MethodPatch && req.Body != nil {
					var err error
					if patch, err = rereadBody(req); err != nil {
						return nil, err
					}
				}
				key := m[1] + "/" + name
				s.writes.add(req.Method + " " + key)
				if patch != nil {
					s.mu.Lock()
					if s.patches == nil {
						s.patches = map[string][][]byte{}
					}
					s.patches[key] = append(s.patches[key], patch)
					s.mu.Unlock()
				}
			}
		}
		return rt.RoundTrip(req)
	})
}

// rereadBody reads the body of req and puts it back for the request to be
// sent.
func rereadBody(req *http.Request) ([]byte, error) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, err
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	return body, nil
}

func (s *secretWrites) list() []string { return s.writes.list() }

func (s *secretWrites) patchesOf(key string) [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.patches[key])
}

// TestRBACIsSufficientAndMinimal installs config/namespaced (the manager's
// ClusterRole bound in the watched namespace only), runs the manager with
// nothing but the ServiceAccount's permissions, and takes an integration
// through creation, a secret rotation and deletion. SubjectAccessReviews
// then show what the ServiceAccount cannot do.
func TestRBACIsSufficientAndMinimal(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	env := startRBACEnv(t, ctx, namespace, watchedNS, unwatchedNS)
	c := env.Client
	for _, o := range applyRBACOf(t, ctx, c, "namespaced") {
		if o.GetKind() == "Deployment" {
			containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
			args, _, _ := unstructured.NestedStringSlice(containers[0].(map[string]any), "args")
			if !slices.Contains(args, "--watch-namespaces="+watchedNS) {
				t.Errorf("config/namespaced runs the manager with %v, want --watch-namespaces=%s to match its RoleBindings", args, watchedNS)
			}
		}
		if o.GetKind() == "ClusterRoleBinding" && o.GetName() == "hookwarden-manager-rolebinding" {
			t.Errorf("config/namespaced still binds the manager's ClusterRole cluster-wide")
		}
	}

	sim := githubsim.New()
	t.Cleanup(sim.Close)
	if err := sim.AddRepo("acme/demo"); err != nil {
		t.Fatal(err)
	}
	sim.AddToken(rbacToken, []string{"admin:repo_hook"}, "acme/demo")

	// The manager runs as the ServiceAccount: every API call is made with
	// its permissions only.
	audit := &secretWrites{}
	cfg := impersonating(env.Config, saUser)
	cfg.Wrap(audit.wrap)
	port := freePort(t)
	opts := DefaultOptions()
	opts.GitHubURL = sim.URL() + "/"
	opts.PublicURL = fmt.Sprintf("http://127.0.0.1:%d", port)
	opts.ReceiverBindAddress = fmt.Sprintf("127.0.0.1:%d", port)
	opts.MetricsBindAddress = "0"
	opts.HealthProbeBindAddress = "0"
	opts.WatchNamespaces = []string{watchedNS}
	opts.LeaderElect = true
	opts.LeaderElectionNamespace = namespace
	opts.SkipControllerNameValidation = true // other tests of this binary run managers too
	stopMgr := runManager(t, ctx, cfg, opts)

	// Create.
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: watchedNS, Name: "github-experiments"},
		StringData: map[string]string{"token": rbacToken, "webhook_secret": "first-webhook-secret-0123456789"},
	}
	if err := c.Create(ctx, secret); err != nil {
		t.Fatal(err)
	}
	gi := &hookv1.GitHubIntegration{
		ObjectMeta: metav1.ObjectMeta{Namespace: watchedNS, Name: "experiments"},
		Spec: hookv1.GitHubIntegrationSpec{
			Repositories: []string{"acme/demo"},
			SecretRef:    hookv1.SecretReference{Name: secret.Name},
			Interval:     metav1.Duration{Duration: time.Minute},
		},
	}
	if err := c.Create(ctx, gi); err != nil {
		t.Fatal(err)
	}
	var firstFingerprint string
	waitUntil(t, "the integration is Ready with its hook", func() (bool, string) {
		got := &hookv1.GitHubIntegration{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(gi), got); err != nil {
			return false, err.Error()
		}
		hooks, _ := sim.Hooks("acme/demo")
		ready := meta.FindStatusCondition(got.Status.Conditions, hookv1.ConditionReady)
		if got.Status.WebhookSecret != nil {
			firstFingerprint = got.Status.WebhookSecret.Fingerprint
		}
		return ready != nil && ready.Status == metav1.ConditionTrue && len(hooks) == 1, fmt.Sprintf("Ready=%v, %d hooks", ready, len(hooks))
	})

	// Rotate: the new secret reaches the hook on GitHub.
	// Read it again first: hookwarden added its protection finalizer.
	if err := c.Get(ctx, client.ObjectKeyFromObject(secret), secret); err != nil {
		t.Fatal(err)
	}
	secret.StringData = map[string]string{"webhook_secret": "second-webhook-secret-0123456789"}
	if err := c.Update(ctx, secret); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the rotated secret is on the hook", func() (bool, string) {
		hooks, _ := sim.Hooks("acme/demo")
		got := &hookv1.GitHubIntegration{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(gi), got); err != nil {
			return false, err.Error()
		}
		rotated := got.Status.WebhookSecret != nil && got.Status.WebhookSecret.Fingerprint != firstFingerprint
		// Compare without printing either secret.
		onHook := len(hooks) == 1 && hooks[0].Config.Secret == "second-webhook-secret-0123456789"
		return rotated && onHook, fmt.Sprintf("fingerprint changed: %t, hook carries the new secret: %t", rotated, onHook)
	})

	// Delete: the hook is removed from GitHub and the object released.
	if err := c.Delete(ctx, gi); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the integration and its hook are gone", func() (bool, string) {
		hooks, _ := sim.Hooks("acme/demo")
		err := c.Get(ctx, client.ObjectKeyFromObject(gi), &hookv1.GitHubIntegration{})
		return apierrors.IsNotFound(err) && len(hooks) == 0, fmt.Sprintf("%d hooks, get: %v", len(hooks), err)
	})
	waitUntil(t, "the referenced Secret is released", func() (bool, string) {
		got := &corev1.Secret{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(secret), got); err != nil {
			return false, err.Error()
		}
		return len(got.Finalizers) == 0 && !webhooksecret.IsReferenced(got), fmt.Sprintf("finalizers %v, labels %v", got.Finalizers, got.Labels)
	})
	stopMgr()

	t.Run("secret writes target only what hookwarden owns", func(t *testing.T) {
		allowed := map[string]bool{
			watchedNS + "/" + webhooksecret.PreviousName(gi.Name): true,
			watchedNS + "/" + gi.Name + "-applied-webhook-secret": true,
		}
		writes := audit.list()
		if len(writes) == 0 {
			t.Error("no Secret write was seen: the audit of the manager's requests is not working")
		}
		// The referenced Secret gets the protection finalizer while the
		// integration needs its token, and the label that keeps it in the
		// caches while it is referenced, and loses both after: metadata
		// patches of the finalizers and that label only, never its data.
		referenced := watchedNS + "/" + secret.Name
		for _, w := range writes {
			target := w[strings.Index(w, " ")+1:]
			if target == referenced && strings.HasPrefix(w, http.MethodPatch+" ") {
				continue
			}
			if !allowed[target] {
				t.Errorf("the manager wrote a Secret it does not own: %s", w)
			}
		}
		for _, body := range audit.patchesOf(referenced) {
			var patch map[string]map[string]any
			if err := json.Unmarshal(body, &patch); err != nil {
				t.Errorf("patch of the referenced Secret is not a JSON merge patch of metadata: %v", err)
				continue
			}
			for field := range patch {
				if field != "metadata" {
					t.Errorf("a patch of the referenced Secret touches %q", field)
				}
			}
			for field, value := range patch["metadata"] {
				if field == "labels" {
					// null when hookwarden's label was the only one.
					labels, _ := value.(map[string]any)
					for label := range labels {
						if label != webhooksecret.ReferencedLabel {
							t.Errorf("a patch of the referenced Secret touches its label %q", label)
						}
					}
					continue
				}
				if field != "finalizers" && field != "resourceVersion" {
					t.Errorf("a patch of the referenced Secret touches metadata.%s", field)
				}
			}
		}
	})

	t.Run("the ServiceAccount cannot reach beyond its namespaces", func(t *testing.T) {
		denied := []authorizationv1.ResourceAttributes{
			{Namespace: unwatchedNS, Verb: "get", Resource: "secrets"},
			{Namespace: unwatchedNS, Verb: "list", Resource: "secrets"},
			{Namespace: unwatchedNS, Verb: "watch", Resource: "secrets"},
			{Namespace: unwatchedNS, Verb: "create", Resource: "secrets"},
			{Namespace: unwatchedNS, Verb: "update", Resource: "secrets"},
			{Namespace: "", Verb: "list", Resource: "secrets"}, // all namespaces
			{Namespace: namespace, Verb: "get", Resource: "secrets"},
			{Namespace: watchedNS, Verb: "deletecollection", Resource: "secrets"},
			// Every write hookwarden makes to an existing Secret is a
			// patch guarded by its resourceVersion.
			{Namespace: watchedNS, Verb: "update", Resource: "secrets"},
			{Namespace: watchedNS, Verb: "create", Resource: "pods"},
			{Namespace: watchedNS, Verb: "delete", Group: hookv1.GroupVersion.Group, Resource: "githubintegrations"},
			{Namespace: watchedNS, Verb: "update", Group: hookv1.GroupVersion.Group, Resource: "githubintegrations"},
			{Namespace: unwatchedNS, Verb: "list", Group: hookv1.GroupVersion.Group, Resource: "githubintegrations"},
			{Verb: "update", Group: "apiextensions.k8s.io", Resource: "customresourcedefinitions"},
			{Verb: "create", Group: "rbac.authorization.k8s.io", Resource: "clusterrolebindings"},
			{Verb: "impersonate", Resource: "serviceaccounts"},
		}
		for _, ra := range denied {
			if allowedFor(t, ctx, c, ra) {
				t.Errorf("ServiceAccount may %s %s/%s in %q; it must not", ra.Verb, ra.Group, ra.Resource, ra.Namespace)
			}
		}
		needed := []authorizationv1.ResourceAttributes{
			{Namespace: watchedNS, Verb: "get", Resource: "secrets"},
			{Namespace: watchedNS, Verb: "watch", Resource: "secrets"},
			{Namespace: watchedNS, Verb: "patch", Resource: "secrets"},
			{Namespace: watchedNS, Verb: "patch", Group: hookv1.GroupVersion.Group, Resource: "githubintegrations", Subresource: "status"},
			{Namespace: namespace, Verb: "update", Group: "coordination.k8s.io", Resource: "leases"},
		}
		for _, ra := range needed {
			if !allowedFor(t, ctx, c, ra) {
				t.Errorf("ServiceAccount may not %s %s/%s in %q; it needs to", ra.Verb, ra.Group, ra.Resource, ra.Namespace)
			}
		}
	})
}

// runManager starts the manager on cfg with opts; the function it returns
// stops it, waits for it and fails the test if it ended with an error. The
// test's end stops it too.
func runManager(t *testing.T, ctx context.Context, cfg *rest.Config, opts Options) (stop func()) {
	t.Helper()
	mgrCtx, cancel := context.WithCancel(ctx)
	mgr, err := newManager(mgrCtx, cfg, opts)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(mgrCtx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("the manager stopped with an error: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// saGroups are the groups of a ServiceAccount of hookwarden's namespace.
var saGroups = []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace, "system:authenticated"}

// impersonating is cfg acting as user, a ServiceAccount of hookwarden's
// namespace: every request is made with its permissions only.
func impersonating(cfg *rest.Config, user string) *rest.Config {
	out := rest.CopyConfig(cfg)
	out.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: saGroups}
	return out
}

// applyRBACOf renders config/<dir>, applies its ServiceAccounts, roles and
// bindings to the API server, and returns every object it renders.
// startRBACEnv starts a control plane of the test's own, since an RBAC test
// installs cluster-wide roles, and creates the namespaces.
func startRBACEnv(t *testing.T, ctx context.Context, namespaces ...string) *testenv.Env {
	t.Helper()
	env := testenv.StartForTest(t)
	for _, ns := range namespaces {
		if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			t.Fatal(err)
		}
	}
	return env
}

func applyRBACOf(t *testing.T, ctx context.Context, c client.Client, dir string) []*unstructured.Unstructured {
	t.Helper()
	manifests, err := installer.Render(filepath.Join(testenv.RepoRoot(), "config", dir), "")
	if err != nil {
		t.Fatal(err)
	}
	objs, err := installer.Objects(manifests)
	if err != nil {
		t.Fatal(err)
	}
	var rbac []*unstructured.Unstructured
	for _, o := range objs {
		switch o.GetKind() {
		case "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding":
			rbac = append(rbac, o)
		}
	}
	if err := installer.Apply(ctx, c, rbac, false); err != nil {
		t.Fatalf("apply RBAC of config/%s: %v", dir, err)
	}
	return objs
}

func allowedFor(t *testing.T, ctx context.Context, c client.Client, ra authorizationv1.ResourceAttributes) bool {
	t.Helper()
	return allowedAs(t, ctx, c, saUser, ra)
}

// allowedAs asks the API server whether the ServiceAccount user of
// hookwarden's namespace may do ra.
func allowedAs(t *testing.T, ctx context.Context, c client.Client, user string, ra authorizationv1.ResourceAttributes) bool {
	t.Helper()
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User:               user,
		Groups:             saGroups,
		ResourceAttributes: &ra,
	}}
	if err := c.Create(ctx, sar); err != nil {
		t.Fatal(err)
	}
	return sar.Status.Allowed
}

func waitUntil(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	testenv.Eventually(t, 60*time.Second, "waiting until "+what, func() error {
		if ok, state := cond(); !ok {
			return errors.New("last seen: " + state)
		}
		return nil
	})
}

func freePort(t *testing.T) int {
	t.Helper()
	var lc net.ListenConfig
	l, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
