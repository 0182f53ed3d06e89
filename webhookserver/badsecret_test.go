package webhookserver

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/hookwarden/hookwarden/internal/delivery"
	"github.com/hookwarden/hookwarden/internal/webhooksecret"
)

// TestBadSecretEditAnswers200: a delivery signed with the applied secret is
// processed while the integration's Secret is not usable.
func TestBadSecretEditAnswers200(t *testing.T) {
	s := newHandlerServer(t, Options{})
	s.store.setSecrets(testKey, &secretState{secrets: delivery.Secrets{Applied: []byte(testSecret)},
		degraded: `Secret "github-experiments": key "webhook_secret" holds 14 characters: a webhook secret needs at least 16`})
	assertAnswer(t, serve(s, newDelivery("push", pushExample)), http.StatusOK, `{"processed":true}`)
	assertAnswer(t, serve(s, deliveryTo(testKey, "push", pushExample, "short-secret-x")), http.StatusUnauthorized,
		`{"error":"invalid signature"}`)
}

// TestSecretProblemIsLogged: the log says what is wrong with the Secret and
// whether deliveries are still accepted, never a secret.
func TestSecretProblemIsLogged(t *testing.T) {
	const problem = `Secret "github-experiments": key "webhook_secret" holds 14 characters: a webhook secret needs at least 16`
	cases := []struct {
		name  string
		state secretState
		want  string
	}{
		{"applied accepted", secretState{secrets: delivery.Secrets{Applied: []byte(testSecret)}, degraded: problem},
			"deliveries signed with the applied secret, which the hooks on GitHub carry, are still accepted"},
		{"previous accepted", secretState{secrets: delivery.Secrets{Previous: []byte(testSecret), PreviousExpires: time.Now().Add(time.Hour)},
			degraded: problem}, "deliveries signed with the previous secret are still accepted until it expires"},
		{"nothing accepted", secretState{problem: problem}, "deliveries are answered 503 until it is fixed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var logged strings.Builder
			log := funcr.New(func(prefix, args string) { fmt.Fprintln(&logged, prefix, args) }, funcr.Options{})
			tc.state.logProblem(log, testKey.String())
			out := logged.String()
			if !strings.Contains(out, tc.want) || !strings.Contains(out, "needs at least 16") || !strings.Contains(out, testKey.String()) {
				t.Errorf("logged %q, want the problem and %q", out, tc.want)
			}
			if strings.Contains(out, testSecret) {
				t.Error("the log holds the webhook secret")
			}
		})
	}

	var logged strings.Builder
	(&secretState{secrets: delivery.Secrets{Current: []byte(testSecret)}}).logProblem(
		funcr.New(func(prefix, args string) { fmt.Fprintln(&logged, prefix, args) }, funcr.Options{}), testKey.String())
	if logged.Len() != 0 {
		t.Errorf("a usable secret logged %q", logged.String())
	}
}

// TestBadSecretEditKeepsDeliveries: the user's Secret is edited to a webhook
// secret that is too short, then deleted by mistake; the hooks on GitHub
// still sign with the applied secret, and their deliveries are still
// answered 200. Only once no secret is left at all are they answered 503.
func TestBadSecretEditKeepsDeliveries(t *testing.T) {
	ctx := context.Background()
	key := newIntegrationWithSecret(t, nil)
	// The operator-owned Secret holding the secret the hooks carry, as the
	// reconciler writes it.
	applied := ownedSecret(t, key, webhooksecret.NewApplied(key.Namespace, key.Name, []byte(testSecret), time.Now()))
	if err := env.Client.Create(ctx, applied); err != nil {
		t.Fatal(err)
	}
	capture, logs := captureLogs(0)
	rcv := startReceiver(t, Options{StatusFlushInterval: 200 * time.Millisecond}, capture)

	body := []byte(pushExample)
	var accepted int64
	send := func(secret string) (int, string) {
		code, answer := post(t, rcv.url, key, "push", newGUID(), body, delivery.Signature([]byte(secret), body), testHookID)
		if code == http.StatusOK {
			accepted++
		}
		return code, answer
	}
	if code, answer := send(testSecret); code != http.StatusOK {
		t.Fatalf("before the edit: answered %d %s", code, answer)
	}

	const tooShort = "short-secret-x"
	user := &corev1.Secret{}
	userKey := types.NamespacedName{Namespace: key.Namespace, Name: "github-experiments"}
	if err := env.Client.Get(ctx, userKey, user); err != nil {
		t.Fatal(err)
	}
	user.Data["webhook_secret"] = []byte(tooShort)
	if err := env.Client.Update(ctx, user); err != nil {
		t.Fatal(err)
	}
	waitForSecretState(t, rcv.server, key, "needs at least")
	if code, answer := send(testSecret); code != http.StatusOK || answer != `{"processed":true}` {
		t.Errorf("with a too-short secret in the Secret: answered %d %s, want 200", code, answer)
	}
	if code, answer := send(tooShort); code != http.StatusUnauthorized {
		t.Errorf("signed with the too-short secret: answered %d %s, want 401", code, answer)
	}

	if err := env.Client.Delete(ctx, user); err != nil {
		t.Fatal(err)
	}
	waitForSecretState(t, rcv.server, key, "not found")
	if code, answer := send(testSecret); code != http.StatusOK || answer != `{"processed":true}` {
		t.Errorf("with the Secret deleted: answered %d %s, want 200", code, answer)
	}

	if err := env.Client.Delete(ctx, applied); err != nil {
		t.Fatal(err)
	}
	eventuallyAnswered(t, "no secret left: 503", http.StatusServiceUnavailable, func() (int, string) { return send(testSecret) })

	eventually(t, 20*time.Second, "status counts the deliveries answered 200", func() error {
		if got := getStatus(t, key).Deliveries.Processed; got != accepted {
			return fmt.Errorf("processed = %d, want %d", got, accepted)
		}
		return nil
	})
	if text := logs(); strings.Contains(text, testSecret) || strings.Contains(text, tooShort) {
		t.Error("the logs hold a webhook secret")
	}
}

// waitForSecretState waits until the receiver has read the integration's
// Secret and found it not usable for the reason want, while another secret
// is still accepted.
func waitForSecretState(t *testing.T, s *Server, key types.NamespacedName, want string) {
	t.Helper()
	eventually(t, 10*time.Second, "the receiver reads the Secret", func() error {
		st := s.store.secretsOf(key)
		if st == nil || !strings.Contains(st.degraded, want) {
			return fmt.Errorf("secret state %+v", stateSummary(st))
		}
		return nil
	})
}

// stateSummary describes a secret state without its secrets.
func stateSummary(st *secretState) string {
	if st == nil {
		return "not read"
	}
	return fmt.Sprintf("current set: %v, applied set: %v, problem %q, degraded %q",
		len(st.secrets.Current) > 0, len(st.secrets.Applied) > 0, st.problem, st.degraded)
}
