package testfixtures

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// githubVector is the example GitHub publishes in "Validating webhook
// deliveries".
const (
	githubVectorSecret    = "It's a Secret to Everybody"
	githubVectorPayload   = "Hello, World!"
	githubVectorSignature = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
)

func TestNPMCacheFromEnvironment(t *testing.T) {
	cache, err := NPMCache()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(NPMCacheEnv, cache)
	got, err := NPMCache()
	if err != nil {
		t.Fatal(err)
	}
	if got != cache {
		t.Errorf("NPMCache() = %q, want %q", got, cache)
	}
}

func TestNPMCacheMissingTellsHowToFetch(t *testing.T) {
	t.Setenv(NPMCacheEnv, t.TempDir())
	_, err := NPMCache()
	if err == nil || !strings.Contains(err.Error(), "make npm-deps") {
		t.Fatalf("NPMCache() error = %v, want one that says to run make npm-deps", err)
	}
	if _, err := OctokitSign("secret", [][]byte{[]byte("{}")}); err == nil {
		t.Fatal("OctokitSign succeeded without an npm cache")
	}
}

func TestOpenAPIPathIsGitHubDescription(t *testing.T) {
	path, err := OpenAPIPath()
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(path) != "api.github.com.json" {
		t.Errorf("OpenAPIPath() = %q, want api.github.com.json", path)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	head := make([]byte, 64)
	n, _ := f.Read(head)
	if !strings.Contains(string(head[:n]), "openapi") {
		t.Errorf("%s does not start like an OpenAPI document: %q", path, head[:n])
	}
}

func TestExamples(t *testing.T) {
	for _, tc := range []struct{ event, action string }{
		{"push", ""},
		{"ping", ""},
		{"pull_request", "opened"},
		{"pull_request", "closed"},
		{"issues", "opened"},
		{"issues", "labeled"},
	} {
		t.Run(tc.event+"."+tc.action, func(t *testing.T) {
			ex, err := ExampleFor(tc.event, tc.action)
			if err != nil {
				t.Fatal(err)
			}
			if ex.Event != tc.event || ex.Action != tc.action {
				t.Errorf("got %s/%s, want %s/%s", ex.Event, ex.Action, tc.event, tc.action)
			}
			if !strings.HasPrefix(ex.Name, tc.event) || !strings.Contains(ex.Name, "#") {
				t.Errorf("Name = %q, want <event>[.<action>]#<n>", ex.Name)
			}
			var doc map[string]any
			if err := json.Unmarshal(ex.Raw, &doc); err != nil {
				t.Fatalf("Raw is not JSON: %v", err)
			}
			var compact bytes.Buffer
			if err := json.Compact(&compact, ex.Raw); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(compact.Bytes(), ex.Raw) {
				t.Errorf("Raw is not compact: %.60q", ex.Raw)
			}
			if tc.action != "" && doc["action"] != tc.action {
				t.Errorf("payload action = %v, want %s", doc["action"], tc.action)
			}
		})
	}
}

func TestExamplesReturnsCopies(t *testing.T) {
	first, err := Examples("push")
	if err != nil {
		t.Fatal(err)
	}
	first[0].Raw[0] = 'X'
	second, err := Examples("push")
	if err != nil {
		t.Fatal(err)
	}
	if second[0].Raw[0] != '{' {
		t.Error("changing a returned example changed the cached one")
	}
}

func TestExamplesUnknownEventFails(t *testing.T) {
	if _, err := Examples("no_such_event"); err == nil {
		t.Fatal("Examples(no_such_event) succeeded")
	}
}

func TestOctokitSignGitHubVector(t *testing.T) {
	sigs, err := OctokitSign(githubVectorSecret, [][]byte{[]byte(githubVectorPayload)})
	if err != nil {
		t.Fatal(err)
	}
	if sigs[0] != githubVectorSignature {
		t.Errorf("OctokitSign(GitHub vector) = %s, want %s", sigs[0], githubVectorSignature)
	}
}

func TestOctokitSignMatchesHMACOverExactBytes(t *testing.T) {
	// Multi-byte UTF-8 and escapes must be signed byte for byte.
	payloads := [][]byte{
		[]byte(`{"title":"Grüße 🚀 \u00e9"}`),
		[]byte("{\"body\":\"line\\r\\nnext\"}\n"),
	}
	ex, err := ExampleFor("push", "")
	if err != nil {
		t.Fatal(err)
	}
	payloads = append(payloads, ex.Raw)
	const secret = "a-webhook-secret-of-some-length"
	sigs, err := OctokitSign(secret, payloads)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range payloads {
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write(p)
		want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
		if sigs[i] != want {
			t.Errorf("payload %d: octokit signature differs from HMAC-SHA256 over the raw bytes", i)
		}
	}
}

func TestOctokitVerify(t *testing.T) {
	payloads := [][]byte{[]byte(githubVectorPayload), []byte(githubVectorPayload), []byte("Hello, World?")}
	sigs := []string{
		githubVectorSignature,
		"sha256=" + strings.Repeat("0", 64),
		githubVectorSignature,
	}
	valid, err := OctokitVerify(githubVectorSecret, payloads, sigs)
	if err != nil {
		t.Fatal(err)
	}
	want := []bool{true, false, false}
	for i := range want {
		if valid[i] != want[i] {
			t.Errorf("case %d: verify = %v, want %v", i, valid[i], want[i])
		}
	}
}

func TestOctokitRejectsNonUTF8Payload(t *testing.T) {
	_, err := OctokitSign("secret", [][]byte{{0xff, 0xfe}})
	if err == nil || !strings.Contains(err.Error(), "UTF-8") {
		t.Fatalf("OctokitSign(non-UTF-8) error = %v, want a UTF-8 error", err)
	}
}
