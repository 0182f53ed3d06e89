package delivery

import (
	"net/http"
	"testing"
	"time"
)

// TestSignatureAcceptedDuringRotation: the current secret, the secret the
// hooks carry (applied) and the previous one until it expires are
// accepted; anything else, and the previous one after its expiry, is 401.
func TestSignatureAcceptedDuringRotation(t *testing.T) {
	now := time.Now()
	body := []byte(`{"zen":"Keep it logically awesome."}`)
	const current, applied, previous, other = "the-user-secret-0001", "the-applied-secret-01", "the-previous-secret-1", "someone-else-secret-1"
	secrets := Secrets{Current: []byte(current), Applied: []byte(applied),
		Previous: []byte(previous), PreviousExpires: now.Add(time.Minute)}
	cases := []struct {
		name     string
		signedBy string
		at       time.Time
		want     int // 0: accepted
	}{
		{"current", current, now, 0},
		{"applied, before the reconciler pushed the change", applied, now, 0},
		{"previous, during the grace period", previous, now, 0},
		{"previous, after the grace period", previous, now.Add(2 * time.Minute), http.StatusUnauthorized},
		{"applied never expires", applied, now.Add(2 * time.Minute), 0},
		{"unknown secret", other, now, http.StatusUnauthorized},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			prev, rej := Verify(Signature([]byte(tc.signedBy), body), body, secrets, tc.at)
			switch {
			case tc.want == 0 && rej != nil:
				t.Fatalf("rejected with %d %q, want accepted", rej.Code, rej.Reason)
			case tc.want != 0 && (rej == nil || rej.Code != tc.want):
				t.Fatalf("got %+v, want %d", rej, tc.want)
			case tc.want == 0 && prev != (tc.signedBy == previous):
				t.Fatalf("SignedWithPrevious = %v", prev)
			}
		})
	}
}
