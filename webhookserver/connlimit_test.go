package webhookserver

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	"github.com/hookwarden/hookwarden/internal/delivery"
	"github.com/hookwarden/hookwarden/internal/testenv"
)

// serveTCP serves the receiver on a loopback port and returns its address.
func serveTCP(t testing.TB, s *Server) string {
	t.Helper()
	return serveListener(t, s, func(ln net.Listener) net.Listener { return ln })
}

// serveListener serves the receiver on wrap of a loopback listener for the
// rest of the test and returns its address.
func serveListener(t testing.TB, s *Server, wrap func(net.Listener) net.Listener) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := s.httpServer()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(wrap(ln))
	}()
	t.Cleanup(func() {
		_ = srv.Shutdown()
		<-done
	})
	return ln.Addr().String()
}

// dialFrom connects to addr from the loopback address from (127.0.0.0/8:
// each is a distinct peer for the receiver).
func dialFrom(t testing.TB, from, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// answerOf reads an answer from conn within 10 s.
func answerOf(t testing.TB, conn net.Conn) (int, string) {
	t.Helper()
	resp, body := readResponse(t, conn, 10*time.Second)
	return resp.StatusCode, body
}

// readResponse reads one answer and its body, trimmed, from conn within
// timeout.
func readResponse(t testing.TB, conn net.Conn, timeout time.Duration) (*http.Response, string) {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(timeout))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("read the answer: %v", err)
	}
	body := testenv.ReadBody(t, resp)
	return resp, strings.TrimSpace(string(body))
}

// TestEarlyAnswersReachClientsStillSending posts 25 MiB + 1 byte, and 1 MiB
// to an unknown integration, with Go's http.Client and with curl: each
// client reads the receiver's answer and its message, although the
// receiver answered from the headers while the client was still sending
// the body. Closing such a connection at once would reset it, and the
// client would never read the answer.
func TestEarlyAnswersReachClientsStillSending(t *testing.T) {
	s := newHandlerServer(t, Options{})
	base := "http://" + serveTCP(t, s)
	known := base + hookv1.ReceiverPath(testNS, testName)
	unknown := base + hookv1.ReceiverPath(testNS, "nobody")
	oversized := bytes.Repeat([]byte{' '}, MaxBodyBytes+1)
	oneMiB := bytes.Repeat([]byte{' '}, 1<<20)
	const tooLarge, notFound = `{"error":"payload larger than 25 MiB"}`, `{"error":"integration not found"}`
	headers := map[string]string{
		"Content-Type":              "application/json",
		delivery.HeaderEvent:        "push",
		delivery.HeaderDelivery:     newGUID(),
		delivery.HeaderSignature256: delivery.Signature([]byte(testSecret), oneMiB),
	}

	t.Run("http.Client", func(t *testing.T) {
		for _, tc := range []struct {
			name, url string
			body      []byte
			chunked   bool
			code      int
			want      string
		}{
			{"25 MiB + 1 byte", known, oversized, false, http.StatusRequestEntityTooLarge, tooLarge},
			{"25 MiB + 1 byte chunked", known, oversized, true, http.StatusRequestEntityTooLarge, tooLarge},
			{"1 MiB to an unknown integration", unknown, oneMiB, false, http.StatusNotFound, notFound},
		} {
			t.Run(tc.name, func(t *testing.T) {
				var body io.Reader = bytes.NewReader(tc.body)
				if tc.chunked {
					body = io.MultiReader(body) // no length known: chunked
				}
				req, err := http.NewRequest(http.MethodPost, tc.url, body)
				if err != nil {
					t.Fatal(err)
				}
				for k, v := range headers {
					req.Header.Set(k, v)
				}
				client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{}}
				resp, err := client.Do(req)
				if err != nil {
					t.Fatalf("no answer: %v", err)
				}
				got := testenv.ReadBody(t, resp)
				if resp.StatusCode != tc.code || strings.TrimSpace(string(got)) != tc.want {
					t.Errorf("answer %d %s, want %d %s", resp.StatusCode, got, tc.code, tc.want)
				}
			})
		}
	})

	t.Run("curl", func(t *testing.T) {
		curl, err := exec.LookPath("curl")
		if err != nil {
			t.Skip("curl not found: the curl half of this test did not run")
		}
		dir := t.TempDir()
		files := map[string][]byte{"oversized": oversized, "one-mib": oneMiB}
		for name, b := range files {
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		for _, tc := range []struct {
			name, url, file string
			expect          bool // let curl send Expect: 100-continue, as it does for large bodies
			code            int
			want            string
		}{
			{"25 MiB + 1 byte", known, "oversized", false, http.StatusRequestEntityTooLarge, tooLarge},
			{"25 MiB + 1 byte with Expect", known, "oversized", true, http.StatusRequestEntityTooLarge, tooLarge},
			{"1 MiB to an unknown integration", unknown, "one-mib", false, http.StatusNotFound, notFound},
			{"1 MiB to an unknown integration with Expect", unknown, "one-mib", true, http.StatusNotFound, notFound},
		} {
			t.Run(tc.name, func(t *testing.T) {
				args := []string{"-sS", "--max-time", "30", "-o", "-", "-w", "\n%{http_code}",
					"--data-binary", "@" + filepath.Join(dir, tc.file)}
				for k, v := range headers {
					args = append(args, "-H", k+": "+v)
				}
				if !tc.expect {
					args = append(args, "-H", "Expect:")
				} else {
					args = append(args, "-H", "Expect: 100-continue")
				}
				out, err := exec.Command(curl, append(args, tc.url)...).CombinedOutput()
				if err != nil {
					t.Fatalf("curl: %v: %s", err, out)
				}
				trimmed := strings.TrimSpace(string(out))
				i := strings.LastIndexByte(trimmed, '\n')
				body, code := strings.TrimSpace(trimmed[:max(i, 0)]), trimmed[i+1:]
				if code != fmt.Sprint(tc.code) || strings.TrimSpace(body) != tc.want {
					t.Errorf("curl read %s %s, want %d %s", code, body, tc.code, tc.want)
				}
			})
		}
	})
}

// TestConnectionsPerPeer: one peer address holds at most
// MaxConnectionsPerIP connections and gets 429 beyond; another peer still
// connects; a trusted proxy is bound only by MaxConnections; and when the
// receiver is full but for its reserve, a peer holding no connection still
// gets one.
func TestConnectionsPerPeer(t *testing.T) {
	s := newHandlerServer(t, Options{MaxConnections: 12, MaxConnectionsPerIP: 4, TrustedProxies: []string{"127.0.0.9"}})
	addr := serveTCP(t, s)
	held := func(from string) net.Conn {
		c := dialFrom(t, from, addr)
		// A request in progress: the headers are not finished.
		if _, err := io.WriteString(c, "POST / HTTP/1.1\r\nHost: receiver.test\r\n"); err != nil {
			t.Fatal(err)
		}
		return c
	}
	for range 4 {
		held("127.0.0.2")
	}
	waitAdmitted(t, s, 4)
	code, body := answerOf(t, dialFrom(t, "127.0.0.2", addr))
	if code != http.StatusTooManyRequests || body != `{"error":"too many connections from this address: retry later"}` {
		t.Errorf("fifth connection of one peer: %d %s, want 429", code, body)
	}

	// The trusted proxy takes what is left but the reserve (12 - 4 - 4).
	for range 4 {
		held("127.0.0.9")
	}
	waitAdmitted(t, s, 8)
	// A peer holding nothing gets a connection from the reserve, and its
	// delivery is answered.
	c := dialFrom(t, "127.0.0.3", addr)
	if _, err := io.WriteString(c, rawDelivery(hookv1.ReceiverPath(testNS, testName))); err != nil {
		t.Fatal(err)
	}
	if code, body := answerOf(t, c); code != http.StatusOK {
		t.Errorf("delivery of a newcomer: %d %s, want 200", code, body)
	}
	// The newcomer leaves, and its place returns to the reserve.
	_ = c.Close()
	// Another peer takes one more; its second would eat into the reserve.
	held("127.0.0.4")
	waitAdmitted(t, s, 9)
	code, body = answerOf(t, dialFrom(t, "127.0.0.4", addr))
	if code != http.StatusServiceUnavailable || body != `{"error":"too many connections: retry later"}` {
		t.Errorf("second connection of a peer when only the reserve is left: %d %s, want 503", code, body)
	}
}

// TestIdleConnectionsReleaseBuffers keeps a keep-alive connection idle after
// a delivery: it holds no read or write buffer (fasthttp's
// ReduceMemoryUsage), measured as what the heap holds per idle connection.
func TestIdleConnectionsReleaseBuffers(t *testing.T) {
	s := newHandlerServer(t, Options{})
	addr := serveTCP(t, s)
	const conns = 200
	open := make([]net.Conn, 0, conns)
	warm := dialFrom(t, "127.0.0.1", addr)
	if _, err := io.WriteString(warm, rawDelivery(hookv1.ReceiverPath(testNS, testName))); err != nil {
		t.Fatal(err)
	}
	answerOf(t, warm)
	before := heapInUse()
	for i := range conns {
		c := dialFrom(t, fmt.Sprintf("127.0.1.%d", 1+i%250), addr)
		if _, err := io.WriteString(c, rawDelivery(hookv1.ReceiverPath(testNS, testName))); err != nil {
			t.Fatal(err)
		}
		if code, body := answerOf(t, c); code != http.StatusOK {
			t.Fatalf("delivery %d: %d %s", i, code, body)
		}
		open = append(open, c)
	}
	drain(s)
	perConn := (heapInUse() - before) / conns
	t.Logf("%d bytes of heap per idle connection", perConn)
	// A read buffer alone is maxHeaderBytes (16 KiB), a write buffer 4 KiB.
	if perConn > idleConnectionMemory {
		t.Errorf("an idle connection holds %d bytes, want at most %d", perConn, idleConnectionMemory)
	}
	for _, c := range open {
		_ = c.Close()
	}
}

// TestAnswersAreJSONForRefusedConnections reads the answer a refused
// connection gets: JSON, with Retry-After.
func TestAnswersAreJSONForRefusedConnections(t *testing.T) {
	s := newHandlerServer(t, Options{MaxConnections: 2, MaxConnectionsPerIP: 1})
	addr := serveTCP(t, s)
	first := dialFrom(t, "127.0.0.2", addr)
	if _, err := io.WriteString(first, "POST / HTTP/1.1\r\n"); err != nil {
		t.Fatal(err)
	}
	waitAdmitted(t, s, 1)
	c := dialFrom(t, "127.0.0.2", addr)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != inflightRetryAfter ||
		body["error"] != "too many connections from this address: retry later" {
		t.Errorf("answer %d %v (Retry-After %q)", resp.StatusCode, body, resp.Header.Get("Retry-After"))
	}
}

// waitAdmitted waits until the server holds n connections.
func waitAdmitted(t *testing.T, s *Server, n int64) {
	t.Helper()
	eventually(t, 5*time.Second, fmt.Sprintf("%d connections admitted", n), func() error {
		if got := s.conns.inUse(); got != n {
			return fmt.Errorf("%d connections admitted", got)
		}
		return nil
	})
}
