package send

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// GitHub's documented test vector for X-Hub-Signature-256.
const (
	vectorSecret    = "It's a Secret to Everybody"
	vectorPayload   = "Hello, World!"
	vectorSignature = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
)

func TestSignMatchesGitHubTestVector(t *testing.T) {
	if got := Sign(vectorSecret, []byte(vectorPayload)); got != vectorSignature {
		t.Errorf("Sign = %s, want %s", got, vectorSignature)
	}
}

// receiver checks deliveries the way a GitHub webhook receiver does, with
// its own HMAC code, and answers like hookwarden's receiver.
type receiver struct {
	secret string

	mu   sync.Mutex
	got  []*http.Request
	body [][]byte
}

func (rv *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rv.mu.Lock()
	rv.got = append(rv.got, r)
	rv.body = append(rv.body, body)
	rv.mu.Unlock()
	answer := func(code int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(v)
	}
	sig, ok := strings.CutPrefix(r.Header.Get("X-Hub-Signature-256"), "sha256=")
	if !ok {
		answer(http.StatusUnauthorized, map[string]string{"error": "missing X-Hub-Signature-256: set the webhook secret in GitHub"})
		return
	}
	mac := hmac.New(sha256.New, []byte(rv.secret))
	mac.Write(body)
	got, err := hex.DecodeString(sig)
	if err != nil || !hmac.Equal(got, mac.Sum(nil)) {
		answer(http.StatusUnauthorized, map[string]string{"error": "invalid signature"})
		return
	}
	answer(http.StatusOK, map[string]bool{"processed": true})
}

func (rv *receiver) last(t *testing.T) (*http.Request, []byte) {
	t.Helper()
	rv.mu.Lock()
	defer rv.mu.Unlock()
	if len(rv.got) == 0 {
		t.Fatal("the receiver got no request")
	}
	return rv.got[len(rv.got)-1], rv.body[len(rv.body)-1]
}

func startReceiver(t *testing.T, secret string) (*receiver, string) {
	rv := &receiver{secret: secret}
	srv := httptest.NewServer(rv)
	t.Cleanup(srv.Close)
	return rv, srv.URL + "/api/v1/integrations/team-a/experiments/webhook/github"
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func runSend(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	code = run(args, &out, &errOut, lookup)
	return code, out.String(), errOut.String()
}

const (
	secret      = "0123456789abcdef-webhook-secret"
	wrongSecret = "fedcba9876543210-other-secret"
)

var guid = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func TestSendWithTheRightSecret(t *testing.T) {
	rv, u := startReceiver(t, secret)
	// Odd spacing and a final newline: the exact bytes must be signed and sent.
	payload := "{\"ref\": \"refs/heads/main\",\n  \"after\":\"abc\" }\n"
	file := writeFile(t, "push.json", payload)

	code, stdout, stderr := runSend(t, nil, "--url", u, "--secret", secret, "--event", "push", "--hook-id", "42", file)
	if code != 0 {
		t.Fatalf("exit %d, want 0; stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"200 OK", `{"processed":true}`, "X-GitHub-Event: push"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	req, body := rv.last(t)
	if string(body) != payload {
		t.Errorf("body = %q, want the file's bytes %q", body, payload)
	}
	h := req.Header
	if h.Get("X-GitHub-Event") != "push" || h.Get("X-GitHub-Hook-ID") != "42" || h.Get("Content-Type") != "application/json" {
		t.Errorf("headers = %v", h)
	}
	if !strings.HasPrefix(h.Get("User-Agent"), "GitHub-Hookshot/") {
		t.Errorf("User-Agent = %q, want GitHub-Hookshot/...", h.Get("User-Agent"))
	}
	id := h.Get("X-GitHub-Delivery")
	if !guid.MatchString(id) {
		t.Errorf("X-GitHub-Delivery = %q, want a GUID", id)
	}
	if !strings.Contains(stdout, "X-GitHub-Delivery: "+id) {
		t.Errorf("output does not show the delivery GUID %s:\n%s", id, stdout)
	}
	if strings.Contains(stdout+stderr, secret) {
		t.Error("the secret was printed")
	}

	// Each run is a new delivery.
	if code, _, _ := runSend(t, nil, "--url", u, "--secret", secret, "--event", "push", file); code != 0 {
		t.Fatalf("second run: exit %d", code)
	}
	req2, _ := rv.last(t)
	if req2.Header.Get("X-GitHub-Delivery") == id {
		t.Error("two runs sent the same X-GitHub-Delivery")
	}
	if _, ok := req2.Header["X-Github-Hook-Id"]; ok {
		t.Error("X-GitHub-Hook-ID sent without --hook-id")
	}
}

func TestSendWithAWrongSecretShowsTheReceiversAnswer(t *testing.T) {
	_, u := startReceiver(t, secret)
	file := writeFile(t, "push.json", `{"zen":"Keep it logically awesome."}`)

	code, stdout, stderr := runSend(t, nil, "--url", u, "--secret", wrongSecret, "--event", "ping", file)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if !strings.Contains(stdout, "401 Unauthorized") || !strings.Contains(stdout, `{"error":"invalid signature"}`) {
		t.Errorf("output does not show the 401 and its message:\n%s", stdout)
	}
	if !strings.Contains(stderr, "401") {
		t.Errorf("stderr does not say the delivery failed:\n%s", stderr)
	}
	if strings.Contains(stdout+stderr, wrongSecret) {
		t.Error("the secret was printed")
	}
}

func TestSendGitHubTestVector(t *testing.T) {
	rv, u := startReceiver(t, vectorSecret)
	file := writeFile(t, "hello.txt", vectorPayload)
	code, stdout, stderr := runSend(t, map[string]string{SecretEnv: vectorSecret}, "--url", u, "--event", "ping", file)
	if code != 0 {
		t.Fatalf("exit %d; stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	req, _ := rv.last(t)
	if got := req.Header.Get("X-Hub-Signature-256"); got != vectorSignature {
		t.Errorf("X-Hub-Signature-256 = %s, want GitHub's %s", got, vectorSignature)
	}
}

func TestSendReadsTheSecretFromAFileOrTheEnvironment(t *testing.T) {
	_, u := startReceiver(t, secret)
	file := writeFile(t, "push.json", `{}`)
	// As written by `echo` or an editor: the final newline is not part of it.
	secretFile := writeFile(t, "webhook_secret", secret+"\n")

	for name, tc := range map[string]struct {
		env  map[string]string
		args []string
	}{
		"--secret-file":      {nil, []string{"--secret-file", secretFile}},
		SecretEnv:            {map[string]string{SecretEnv: secret}, nil},
		"--secret-file wins": {map[string]string{SecretEnv: wrongSecret}, []string{"--secret-file", secretFile}},
		"--secret wins":      {map[string]string{SecretEnv: wrongSecret}, []string{"--secret", secret}},
	} {
		t.Run(name, func(t *testing.T) {
			args := append([]string{"--url", u, "--event", "push"}, tc.args...)
			code, stdout, stderr := runSend(t, tc.env, append(args, file)...)
			if code != 0 || !strings.Contains(stdout, "200 OK") {
				t.Errorf("exit %d, want 0 and 200 OK; stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
			}
		})
	}
}

func TestSendForm(t *testing.T) {
	rv, u := startReceiver(t, secret)
	payload := `{"action":"opened","number":42}`
	file := writeFile(t, "pr.json", payload)

	code, stdout, stderr := runSend(t, nil, "--url", u, "--secret", secret, "--event", "pull_request", "--content-type", "form", file)
	if code != 0 {
		t.Fatalf("exit %d; stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	req, body := rv.last(t)
	if ct := req.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		t.Errorf("Content-Type = %q", ct)
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		t.Fatal(err)
	}
	if form.Get("payload") != payload {
		t.Errorf("payload field = %q, want %q", form.Get("payload"), payload)
	}
}

func TestSendUsageErrors(t *testing.T) {
	file := writeFile(t, "push.json", `{}`)
	secretFile := writeFile(t, "webhook_secret", secret)
	const u = "http://127.0.0.1:1/api/v1/integrations/a/b/webhook/github"
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"no url", nil, []string{"--secret", secret, "--event", "push", file}, "--url is required"},
		{"no event", nil, []string{"--url", u, "--secret", secret, file}, "--event is required"},
		{"no payload", nil, []string{"--url", u, "--secret", secret, "--event", "push"}, "exactly one payload file"},
		{"no secret", nil, []string{"--url", u, "--event", "push", file}, "no webhook secret"},
		{"two secrets", nil, []string{"--url", u, "--event", "push", "--secret", secret, "--secret-file", secretFile, file}, "not both"},
		{"bad content type", nil, []string{"--url", u, "--event", "push", "--secret", secret, "--content-type", "xml", file}, `--content-type="xml"`},
		{"relative url", nil, []string{"--url", "/api/v1", "--event", "push", "--secret", secret, file}, "absolute http(s) URL"},
		{"missing payload file", map[string]string{SecretEnv: secret}, []string{"--url", u, "--event", "push", filepath.Join(t.TempDir(), "nope.json")}, "read the payload"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runSend(t, tc.env, tc.args...)
			if code != 2 {
				t.Errorf("exit %d, want 2", code)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr lacks %q:\n%s", tc.want, stderr)
			}
			if strings.Contains(stdout+stderr, secret) {
				t.Error("the secret was printed")
			}
		})
	}
}

func TestSendUnreachableReceiver(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	u := srv.URL + "/api/v1/integrations/a/b/webhook/github"
	srv.Close()
	file := writeFile(t, "push.json", `{}`)
	code, stdout, stderr := runSend(t, nil, "--url", u, "--secret", secret, "--event", "push", file)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if !strings.Contains(stderr, "POST "+u) {
		t.Errorf("stderr does not name the URL:\n%s", stderr)
	}
	if strings.Contains(stdout+stderr, secret) {
		t.Error("the secret was printed")
	}
}
