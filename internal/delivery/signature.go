package delivery

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"net/http"
	"sync"
	"time"
)

// signaturePrefix starts X-Hub-Signature-256; GitHub's SHA-1 header
// (X-Hub-Signature) is never accepted.
const signaturePrefix = "sha256="

// Secrets are the webhook secrets a delivery's signature may be made with:
// the current one, the one the hooks on GitHub carry (which differs from the
// current one until the reconciler has pushed a change to GitHub) and, during
// a rotation's grace period, the previous one.
type Secrets struct {
	// Current is the webhook secret of the integration's Secret; empty when
	// it is missing or not valid. The applied and previous secrets are still
	// accepted then: the hooks on GitHub keep signing with them.
	Current []byte
	// Applied is the secret the hooks on GitHub carry, from the
	// operator-owned <name>-applied-webhook-secret Secret; nil when it does
	// not exist yet or equals Current.
	Applied []byte
	// Previous is the secret before the last rotation, accepted until
	// PreviousExpires.
	Previous        []byte
	PreviousExpires time.Time
}

// Usable reports whether any secret could verify a delivery at now.
func (s Secrets) Usable(now time.Time) bool {
	return len(s.Current) > 0 || len(s.Applied) > 0 || (len(s.Previous) > 0 && now.Before(s.PreviousExpires))
}

// Signature returns the X-Hub-Signature-256 value GitHub sends for body.
func Signature(secret, body []byte) string {
	return signaturePrefix + hex.EncodeToString(appendMAC(nil, secret, body))
}

// Verify checks "sha256=<hex HMAC-SHA256 of body>" against the current
// secret, the applied one and, until it expires, the previous one, in
// constant time. It reports whether the previous secret matched. Each
// secret that is set is tried: a current secret that is missing or not
// valid (a bad edit of the integration's Secret) does not stop the applied
// one, which the hooks on GitHub sign with until the reconciler pushes a
// change. Only when no secret is usable is the delivery answered 503.
func Verify(header string, body []byte, secrets Secrets, now time.Time) (previous bool, rej *Rejection) {
	var mac [sha256.Size]byte
	return verify(header, body, secrets, now, &mac)
}

// verify is Verify that also sets mac to the HMAC that matched.
func verify(header string, body []byte, secrets Secrets, now time.Time, mac *[sha256.Size]byte) (previous bool, rej *Rejection) {
	if header == "" {
		return false, reject(http.StatusUnauthorized, ReasonMissingSignature)
	}
	if !secrets.Usable(now) {
		return false, reject(http.StatusServiceUnavailable, ReasonSecretNotAvailable)
	}
	if len(header) != len(signaturePrefix)+2*sha256.Size || header[:len(signaturePrefix)] != signaturePrefix {
		return false, reject(http.StatusUnauthorized, ReasonInvalidSignature)
	}
	got := mac[:]
	if _, err := hex.Decode(got, []byte(header[len(signaturePrefix):])); err != nil {
		return false, reject(http.StatusUnauthorized, ReasonInvalidSignature)
	}
	var want [sha256.Size]byte
	if len(secrets.Current) > 0 && hmac.Equal(got, appendMAC(want[:0], secrets.Current, body)) {
		return false, nil
	}
	if len(secrets.Applied) > 0 && hmac.Equal(got, appendMAC(want[:0], secrets.Applied, body)) {
		return false, nil
	}
	if len(secrets.Previous) > 0 && now.Before(secrets.PreviousExpires) &&
		hmac.Equal(got, appendMAC(want[:0], secrets.Previous, body)) {
		return true, nil
	}
	return false, reject(http.StatusUnauthorized, ReasonInvalidSignature)
}

// keyedMAC is an HMAC-SHA256 state keyed by one secret. Keying hashes two
// blocks and allocates; a reused state only resets.
type keyedMAC struct {
	key []byte
	mac hash.Hash
}

var macPool sync.Pool // of *keyedMAC

// appendMAC appends the HMAC-SHA256 of body keyed by secret to dst.
func appendMAC(dst, secret, body []byte) []byte {
	m, _ := macPool.Get().(*keyedMAC)
	if m == nil || !hmac.Equal(m.key, secret) {
		m = &keyedMAC{key: bytes.Clone(secret), mac: hmac.New(sha256.New, secret)}
	} else {
		m.mac.Reset()
	}
	m.mac.Write(body)
	dst = m.mac.Sum(dst)
	macPool.Put(m)
	return dst
}
