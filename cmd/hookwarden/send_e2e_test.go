package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	"github.com/hookwarden/hookwarden/internal/send"
	"github.com/hookwarden/hookwarden/internal/testenv"
	"github.com/hookwarden/hookwarden/internal/testfixtures"
)

// TestSendToTheReceiver runs hookwarden (its receiver) against a real API
// server and sends it a delivery with `hookwarden send`: the right secret is
// processed and recorded, a wrong one is refused with the receiver's message.
func TestSendToTheReceiver(t *testing.T) {
	env := testenv.StartForTest(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := env.Client

	const webhookSecret = "send-test-webhook-secret-0123456789"
	ns := env.NewNamespace(t, "send")
	if err := c.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "github"},
		StringData: map[string]string{"token": "unused-while-suspended", "webhook_secret": webhookSecret},
	}); err != nil {
		t.Fatal(err)
	}
	// Suspended: no GitHub call is made, the receiver keeps receiving.
	gi := &hookv1.GitHubIntegration{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "experiments"},
		Spec: hookv1.GitHubIntegrationSpec{
			Repositories: []string{"acme/demo"},
			SecretRef:    hookv1.SecretReference{Name: "github"},
			Suspend:      true,
		},
	}
	if err := c.Create(ctx, gi); err != nil {
		t.Fatal(err)
	}

	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	opts := DefaultOptions()
	opts.ReceiverBindAddress = addr
	opts.MetricsBindAddress = "0"
	opts.HealthProbeBindAddress = "0"
	opts.StatusFlushInterval = 200 * time.Millisecond
	opts.SkipControllerNameValidation = true // other tests of this binary run managers too
	mgr, err := newManager(ctx, env.Config, opts)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = mgr.Start(ctx) }()

	ex, err := testfixtures.ExampleFor("push", "")
	if err != nil {
		t.Fatal(err)
	}
	payload := filepath.Join(t.TempDir(), "push.json")
	if err := os.WriteFile(payload, ex.Raw, 0o600); err != nil {
		t.Fatal(err)
	}
	url := "http://" + addr + gi.ReceiverPath()
	run := func(secret string) (int, string) {
		var out bytes.Buffer
		code := send.Run([]string{"--url", url, "--secret", secret, "--event", "push", "--hook-id", "7", payload}, &out, &out)
		return code, out.String()
	}

	// The receiver answers once its caches have the integration and secret.
	var code int
	var out string
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if code, out = run(webhookSecret); code == 0 {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if code != 0 || !strings.Contains(out, "200") || !strings.Contains(out, `"processed":true`) {
		t.Fatalf("with the right secret: exit %d, output:\n%s", code, out)
	}
	if strings.Contains(out, webhookSecret) {
		t.Error("send printed the webhook secret")
	}

	code, out = run("a-wrong-webhook-secret-0123456789")
	if code == 0 || !strings.Contains(out, "401") || !strings.Contains(out, "invalid signature") {
		t.Fatalf("with a wrong secret: exit %d, want non-zero with 401 invalid signature; output:\n%s", code, out)
	}

	// What the receiver recorded: one processed push, one rejection.
	deadline = time.Now().Add(30 * time.Second)
	var st hookv1.GitHubIntegrationStatus
	for time.Now().Before(deadline) {
		got := &hookv1.GitHubIntegration{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(gi), got); err != nil {
			t.Fatal(err)
		}
		st = got.Status
		if st.Deliveries.Processed == 1 && st.Deliveries.Rejected == 1 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if st.Deliveries.Processed != 1 || st.Deliveries.Rejected != 1 || st.LastRejection == nil || st.LastRejection.Reason != "invalid signature" {
		t.Errorf("status after one good and one bad delivery: %s", fmt.Sprintf("%+v, last rejection %+v", st.Deliveries, st.LastRejection))
	}
}
