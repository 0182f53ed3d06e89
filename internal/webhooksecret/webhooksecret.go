// Package webhooksecret is the one home of how hookwarden keeps webhook
// secrets, shared by the reconciler (which writes them) and the receiver
// (which reads them): how a secret is checked and identified without being
// revealed, and the layout of the operator-owned Secrets kept beside each
// integration (names, labels, keys, annotations and how their times are
// read), with the loading of an integration's secrets.
package webhooksecret

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MinWebhookSecretLength is the shortest webhook secret hookwarden accepts.
const MinWebhookSecretLength = 16

// FingerprintPrefix starts every fingerprint, naming the function used.
const FingerprintPrefix = "hmac-sha256:"

// Fingerprint identifies a webhook secret without revealing it: an
// HMAC-SHA256 of the secret keyed by the owning object's UID, truncated to 8
// hex digits. Keying by the UID means equal secrets on different objects get
// different fingerprints, so a fingerprint cannot be looked up in a table.
func Fingerprint(secret []byte, uid string) string {
	mac := hmac.New(sha256.New, []byte(uid))
	mac.Write(secret)
	return FingerprintPrefix + hex.EncodeToString(mac.Sum(nil))[:8]
}

// ValidateWebhookSecret checks a webhook secret read from the Secret key
// named key. The error names the key and the rule, never the value.
func Validate(key string, value []byte) error {
	switch {
	case len(value) == 0:
		return fmt.Errorf("key %q is empty: set it to a random string of at least %d characters", key, MinWebhookSecretLength)
	case !utf8.Valid(value):
		return fmt.Errorf("key %q is not valid UTF-8 text: GitHub needs a text secret", key)
	case utf8.RuneCount(value) < MinWebhookSecretLength:
		return fmt.Errorf("key %q holds %d characters: a webhook secret needs at least %d", key, utf8.RuneCount(value), MinWebhookSecretLength)
	case strings.TrimFunc(string(value), unicode.IsSpace) != string(value):
		return fmt.Errorf("key %q has leading or trailing whitespace (often a newline from 'echo'): remove it, e.g. create the Secret with --from-literal or 'echo -n'", key)
	}
	return nil
}
