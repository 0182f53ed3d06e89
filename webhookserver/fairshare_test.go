package webhookserver

import (
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	"github.com/hookwarden/hookwarden/internal/delivery"
)

// TestFairShare checks the rules of a fair share: a per-source cap, and a
// reserve only newcomers draw on.
func TestFairShare(t *testing.T) {
	f := newFairShare(10, 4, 3)
	a, b, c := sourceKey(netip.MustParseAddr("192.0.2.1")), sourceKey(netip.MustParseAddr("192.0.2.2")),
		sourceKey(netip.MustParseAddr("192.0.2.3"))
	for range 4 {
		if r, _ := f.takeFirst(a, 1, false); r != shareGranted {
			t.Fatalf("a: %v", r)
		}
	}
	if r, _ := f.takeFirst(a, 1, false); r != shareOverSource {
		t.Errorf("a over its share: %v, want shareOverSource", r)
	}
	for range 3 {
		if r, _ := f.takeFirst(b, 1, false); r != shareGranted {
			t.Fatalf("b: %v", r)
		}
	}
	// 3 left, all reserve: b holds some, so it may not take them.
	if r, _ := f.takeFirst(b, 1, false); r != shareExhausted {
		t.Errorf("b into the reserve: %v, want shareExhausted", r)
	}
	if r, newcomer := f.takeFirst(c, 1, false); r != shareGranted || !newcomer {
		t.Errorf("newcomer c: %v %v, want granted from the reserve", r, newcomer)
	}
	// A trusted proxy is bound by the capacity only.
	proxy := sourceKey(netip.MustParseAddr("10.0.0.1"))
	if r := f.take(proxy, 2, false, true); r != shareGranted {
		t.Errorf("proxy: %v", r)
	}
	if r := f.take(proxy, 1, false, true); r != shareExhausted {
		t.Errorf("proxy over the capacity: %v", r)
	}
	f.give(a, 4)
	if n := f.inUse(); n != 6 {
		t.Errorf("in use %d, want 6", n)
	}
}

// TestSignedDeliveryAcceptedUnderAbuse: 30 clients behind one trusted
// proxy (each its own X-Forwarded-For address) and one client of its own
// do their worst: junk until their budgets of rejected requests are spent,
// and deliveries with forged signatures whose bodies stall, holding every
// in-flight slot they can get. A correctly signed delivery, through the
// proxy or not, is still answered 200.
func TestSignedDeliveryAcceptedUnderAbuse(t *testing.T) {
	const proxy, stalled = "127.0.0.9", "127.0.0.2"
	opts := Options{MaxInflight: 256, RejectedBurst: 3, RejectedRate: 0.01, TrustedProxies: []string{proxy}}
	s := newHandlerServer(t, opts)
	addr := serveTCP(t, s)
	canonical := hookv1.ReceiverPath(testNS, testName)
	forged := "sha256=" + strings.Repeat("0", 64)
	client := func(i int) string { return fmt.Sprintf("X-Forwarded-For: 203.0.113.%d", i) }

	// Junk, until every client behind the proxy is answered 429.
	for i := 1; i <= 30; i++ {
		for range opts.RejectedBurst {
			c := dialFrom(t, proxy, addr)
			junk := strings.Replace(rawDelivery(canonical, client(i)), delivery.HeaderSignature256+": sha256=", delivery.HeaderSignature256+": sha256=f", 1)
			if _, err := io.WriteString(c, junk); err != nil {
				t.Fatal(err)
			}
			if code, body := answerOf(t, c); code != http.StatusUnauthorized {
				t.Fatalf("junk from client %d: %d %s, want 401", i, code, body)
			}
		}
		c := dialFrom(t, proxy, addr)
		if _, err := io.WriteString(c, "GET /elsewhere HTTP/1.1\r\nHost: receiver.test\r\n"+client(i)+"\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		if code, body := answerOf(t, c); code != http.StatusTooManyRequests {
			t.Fatalf("junk from client %d past its budget: %d %s, want 429", i, code, body)
		}
	}

	// Stalled bodies: forged signatures, 1 MiB declared, 16 KiB sent (the
	// server reads the first 8 KiB before its handler runs).
	stall := func(from string, extra ...string) {
		c := dialFrom(t, from, addr)
		head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: receiver.test\r\nContent-Type: application/json\r\n"+
			"%s: push\r\n%s: %s\r\n%s: %s\r\nContent-Length: %d\r\n%s\r\n", canonical, delivery.HeaderEvent, delivery.HeaderDelivery, newGUID(),
			delivery.HeaderSignature256, forged, 1<<20, strings.Join(append(extra, ""), "\r\n"))
		if _, err := io.WriteString(c, head+strings.Repeat(" ", 16<<10)); err != nil {
			t.Fatal(err)
		}
	}
	perSource := opts.MaxInflight / 8
	for i := 1; i <= 30; i++ {
		for range perSource + 1 {
			stall(proxy, client(i))
		}
	}
	for range perSource + 1 {
		stall(stalled)
	}
	// Everything but the reserve, less what the newcomers among the
	// attackers took of it, is held by stalled bodies.
	eventually(t, 20*time.Second, "the attackers hold the in-flight slots", func() error {
		if n, want := s.inflight.inUse(), int64(opts.MaxInflight-opts.MaxInflight/8); n < want {
			return fmt.Errorf("%d slots held, want at least %d", n, want)
		}
		return nil
	})
	t.Logf("%d of %d in-flight slots held by the attackers", s.inflight.inUse(), opts.MaxInflight)

	for _, tc := range []struct{ name, from, forwarded string }{
		{"through the proxy", proxy, "X-Forwarded-For: 140.82.115.1"},
		{"directly", "127.0.0.3", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var extra []string
			if tc.forwarded != "" {
				extra = append(extra, tc.forwarded)
			}
			c := dialFrom(t, tc.from, addr)
			if _, err := io.WriteString(c, rawDelivery(canonical, extra...)); err != nil {
				t.Fatal(err)
			}
			if code, body := answerOf(t, c); code != http.StatusOK || body != `{"processed":true}` {
				t.Errorf("signed delivery %s: %d %s, want 200", tc.name, code, body)
			}
		})
	}
}
