package webhooksecret

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
)

func TestFingerprint(t *testing.T) {
	const secret = "It's a Secret to Everybody"
	a := Fingerprint([]byte(secret), "uid-1")
	if !strings.HasPrefix(a, FingerprintPrefix) || len(a) != len(FingerprintPrefix)+8 {
		t.Fatalf("fingerprint %q: want %q and 8 hex digits", a, FingerprintPrefix)
	}
	if strings.Contains(a, secret) {
		t.Fatal("fingerprint contains the secret")
	}
	if b := Fingerprint([]byte(secret), "uid-1"); b != a {
		t.Errorf("same secret and UID gave %q and %q", a, b)
	}
	if b := Fingerprint([]byte(secret), "uid-2"); b == a {
		t.Errorf("another UID gave the same fingerprint %q", a)
	}
	if b := Fingerprint([]byte(secret+"!"), "uid-1"); b == a {
		t.Errorf("another secret gave the same fingerprint %q", a)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name, value string
		wantErr     string
	}{
		{"valid", "0123456789abcdef", ""},
		{"valid long", strings.Repeat("x", 64), ""},
		{"empty", "", `key "webhook_secret" is empty`},
		{"short", "tooshort", "holds 8 characters: a webhook secret needs at least 16"},
		{"trailing newline", "0123456789abcdef\n", "leading or trailing whitespace"},
		{"leading space", " 0123456789abcdef", "leading or trailing whitespace"},
		{"not utf8", "\xff\xfe0123456789abcdef", "not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate("webhook_secret", []byte(tt.value))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want it to contain %q", err, tt.wantErr)
			}
			if tt.value != "" && strings.Contains(err.Error(), strings.TrimSpace(tt.value)) {
				t.Fatalf("error reveals the secret value")
			}
		})
	}
}

func TestMirrorRoundTrip(t *testing.T) {
	const current, applied, previous = "the-new-webhook-secret-0", "the-old-webhook-secret-0", "the-older-webhook-secret"
	expires := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	key := types.NamespacedName{Namespace: "team-a", Name: "api"}
	s := NewMirror("hookwarden-system", Mirror{Integration: key, UID: "uid-1",
		Current: []byte(current), Applied: []byte(applied), Previous: []byte(previous), PreviousExpires: expires})
	if s.Namespace != "hookwarden-system" || s.Name != MirrorName("uid-1") {
		t.Fatalf("mirror %s/%s", s.Namespace, s.Name)
	}
	if !MirrorSelector().Matches(labels.Set(s.Labels)) {
		t.Errorf("the mirror's labels %v do not match MirrorSelector %s", s.Labels, MirrorSelector())
	}
	if got, uid, ok := MirrorIntegration(s); !ok || got != key || uid != "uid-1" {
		t.Errorf("MirrorIntegration = %v %q %t", got, uid, ok)
	}
	for k := range s.Data {
		if k != MirrorCurrentKey && k != MirrorAppliedKey && k != MirrorPreviousKey {
			t.Errorf("the mirror holds key %q", k)
		}
	}
	l := ParseMirror(s)
	if string(l.Current) != current || string(l.Applied) != applied || string(l.Previous) != previous ||
		!l.PreviousExpires.Equal(expires) || l.CurrentProblem != "" {
		t.Errorf("ParseMirror read another content back (problem %q)", l.CurrentProblem)
	}
	if !SameMirror(s, s.DeepCopy()) {
		t.Error("SameMirror of a copy is false")
	}
	other := NewMirror("hookwarden-system", Mirror{Integration: key, UID: "uid-1", Current: []byte(current), Applied: []byte(current)})
	if SameMirror(s, other) {
		t.Error("SameMirror ignores a rotation that ended")
	}
	if l := ParseMirror(other); l.Applied != nil || l.Previous != nil {
		t.Error("an applied secret equal to the current one, or no previous one, is read as one")
	}
	if _, _, ok := MirrorIntegration(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Labels: Labels("api")}}); ok {
		t.Error("an applied-webhook-secret Secret is taken for a mirror")
	}
}
