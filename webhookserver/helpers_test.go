package webhookserver

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	"github.com/hookwarden/hookwarden/internal/delivery"
	"github.com/hookwarden/hookwarden/internal/testenv"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"github.com/valyala/fasthttp/fasthttputil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

const (
	testSecret   = "s3cr3t-webhook-value-0123456789"
	testHookID   = "424242"
	testNS       = "team-a"
	testName     = "experiments"
	testPRKey    = "experiment_key"
	testLabel    = "experiment"
	pushExample  = `{"ref":"refs/heads/main","after":"6113728f27ae82c7b1a177c8d03f9e96e0adf246","repository":{"full_name":"acme/api"},"head_commit":{"message":"Add checkout flow"}}`
	issueExample = `{"action":"labeled","issue":{"number":101,"title":"Review results","html_url":"https://github.com/acme/api/issues/101","state":"open","labels":[{"name":"experiment"}]},"repository":{"full_name":"acme/api"}}`
)

var deliverySeq atomic.Int64

// newGUID returns a fresh delivery GUID in GitHub's shape.
func newGUID() string {
	return fmt.Sprintf("72d3162e-cc78-11e3-81ab-%012d", deliverySeq.Add(1))
}

// testIntegration is the GitHubIntegration most tests receive deliveries for.
func testIntegration() *hookv1.GitHubIntegration {
	return &hookv1.GitHubIntegration{
		ObjectMeta: metav1.ObjectMeta{Namespace: testNS, Name: testName, UID: "0f1e2d3c"},
		Spec: hookv1.GitHubIntegrationSpec{
			Repositories: []string{"acme/api"},
			Events:       []string{"push", "pull_request", "issues", "release"},
			SecretRef:    hookv1.SecretReference{Name: "github-experiments"},
			Links:        hookv1.Links{PullRequestKey: testPRKey, IssueLabel: testLabel},
		},
	}
}

var testKey = types.NamespacedName{Namespace: testNS, Name: testName}

// newHandlerServer returns a receiver with testIntegration and testSecret in
// its store and no Kubernetes behind it; records stay queued until drain.
func newHandlerServer(t testing.TB, opts Options) *Server {
	t.Helper()
	s, err := newServer(opts, serverDeps{log: logr.Discard()})
	if err != nil {
		t.Fatal(err)
	}
	s.store.upsert(newIntegration(testIntegration()))
	s.store.setSecrets(testKey, &secretState{secrets: delivery.Secrets{Current: []byte(testSecret)}})
	return s
}

// drain records every queued delivery, as the workers would.
func drain(s *Server) { s.recordQueued() }

// captureLogs returns a logger, up to verbosity, and what it logged so far.
func captureLogs(verbosity int) (logr.Logger, func() string) {
	var mu sync.Mutex
	var logs strings.Builder
	log := funcr.New(func(prefix, args string) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(&logs, "%s %s\n", prefix, args)
	}, funcr.Options{Verbosity: verbosity})
	return log, func() string {
		mu.Lock()
		defer mu.Unlock()
		return logs.String()
	}
}

// eventuallyAnswered waits until send is answered code.
func eventuallyAnswered(t testing.TB, what string, code int, send func() (int, string)) {
	t.Helper()
	eventually(t, 10*time.Second, what, func() error {
		if got, answer := send(); got != code {
			return fmt.Errorf("answered %d %s", got, answer)
		}
		return nil
	})
}

// dialInMemory serves s over an in-memory listener for the rest of the test
// and returns a connection to it.
func dialInMemory(t *testing.T, s *Server) net.Conn {
	t.Helper()
	ln, stop := serveInMemory(s, nil)
	t.Cleanup(stop)
	conn, err := ln.Dial()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// newDelivery builds a signed JSON delivery of event for the test integration.
func newDelivery(event, body string) *http.Request {
	return deliveryTo(testKey, event, body, testSecret)
}

func deliveryTo(key types.NamespacedName, event, body, secret string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, hookv1.ReceiverPath(key.Namespace, key.Name), bytes.NewReader([]byte(body)))
	r.RemoteAddr = "192.0.2.10:40000"
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set(delivery.HeaderEvent, event)
	r.Header.Set(delivery.HeaderDelivery, newGUID())
	r.Header.Set(delivery.HeaderHookID, testHookID)
	r.Header.Set("User-Agent", "GitHub-Hookshot/044aadd")
	r.Header.Set(delivery.HeaderSignature256, delivery.Signature([]byte(secret), []byte(body)))
	return r
}

// formDelivery builds a signed form-encoded delivery.
func formDelivery(event, payload string) *http.Request {
	body := url.Values{"payload": {payload}}.Encode()
	r := newDelivery(event, body)
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

// serve runs one request through the receiver's HTTP server, over an
// in-memory connection whose peer address is r.RemoteAddr.
func serve(s *Server, r *http.Request) *httptest.ResponseRecorder {
	return serveCounting(s, r, nil)
}

// serveCounting is serve that adds to read the bytes the server read from
// the connection.
func serveCounting(s *Server, r *http.Request, read *atomic.Int64) *httptest.ResponseRecorder {
	ln, stop := serveInMemory(s, read)
	defer stop()

	peer, err := net.ResolveTCPAddr("tcp", r.RemoteAddr)
	if err != nil {
		panic(fmt.Sprintf("request RemoteAddr %q: %v", r.RemoteAddr, err))
	}
	w := httptest.NewRecorder()
	conn, err := ln.DialWithLocalAddr(peer)
	if err != nil {
		_, _ = fmt.Fprintf(w.Body, "dial: %v", err)
		return w
	}
	defer conn.Close()
	// Like a client that reads the answer while it still sends: the
	// receiver may answer before it has read the whole body.
	req := r.Clone(context.Background())
	req.RequestURI, req.URL.Scheme, req.URL.Host = "", "http", "receiver.test"
	go func() { _ = req.Write(conn) }()
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		_, _ = fmt.Fprintf(w.Body, "read the answer: %v", err)
		return w
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
	return w
}

// serveInMemory serves the receiver's HTTP server on an in-memory listener,
// counting in read (when not nil) the bytes it reads; stop shuts it down.
func serveInMemory(s *Server, read *atomic.Int64) (ln *fasthttputil.InmemoryListener, stop func()) {
	ln = fasthttputil.NewInmemoryListener()
	srv := s.httpServer()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(countingListener{ln, read})
	}()
	return ln, func() {
		_ = srv.Shutdown()
		<-done
	}
}

// countingListener counts what the server reads from its connections.
type countingListener struct {
	net.Listener
	read *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil || l.read == nil {
		return c, err
	}
	return countingConn{c, l.read}, nil
}

type countingConn struct {
	net.Conn
	read *atomic.Int64
}

// CloseWrite half-closes a TCP connection, for the lingering close.
func (c countingConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

// countingReader counts the bytes read from it and serves n bytes of '{'.
type countingReader struct {
	remaining int64
	read      int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	if c.remaining <= 0 {
		return 0, io.EOF
	}
	n := int64(len(p))
	if n > c.remaining {
		n = c.remaining
	}
	for i := range p[:n] {
		p[i] = ' '
	}
	c.remaining -= n
	c.read += n
	return int(n), nil
}

func eventually(t testing.TB, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	testenv.Eventually(t, timeout, what, cond)
}

// setSecrets stores st as the secrets of the integration key, if known.
func (s *store) setSecrets(key types.NamespacedName, st *secretState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if in := s.integrations[key]; in != nil {
		in.secrets = st
	}
}
