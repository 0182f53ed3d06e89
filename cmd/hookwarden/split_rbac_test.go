package main

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	"github.com/hookwarden/hookwarden/internal/scheme"
	"github.com/hookwarden/hookwarden/internal/webhooksecret"
)

// receiverUser is the receiver's ServiceAccount in config/split.
const receiverUser = "system:serviceaccount:" + namespace + ":hookwarden-receiver"

// receiverWrites are the writes the receiver may make: the status of an
// integration, and Events.
var receiverWrites = regexp.MustCompile(`^(PATCH /apis/integrations\.hookwarden\.io/v1alpha1/namespaces/[^/]+/githubintegrations/[^/]+/status` +
	`|(POST|PATCH) /apis/events\.k8s\.io/v1/namespaces/[^/]+/events(/[^/]+)?)$`)

// TestSplitReceiverRBAC installs the RBAC of config/split, runs the
// receiver (--components=receiver) with nothing but its ServiceAccount's
// permissions, and checks that it serves deliveries from the mirror while
// it can read no Secret outside the operator's namespace, not the user's
// Secret with the token, and write nothing but integration status and
// Events.
func TestSplitReceiverRBAC(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	env := startRBACEnv(t, ctx, namespace, watchedNS)
	c := env.Client
	applyRBACOf(t, ctx, c, "split")

	// The user's Secret, the integration, and its mirror as the
	// controller writes it.
	const webhookSecret = "split-rbac-webhook-secret-0123456789"
	userSecret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: watchedNS, Name: "github"},
		StringData: map[string]string{"token": rbacToken, "webhook_secret": webhookSecret}}
	if err := c.Create(ctx, userSecret); err != nil {
		t.Fatal(err)
	}
	gi := &hookv1.GitHubIntegration{
		ObjectMeta: metav1.ObjectMeta{Namespace: watchedNS, Name: "experiments"},
		Spec: hookv1.GitHubIntegrationSpec{Repositories: []string{"acme/demo"},
			SecretRef: hookv1.SecretReference{Name: userSecret.Name}},
	}
	if err := c.Create(ctx, gi); err != nil {
		t.Fatal(err)
	}
	mirror := webhooksecret.NewMirror(namespace, webhooksecret.Mirror{Integration: client.ObjectKeyFromObject(gi),
		UID: gi.UID, Current: []byte(webhookSecret), Applied: []byte(webhookSecret)})
	if err := c.Create(ctx, mirror); err != nil {
		t.Fatal(err)
	}

	// The receiver as the ServiceAccount: it becomes ready and records a
	// delivery signed with the mirrored secret.
	requests := &requestLog{}
	cfg := impersonating(env.Config, receiverUser)
	cfg.Wrap(requests.wrap)
	port := freePort(t)
	opts := DefaultOptions()
	opts.Components = []string{ComponentReceiver}
	opts.OperatorNamespace = namespace
	opts.ReplicaName = "receiver-0"
	opts.ReceiverBindAddress = fmt.Sprintf("127.0.0.1:%d", port)
	opts.MetricsBindAddress = "0"
	opts.HealthProbeBindAddress = "0"
	opts.StatusFlushInterval = 200 * time.Millisecond
	opts.SkipControllerNameValidation = true
	stopMgr := runManager(t, ctx, cfg, opts)

	e := &e2e{t: t, env: env, ctx: ctx, ns: watchedNS, addr: opts.ReceiverBindAddress}
	waitUntil(t, "the receiver accepts a delivery signed with the mirrored secret", func() (bool, string) {
		code := e.deliver(gi.Name, webhookSecret)
		return code == http.StatusOK, fmt.Sprintf("answered %d", code)
	})
	if code := e.deliver(gi.Name, "a-wrong-webhook-secret-0123456789"); code != http.StatusUnauthorized {
		t.Errorf("a delivery with a wrong secret was answered %d, want 401", code)
	}
	waitUntil(t, "the receiver recorded the deliveries in status", func() (bool, string) {
		got := &hookv1.GitHubIntegration{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(gi), got); err != nil {
			return false, err.Error()
		}
		d := got.Status.Deliveries
		return d.Processed >= 1 && d.Rejected == 1, fmt.Sprintf("%+v", d)
	})
	stopMgr()

	t.Run("the receiver read and wrote only what it may", func(t *testing.T) {
		reqs := requests.list()
		if len(reqs) == 0 {
			t.Fatal("no request was seen: the audit of the receiver's requests is not working")
		}
		wrote := false
		for _, r := range reqs {
			method, path, _ := strings.Cut(r, " ")
			if strings.Contains(path, "/secrets") && !strings.HasPrefix(path, "/api/v1/namespaces/"+namespace+"/secrets") {
				t.Errorf("the receiver asked for Secrets outside %s: %s", namespace, r)
			}
			if method != http.MethodGet && !receiverWrites.MatchString(r) {
				t.Errorf("the receiver made a write other than integration status or an Event: %s", r)
			}
			wrote = wrote || receiverWrites.MatchString(r)
		}
		if !wrote {
			t.Error("the receiver never wrote status: the audit saw too little")
		}
	})

	t.Run("as the receiver's ServiceAccount", func(t *testing.T) {
		sa, err := client.New(impersonating(env.Config, receiverUser), client.Options{Scheme: scheme.New()})
		if err != nil {
			t.Fatal(err)
		}
		forbidden := func(what string, err error) {
			t.Helper()
			if !apierrors.IsForbidden(err) {
				t.Errorf("%s: %v, want Forbidden", what, err)
			}
		}
		forbidden("get the user's Secret with the token", sa.Get(ctx, client.ObjectKeyFromObject(userSecret), &corev1.Secret{}))
		forbidden("list Secrets in the integration's namespace", sa.List(ctx, &corev1.SecretList{}, client.InNamespace(watchedNS)))
		forbidden("list Secrets of every namespace", sa.List(ctx, &corev1.SecretList{}))
		forbidden("create a Secret in the operator's namespace", sa.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "planted"}}))
		forbidden("delete the mirror", sa.Delete(ctx, mirror.DeepCopy()))
		forbidden("delete the integration", sa.Delete(ctx, gi.DeepCopy()))
		patched := gi.DeepCopy()
		patched.Spec.Repositories = []string{"attacker/repo"}
		forbidden("change the integration's spec", sa.Update(ctx, patched))
		// What it needs: the mirrors, the integrations, their status.
		if err := sa.Get(ctx, client.ObjectKeyFromObject(mirror), &corev1.Secret{}); err != nil {
			t.Errorf("get the mirror: %v", err)
		}
		if err := sa.List(ctx, &hookv1.GitHubIntegrationList{}); err != nil {
			t.Errorf("list integrations: %v", err)
		}

		denied := []authorizationv1.ResourceAttributes{
			{Namespace: watchedNS, Verb: "get", Resource: "secrets", Name: userSecret.Name},
			{Namespace: watchedNS, Verb: "watch", Resource: "secrets"},
			{Namespace: "kube-system", Verb: "get", Resource: "secrets"},
			{Namespace: namespace, Verb: "create", Resource: "secrets"},
			{Namespace: namespace, Verb: "patch", Resource: "secrets"},
			{Namespace: namespace, Verb: "update", Resource: "secrets"},
			{Namespace: namespace, Verb: "delete", Resource: "secrets"},
			{Namespace: watchedNS, Verb: "patch", Group: hookv1.GroupVersion.Group, Resource: "githubintegrations"},
			{Namespace: watchedNS, Verb: "update", Group: hookv1.GroupVersion.Group, Resource: "githubintegrations", Subresource: "finalizers"},
			{Namespace: watchedNS, Verb: "create", Group: hookv1.GroupVersion.Group, Resource: "githubintegrations"},
			{Namespace: watchedNS, Verb: "patch", Group: hookv1.GroupVersion.Group, Resource: "githubissues"},
			{Namespace: namespace, Verb: "update", Group: "coordination.k8s.io", Resource: "leases"},
			{Namespace: namespace, Verb: "list", Group: "discovery.k8s.io", Resource: "endpointslices"},
			{Namespace: watchedNS, Verb: "create", Resource: "pods"},
			{Namespace: watchedNS, Verb: "create", Resource: "configmaps"},
			{Namespace: watchedNS, Verb: "create", Resource: "serviceaccounts", Subresource: "token"},
			{Verb: "impersonate", Resource: "serviceaccounts"},
			{Verb: "create", Group: "rbac.authorization.k8s.io", Resource: "clusterrolebindings"},
		}
		for _, ra := range denied {
			if allowedAs(t, ctx, c, receiverUser, ra) {
				t.Errorf("the receiver may %s %s/%s %s in %q; it must not", ra.Verb, ra.Group, ra.Resource, ra.Subresource, ra.Namespace)
			}
		}
		needed := []authorizationv1.ResourceAttributes{
			{Namespace: namespace, Verb: "watch", Resource: "secrets"},
			{Namespace: watchedNS, Verb: "watch", Group: hookv1.GroupVersion.Group, Resource: "githubintegrations"},
			{Namespace: watchedNS, Verb: "patch", Group: hookv1.GroupVersion.Group, Resource: "githubintegrations", Subresource: "status"},
			{Namespace: watchedNS, Verb: "create", Group: "events.k8s.io", Resource: "events"},
		}
		for _, ra := range needed {
			if !allowedAs(t, ctx, c, receiverUser, ra) {
				t.Errorf("the receiver may not %s %s/%s in %q; it needs to", ra.Verb, ra.Group, ra.Resource, ra.Namespace)
			}
		}
	})
}
