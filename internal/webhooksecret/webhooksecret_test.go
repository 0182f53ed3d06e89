package webhooksecret

import (
	"strings"
	"testing"
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
