package webhookserver

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	"github.com/hookwarden/hookwarden/internal/delivery"
	"github.com/hookwarden/hookwarden/internal/testenv"
)

// rawDelivery is a correctly signed push for the test integration, sent
// with target as the request-target and extra headers (each "Key: value").
func rawDelivery(target string, extra ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "POST %s HTTP/1.1\r\nHost: receiver.test\r\nContent-Type: application/json\r\n", target)
	fmt.Fprintf(&b, "%s: push\r\n%s: %s\r\n%s: %s\r\n", delivery.HeaderEvent, delivery.HeaderDelivery, newGUID(), delivery.HeaderHookID, testHookID)
	fmt.Fprintf(&b, "%s: %s\r\nContent-Length: %d\r\n", delivery.HeaderSignature256, delivery.Signature([]byte(testSecret), []byte(pushExample)), len(pushExample))
	for _, h := range extra {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n" + pushExample)
	return b.String()
}

// exchange writes raw on conn and reads one answer and its body.
func exchange(t *testing.T, conn net.Conn, raw string) (*http.Response, string) {
	t.Helper()
	go func() { _, _ = io.WriteString(conn, raw) }()
	return readResponse(t, conn, 20*time.Second)
}

// TestOnlyTheCanonicalPathRoutes sends a correctly signed delivery to
// other spellings of the integration's path: percent-encoding, dot
// segments, doubled slashes, absolute form. Each is 404: only the exact
// canonical path routes, so a proxy routing by the raw path and the
// receiver always agree on the integration. A query string is ignored.
func TestOnlyTheCanonicalPathRoutes(t *testing.T) {
	s := newHandlerServer(t, Options{})
	canonical := hookv1.ReceiverPath(testNS, testName)
	cases := []struct {
		name, target string
		code         int
	}{
		{"canonical", canonical, http.StatusOK},
		{"canonical with a query string", canonical + "?source=github", http.StatusOK},
		{"encoded slash", "/api/v1/integrations/" + testNS + "%2F" + testName + "/webhook/github", http.StatusNotFound},
		{"encoded letter", "/api/v1/integrations/te%61m-a/" + testName + "/webhook/github", http.StatusNotFound},
		{"encoded prefix", "/api/v1/%69ntegrations/" + testNS + "/" + testName + "/webhook/github", http.StatusNotFound},
		{"dot-dot segment", "/api/v1/integrations/" + testNS + "/other/../" + testName + "/webhook/github", http.StatusNotFound},
		{"dot segment", "/api/v1/./integrations/" + testNS + "/" + testName + "/webhook/github", http.StatusNotFound},
		{"doubled slash", "/api/v1/integrations/" + testNS + "//" + testName + "/webhook/github", http.StatusNotFound},
		{"leading doubled slash", "/" + canonical, http.StatusNotFound},
		{"trailing slash", canonical + "/", http.StatusNotFound},
		{"absolute form", "http://receiver.test" + canonical, http.StatusNotFound},
		{"absolute form of another host", "http://elsewhere.test" + canonical, http.StatusNotFound},
		{"upper case", strings.ToUpper(canonical[:4]) + canonical[4:], http.StatusNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			conn := dialInMemory(t, s)
			resp, body := exchange(t, conn, rawDelivery(tc.target))
			if resp.StatusCode != tc.code {
				t.Fatalf("POST %s: %d %s, want %d", tc.target, resp.StatusCode, body, tc.code)
			}
			if tc.code == http.StatusNotFound && body != `{"error":"not found"}` {
				t.Errorf("POST %s: body %s, want {\"error\":\"not found\"}", tc.target, body)
			}
		})
	}
}

// TestDeclaredOversizeIsAnsweredFromTheHeaders: a Content-Length over the
// cap gets 413 as soon as the headers are in, even when the client sends
// fewer bytes than the server would otherwise wait for before running the
// handler (the first 8 KiB of a body).
func TestDeclaredOversizeIsAnsweredFromTheHeaders(t *testing.T) {
	s := newHandlerServer(t, Options{})
	conn := dialInMemory(t, s)
	raw := strings.Replace(rawDelivery(hookv1.ReceiverPath(testNS, testName)),
		fmt.Sprintf("Content-Length: %d", len(pushExample)), fmt.Sprintf("Content-Length: %d", MaxBodyBytes+1), 1)
	// The client stops after 100 bytes of body; the read deadline of
	// exchange (20 s) is shorter than the body's (readTimeout, 30 s).
	resp, body := exchange(t, conn, raw[:len(raw)-len(pushExample)]+pushExample[:100])
	if resp.StatusCode != http.StatusRequestEntityTooLarge || body != `{"error":"payload larger than 25 MiB"}` {
		t.Errorf("answer %d %s, want 413 payload larger than 25 MiB", resp.StatusCode, body)
	}
	if !resp.Close {
		t.Error("the connection is kept open with a body left unread")
	}
	drain(s)
	if got := s.recorder.pendingCounters(testKey); got.Rejected != 1 {
		t.Errorf("counted %+v, want one rejection", got)
	}
}

// TestExpectContinue: 100 Continue is sent only when the body would be read;
// otherwise the final answer comes instead, with its message, and the
// client never sends its body.
func TestExpectContinue(t *testing.T) {
	s := newHandlerServer(t, Options{})
	canonical := hookv1.ReceiverPath(testNS, testName)
	withLength := func(raw string, n int) string {
		return strings.Replace(raw, fmt.Sprintf("Content-Length: %d", len(pushExample)), fmt.Sprintf("Content-Length: %d", n), 1)
	}
	cases := []struct {
		name    string
		headers string // the request without its body
		code    int
		body    string
	}{
		{"known integration", rawDelivery(canonical, "Expect: 100-continue"), http.StatusOK, `{"processed":true}`},
		{"declared over the cap", withLength(rawDelivery(canonical, "Expect: 100-continue"), MaxBodyBytes+1),
			http.StatusRequestEntityTooLarge, `{"error":"payload larger than 25 MiB"}`},
		{"unknown integration", rawDelivery(hookv1.ReceiverPath(testNS, "nobody"), "Expect: 100-continue"),
			http.StatusNotFound, `{"error":"integration not found"}`},
		{"unknown path", rawDelivery("/elsewhere", "Expect: 100-continue"), http.StatusNotFound, `{"error":"not found"}`},
		{"unsigned", strings.Replace(rawDelivery(canonical, "Expect: 100-continue"), delivery.HeaderSignature256+":", "X-Unsigned:", 1),
			http.StatusUnauthorized, `{"error":"missing X-Hub-Signature-256: set the webhook secret in GitHub"}`},
		{"text/plain", strings.Replace(rawDelivery(canonical, "Expect: 100-continue"), "application/json", "text/plain", 1),
			http.StatusUnsupportedMediaType,
			`{"error":"unsupported Content-Type: GitHub sends application/json or application/x-www-form-urlencoded"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			conn := dialInMemory(t, s)
			headers, _, _ := strings.Cut(tc.headers, "\r\n\r\n")
			if _, err := io.WriteString(conn, headers+"\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
			_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
			br := bufio.NewReader(conn)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode == http.StatusContinue {
				if tc.code != http.StatusOK {
					t.Fatalf("100 Continue sent for a request answered %d", tc.code)
				}
				if _, err := io.WriteString(conn, pushExample); err != nil {
					t.Fatal(err)
				}
				if resp, err = http.ReadResponse(br, nil); err != nil {
					t.Fatal(err)
				}
			} else if tc.code == http.StatusOK {
				t.Fatalf("answer %d before the body, want 100 Continue", resp.StatusCode)
			}
			body := testenv.ReadBody(t, resp)
			if resp.StatusCode != tc.code || strings.TrimSpace(string(body)) != tc.body ||
				resp.Header.Get("Content-Type") != "application/json" {
				t.Errorf("answer %d %s (%s), want %d %s", resp.StatusCode, body, resp.Header.Get("Content-Type"), tc.code, tc.body)
			}
		})
	}
}
