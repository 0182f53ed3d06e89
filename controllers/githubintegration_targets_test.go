package controllers

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	"github.com/hookwarden/hookwarden/internal/delivery"
	ghclient "github.com/hookwarden/hookwarden/internal/github"
	"github.com/hookwarden/hookwarden/internal/githubsim"
	"github.com/hookwarden/hookwarden/internal/webhooksecret"
)

const (
	testAppID          = int64(424242)
	testInstallationID = int64(5150)
	testOrgToken       = "ghp_org_hook_token_0123456789abcdef"
	testRotatedSecret  = "the-rotated-webhook-secret-of-33-chars"
)

// testApp registers a GitHub App installed on acme with perms and returns
// its private key (PEM).
func (h *harness) testApp(perms map[string]string) string {
	h.t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		h.t.Fatal(err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	if err := h.sim.AddApp(testAppID, "hookwarden-test", keyPEM, "push"); err != nil {
		h.t.Fatal(err)
	}
	if err := h.sim.AddInstallation(testAppID, testInstallationID, "acme", perms); err != nil {
		h.t.Fatal(err)
	}
	return string(keyPEM)
}

var allHookPerms = map[string]string{githubsim.PermRepositoryHooks: githubsim.PermWrite, githubsim.PermOrganizationHooks: githubsim.PermWrite}

// appSecret is the Secret data of GitHub App authentication.
func appSecret(key string) map[string]string {
	return map[string]string{
		"app_id": strconv.FormatInt(testAppID, 10), "installation_id": strconv.FormatInt(testInstallationID, 10),
		"private_key": key, "webhook_secret": testWebhookSecret,
	}
}

// verifyingReceiver makes the receiver stand-in check signatures as the
// receiver does (webhookserver reads the same Secrets with
// webhooksecret.Load): a delivery signed with a secret the receiver does
// not know is answered 401, a failed delivery in GitHub's log.
func (h *harness) verifyingReceiver() {
	h.receiver.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h.receiverDown.Load() {
			if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
				_ = conn.Close()
			}
			return
		}
		body, _ := io.ReadAll(r.Body)
		ns, name, ok := hookv1.ParseReceiverPath(r.URL.Path)
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		gi := &hookv1.GitHubIntegration{}
		if err := env.Client.Get(r.Context(), client.ObjectKey{Namespace: ns, Name: name}, gi); err != nil {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		l, err := webhooksecret.Load(r.Context(), env.Client, ns, name, gi.UID, gi.Spec.SecretRef.Name, gi.GetWebhookSecretKey(), nil, nil)
		if err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		secrets := delivery.Secrets{Current: l.Current, Applied: l.Applied, Previous: l.Previous, PreviousExpires: l.PreviousExpires}
		if _, rej := delivery.Verify(r.Header.Get("X-Hub-Signature-256"), body, secrets, time.Now()); rej != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
}

// targetCase is one auth mode and target kind of the matrix.
type targetCase struct {
	name string
	app  bool
	// kind: "repositories", "organization" or "app".
	kind string
}

func (tc targetCase) status() string {
	switch tc.kind {
	case "organization":
		return "acme"
	case "app":
		return ghclient.AppTarget
	}
	return "acme/api"
}

func (tc targetCase) simTarget() string {
	if tc.kind == "app" {
		return githubsim.AppTarget(testAppID)
	}
	return tc.status()
}

// TestEveryAuthModeAndTargetKind runs the life of an integration for each
// auth mode (token, GitHub App) and target kind (repositories, organization,
// the App's webhook): created; drift corrected; the webhook secret rotated
// during a stream of deliveries without one failing; a failed delivery
// redelivered; deleted (the App's webhook left, with an Event).
func TestEveryAuthModeAndTargetKind(t *testing.T) {
	for _, tc := range []targetCase{
		{name: "token-repositories", kind: "repositories"},
		{name: "token-organization", kind: "organization"},
		{name: "app-repositories", app: true, kind: "repositories"},
		{name: "app-organization", app: true, kind: "organization"},
		{name: "app-app", app: true, kind: "app"},
	} {
		t.Run(tc.name, func(t *testing.T) { exerciseTarget(t, tc) })
	}
}

func exerciseTarget(t *testing.T, tc targetCase) {
	h := newHarness(t, harnessOptions{repos: []string{"acme/api"}})
	h.verifyingReceiver()
	key := h.testApp(allHookPerms)
	h.sim.AddToken(testOrgToken, []string{"admin:org_hook"}, "acme")
	const name = "life"
	switch {
	case tc.app:
		h.secret(name, appSecret(key))
	case tc.kind == "organization":
		h.secret(name, map[string]string{"token": testOrgToken, "webhook_secret": testWebhookSecret})
	default:
		h.withSecret(name)
	}
	h.integration(name, nil, func(gi *hookv1.GitHubIntegration) {
		gi.Spec.Interval = metav1.Duration{Duration: time.Second}
		switch tc.kind {
		case "organization":
			gi.Spec.Organization = "acme"
		case "app":
			gi.Spec.App = &hookv1.GitHubAppTarget{}
		default:
			gi.Spec.Repositories = []string{"acme/api"}
		}
	})

	// Created.
	gi := h.waitReady(name)
	hs, err := hookStatusOf(gi, tc.status())
	if err != nil {
		t.Fatal(err)
	}
	hook, err := h.sim.Hook(tc.simTarget(), hs.ID)
	if err != nil {
		t.Fatalf("status.hooks names hook %d, the simulator: %v", hs.ID, err)
	}
	if hook.Config.URL != h.payloadURL(name) || hook.Config.Secret != testWebhookSecret || hook.Config.ContentType != "json" {
		t.Fatalf("hook on GitHub: %+v", hook.Config)
	}
	if gi.Status.HookCount != 1 || gi.Status.Target != tc.status() {
		t.Errorf("status: hookCount %d, target %q", gi.Status.HookCount, gi.Status.Target)
	}

	// Drift corrected.
	if _, err := h.sim.EditHook(tc.simTarget(), hs.ID, func(hk *githubsim.Hook) { hk.Config.ContentType = "form" }); err != nil {
		t.Fatal(err)
	}
	h.eventually(15*time.Second, func() error {
		hk, err := h.sim.Hook(tc.simTarget(), hs.ID)
		if err != nil || hk.Config.ContentType != "json" {
			return fmt.Errorf("content_type on GitHub %q (%w), want json again", hk.Config.ContentType, err)
		}
		// The Event follows GitHub's answer to the correction.
		if evs := h.recorder.find(name, hookv1.EventHookUpdated); len(evs) == 0 {
			return fmt.Errorf("no HookUpdated event for the corrected drift")
		}
		return nil
	})

	// Rotated during a stream of deliveries: none fails.
	stream := h.startDeliveryStream(hs.ID)
	time.Sleep(300 * time.Millisecond)
	h.setWebhookSecret(name, testRotatedSecret)
	h.eventually(20*time.Second, func() error {
		hk, err := h.sim.Hook(tc.simTarget(), hs.ID)
		if err != nil || hk.Config.Secret != testRotatedSecret {
			return fmt.Errorf("the hook does not carry the new secret yet (%w)", err)
		}
		return nil
	})
	time.Sleep(300 * time.Millisecond) // deliveries signed with the new secret
	sent := stream.stop()
	if len(sent) < 10 {
		t.Fatalf("only %d deliveries during the rotation", len(sent))
	}
	for _, d := range sent {
		if !d.OK() {
			t.Fatalf("delivery %s during the rotation failed: %d %s", d.GUID, d.StatusCode, d.Status)
		}
	}

	// A failed delivery redelivered.
	h.receiverDown.Store(true)
	lost := h.triggerFor(hs.ID)
	if lost.OK() {
		t.Fatalf("the delivery during the outage succeeded: %d", lost.StatusCode)
	}
	h.receiverDown.Store(false)
	h.waitRedelivered(tc.simTarget(), hs.ID, lost.GUID, 30*time.Second)

	// Deleted, or left for the App's webhook.
	h.deleteAndWaitGone(name, 20*time.Second)
	hooks := h.simHooks(tc.simTarget())
	if tc.kind == "app" {
		if len(hooks) != 1 || hooks[0].Config.URL != h.payloadURL(name) {
			t.Errorf("the App's webhook after deletion: %+v", hooks)
		}
		if evs := h.recorder.find(name, hookv1.EventHookLeft); len(evs) != 1 || evs[0].eventType != "Normal" {
			t.Errorf("HookLeft events: %+v", evs)
		}
		return
	}
	if len(hooks) != 0 {
		t.Errorf("%d hooks left on %s after deletion", len(hooks), tc.simTarget())
	}
}

// setWebhookSecret changes the webhook secret in the integration's Secret.
func (h *harness) setWebhookSecret(name, value string) {
	h.t.Helper()
	h.eventually(5*time.Second, func() error {
		s := h.userSecret(name)
		s.Data["webhook_secret"] = []byte(value)
		return env.Client.Update(h.ctx, s)
	})
}

// triggerFor sends a push of acme/api and returns its delivery to hook id
// (a repository's, its organization's or the App's hook all see it).
func (h *harness) triggerFor(id int64) githubsim.Delivery {
	h.t.Helper()
	ds, err := h.sim.TriggerEvent("acme/api", "push", []byte(`{"ref":"refs/heads/main"}`))
	if err != nil {
		h.t.Fatal(err)
	}
	for _, d := range ds {
		if d.HookID == id {
			return d
		}
	}
	h.t.Fatalf("no delivery to hook %d among %d", id, len(ds))
	return githubsim.Delivery{}
}

// deliveryStream delivers pushes to one hook until stopped.
type deliveryStream struct {
	done chan struct{}
	wg   sync.WaitGroup
	mu   sync.Mutex
	sent []githubsim.Delivery
}

func (h *harness) startDeliveryStream(id int64) *deliveryStream {
	s := &deliveryStream{done: make(chan struct{})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		tick := time.NewTicker(40 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-s.done:
				return
			case <-tick.C:
			}
			ds, err := h.sim.TriggerEvent("acme/api", "push", []byte(`{"ref":"refs/heads/main"}`))
			if err != nil {
				continue
			}
			s.mu.Lock()
			for _, d := range ds {
				if d.HookID == id {
					s.sent = append(s.sent, d)
				}
			}
			s.mu.Unlock()
		}
	}()
	return s
}

func (s *deliveryStream) stop() []githubsim.Delivery {
	close(s.done)
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sent
}

// An organization hook already delivering to the payload URL (left by a
// crash between its creation and the status write, or made by hand) is
// adopted and corrected, not duplicated.
func TestOrganizationHookIsAdopted(t *testing.T) {
	h := newHarness(t, harnessOptions{repos: []string{"acme/api"}})
	h.sim.AddToken(testOrgToken, []string{"admin:org_hook"}, "acme")
	h.secret("org", map[string]string{"token": testOrgToken, "webhook_secret": testWebhookSecret})
	existing, err := h.sim.SetHook("acme", githubsim.Hook{Active: true, Events: []string{"push"},
		Config: githubsim.HookConfig{URL: h.payloadURL("org"), ContentType: "form"}})
	if err != nil {
		t.Fatal(err)
	}
	h.integration("org", nil, func(gi *hookv1.GitHubIntegration) { gi.Spec.Organization = "acme" })
	gi := h.waitReady("org")
	hooks := h.simHooks("acme")
	if len(hooks) != 1 || hooks[0].ID != existing.ID {
		t.Fatalf("organization hooks %+v, want the existing one adopted", hooks)
	}
	if c := hooks[0].Config; c.ContentType != "json" || c.Secret != testWebhookSecret {
		t.Errorf("adopted hook's config %+v", c)
	}
	if hs, err := hookStatusOf(gi, "acme"); err != nil || hs.ID != existing.ID {
		t.Errorf("status.hooks: %+v, %v", gi.Status.Hooks, err)
	}
	if evs := h.recorder.find("org", hookv1.EventHookAdopted); len(evs) != 1 {
		t.Errorf("HookAdopted events: %+v", evs)
	}
}
