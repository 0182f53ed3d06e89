package githubsim

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-github/v60/github"

	"github.com/hookwarden/hookwarden/internal/testenv"
)

const (
	testRepo         = "acme/demo"
	testOrg          = "acme"
	adminToken       = "ghp_admin0000000000000000000000000000"
	testSecret       = "a-webhook-secret-of-32-characters!"
	testAppID  int64 = 424242
	testInstID int64 = 5151
)

// receiver is a webhook endpoint that records every delivery.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	requests []receivedDelivery
	status   int
}

type receivedDelivery struct {
	Header http.Header
	Body   []byte
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	rcv := &receiver{status: http.StatusOK}
	rcv.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rcv.mu.Lock()
		rcv.requests = append(rcv.requests, receivedDelivery{Header: r.Header.Clone(), Body: body})
		status := rcv.status
		rcv.mu.Unlock()
		w.WriteHeader(status)
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(rcv.Close)
	return rcv
}

func (r *receiver) setStatus(code int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.status = code
}

func (r *receiver) received() []receivedDelivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]receivedDelivery(nil), r.requests...)
}

// newTestServer starts a simulator with acme/demo and an all-powerful
// classic token.
func newTestServer(t *testing.T, opts ...Option) *Server {
	t.Helper()
	sim := New(opts...)
	t.Cleanup(sim.Close)
	if err := sim.AddRepo(testRepo); err != nil {
		t.Fatal(err)
	}
	sim.AddToken(adminToken, []string{"admin:repo_hook", "admin:org_hook", "repo"}, testOrg)
	return sim
}

func githubClient(t *testing.T, sim *Server, token string) *github.Client {
	t.Helper()
	c := github.NewClient(nil).WithAuthToken(token)
	base, err := url.Parse(sim.URL() + "/")
	if err != nil {
		t.Fatal(err)
	}
	c.BaseURL = base
	return c
}

// apiRequest sends a raw API request and returns status, headers and body.
func apiRequest(t *testing.T, sim *Server, method, path, token string, body any, header ...string) (int, http.Header, []byte) {
	t.Helper()
	req := newAPIRequest(t, sim, method, path, token, body, header...)
	resp, err := sim.HTTPClient().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	data := testenv.ReadBody(t, resp)
	return resp.StatusCode, resp.Header, data
}

func newAPIRequest(t *testing.T, sim *Server, method, path, token string, body any, header ...string) *http.Request {
	t.Helper()
	var rdr io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rdr = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, sim.URL()+path, rdr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/vnd.github+json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return req
}

func decodeJSON[T any](t *testing.T, data []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("decode %.200s: %v", data, err)
	}
	return v
}

var (
	appKeyOnce sync.Once
	appKey     *rsa.PrivateKey
	appKeyPEM  []byte
)

// testAppKey returns one RSA key per test binary (generation is slow).
func testAppKey(t *testing.T) (*rsa.PrivateKey, []byte) {
	t.Helper()
	appKeyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		appKey = k
		appKeyPEM = pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
	})
	return appKey, appKeyPEM
}

func appJWT(t *testing.T, appID int64, iat, exp time.Time) string {
	t.Helper()
	key, _ := testAppKey(t)
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.RegisteredClaims{
		Issuer:    strconv.FormatInt(appID, 10),
		IssuedAt:  jwt.NewNumericDate(iat),
		ExpiresAt: jwt.NewNumericDate(exp),
	})
	signed, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

func validAppJWT(t *testing.T) string {
	return appJWT(t, testAppID, time.Now().Add(-30*time.Second), time.Now().Add(9*time.Minute))
}

func addTestApp(t *testing.T, sim *Server, events ...string) {
	t.Helper()
	_, pemBytes := testAppKey(t)
	if err := sim.AddApp(testAppID, "hookwarden-test", pemBytes, events...); err != nil {
		t.Fatal(err)
	}
	perms := map[string]string{PermRepositoryHooks: PermWrite, PermOrganizationHooks: PermWrite, PermIssues: PermWrite}
	if err := sim.AddInstallation(testAppID, testInstID, testOrg, perms); err != nil {
		t.Fatal(err)
	}
}

func jsonDecoder(body []byte) *json.Decoder {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	return dec
}
