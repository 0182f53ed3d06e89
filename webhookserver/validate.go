package webhookserver

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"hash"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// Headers GitHub sends with every delivery.
const (
	HeaderEvent              = "X-GitHub-Event"
	HeaderDelivery           = "X-GitHub-Delivery"
	HeaderHookID             = "X-GitHub-Hook-ID"
	HeaderSignature256       = "X-Hub-Signature-256"
	HeaderTargetType         = "X-GitHub-Hook-Installation-Target-Type"
	signaturePrefix          = "sha256="
	contentTypeJSON          = "application/json"
	contentTypeForm          = "application/x-www-form-urlencoded"
	targetTypeApp            = "integration"
	maxEventNameLength       = 64
	maxDeliveryIDLength      = 64
	formPayloadField         = "payload"
	appTarget                = "app"
	reasonMissingSignature   = "missing X-Hub-Signature-256: set the webhook secret in GitHub"
	reasonInvalidSignature   = "invalid signature"
	reasonMalformedPayload   = "malformed payload"
	reasonSecretNotAvailable = "the webhook secret of this integration is not configured or not valid yet: the delivery was not accepted"
)

// WebhookSecrets are the secrets a delivery's signature may be made with:
// the current one, the one the hooks on GitHub carry (which differs from
// the current one until the reconciler has pushed a change to GitHub) and,
// during a rotation's grace period, the previous one.
type WebhookSecrets struct {
	// Current is the webhook secret of the integration's Secret; empty when
	// it is missing or not valid, in which case the applied and previous
	// secrets are still accepted.
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

// Header is what the receiver reads of a request's headers: the first value
// of a header, "" when it is absent. http.Header is one.
type Header interface {
	Get(key string) string
}

// Rejection is why a delivery was not accepted: the HTTP status code and the
// message sent back to GitHub, which shows it in Recent Deliveries. The
// message never holds request content.
type Rejection struct {
	Code   int
	Reason string
}

// Error returns the reason.
func (r *Rejection) Error() string { return r.Reason }

func reject(code int, reason string) *Rejection {
	return &Rejection{Code: code, Reason: reason}
}

// Delivery is a delivery whose signature and payload were checked.
type Delivery struct {
	// ID is the X-GitHub-Delivery GUID.
	ID string
	// Event is the X-GitHub-Event name.
	Event string
	// HookID is X-GitHub-Hook-ID, or the payload's hook_id for a ping
	// without the header.
	HookID int64
	// Target the delivery came from: "app" for a GitHub App's hook, else the
	// repository's full name, else the organization.
	Target string
	// SignedWithPrevious is true when the signature matched the previous
	// secret (a GitHub hook not yet updated after a rotation).
	SignedWithPrevious bool
	// MAC is the HMAC-SHA256 of the body that the signature matched: a
	// digest of the body that only the holder of the secret can produce.
	MAC [sha256.Size]byte
	// Payload holds the fields hookwarden uses.
	Payload Payload
}

// ValidateDelivery checks a delivery in the order of SPEC §4 — Content-Type,
// the event and delivery headers, the X-Hub-Signature-256 signature over the
// raw body (current secret, applied secret, then the previous one while it is
// valid), the
// payload's JSON — and returns what it holds. It is a pure function: it reads
// nothing but its arguments.
func ValidateDelivery(header Header, body []byte, secrets WebhookSecrets, now time.Time) (*Delivery, *Rejection) {
	form, rej := checkContentType(header.Get("Content-Type"))
	if rej != nil {
		return nil, rej
	}
	d := &Delivery{Event: header.Get(HeaderEvent), ID: header.Get(HeaderDelivery)}
	if rej := checkDeliveryHeaders(d.Event, d.ID); rej != nil {
		return nil, rej
	}
	previous, rej := checkSignature(header.Get(HeaderSignature256), body, secrets, now, &d.MAC)
	if rej != nil {
		return nil, rej
	}
	d.SignedWithPrevious = previous

	raw := body
	if form {
		values, err := url.ParseQuery(string(body))
		if err != nil || !values.Has(formPayloadField) {
			return nil, reject(http.StatusBadRequest, reasonMalformedPayload)
		}
		raw = []byte(values.Get(formPayloadField))
	}
	p, err := parsePayload(raw)
	if err != nil {
		return nil, reject(http.StatusBadRequest, reasonMalformedPayload)
	}
	d.Payload = *p
	d.HookID = parseHookID(header.Get(HeaderHookID))
	if d.HookID == 0 {
		d.HookID = p.HookID
	}
	d.Target = targetOf(header.Get(HeaderTargetType), p)
	return d, nil
}

// checkContentType accepts application/json and form-encoded bodies, and
// reports whether the body is form-encoded.
func checkContentType(value string) (form bool, rej *Rejection) {
	if value == contentTypeJSON {
		// What GitHub sends: no need to parse parameters.
		return false, nil
	}
	mediaType, _, err := mime.ParseMediaType(value)
	if err == nil {
		switch mediaType {
		case contentTypeJSON:
			return false, nil
		case contentTypeForm:
			return true, nil
		}
	}
	return false, reject(http.StatusUnsupportedMediaType,
		"unsupported Content-Type: GitHub sends application/json or application/x-www-form-urlencoded")
}

// checkDeliveryHeaders requires the event name and delivery GUID, in the
// shape GitHub sends, so that nothing else reaches status or metrics.
func checkDeliveryHeaders(event, id string) *Rejection {
	switch {
	case event == "":
		return reject(http.StatusBadRequest, "missing "+HeaderEvent+" header")
	case id == "":
		return reject(http.StatusBadRequest, "missing "+HeaderDelivery+" header")
	case !isEventName(event):
		return reject(http.StatusBadRequest, "invalid "+HeaderEvent+" header")
	case !isDeliveryID(id):
		return reject(http.StatusBadRequest, "invalid "+HeaderDelivery+" header")
	}
	return nil
}

// isEventName reports whether s has the shape of GitHub's event names:
// lower-case letters, digits (projects_v2) and underscores.
func isEventName(s string) bool {
	if len(s) > maxEventNameLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

func isDeliveryID(s string) bool {
	if len(s) > maxDeliveryIDLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

// verifySignature checks "sha256=<hex HMAC-SHA256 of body>" against the
// current secret, the applied one and, until it expires, the previous one,
// in constant time.
// It reports whether the previous secret matched.
func verifySignature(header string, body []byte, secrets WebhookSecrets, now time.Time) (previous bool, rej *Rejection) {
	var mac [sha256.Size]byte
	return checkSignature(header, body, secrets, now, &mac)
}

// checkSignature is verifySignature that also sets mac to the HMAC that
// matched. Each secret that is set is tried: a current secret that is
// missing or not valid (a bad edit of the integration's Secret) does not
// stop the applied one, which the hooks on GitHub sign with until the
// reconciler pushes a change, from being accepted. Only when no secret is
// usable is the delivery answered 503.
func checkSignature(header string, body []byte, secrets WebhookSecrets, now time.Time, mac *[sha256.Size]byte) (previous bool, rej *Rejection) {
	if header == "" {
		return false, reject(http.StatusUnauthorized, reasonMissingSignature)
	}
	previousValid := len(secrets.Previous) > 0 && now.Before(secrets.PreviousExpires)
	if len(secrets.Current) == 0 && len(secrets.Applied) == 0 && !previousValid {
		return false, reject(http.StatusServiceUnavailable, reasonSecretNotAvailable)
	}
	if len(header) != len(signaturePrefix)+2*sha256.Size || header[:len(signaturePrefix)] != signaturePrefix {
		return false, reject(http.StatusUnauthorized, reasonInvalidSignature)
	}
	got := mac[:]
	if _, err := hex.Decode(got, []byte(header[len(signaturePrefix):])); err != nil {
		return false, reject(http.StatusUnauthorized, reasonInvalidSignature)
	}
	var want [sha256.Size]byte
	if len(secrets.Current) > 0 && hmac.Equal(got, appendMAC(want[:0], secrets.Current, body)) {
		return false, nil
	}
	if len(secrets.Applied) > 0 && hmac.Equal(got, appendMAC(want[:0], secrets.Applied, body)) {
		return false, nil
	}
	if previousValid && hmac.Equal(got, appendMAC(want[:0], secrets.Previous, body)) {
		return true, nil
	}
	return false, reject(http.StatusUnauthorized, reasonInvalidSignature)
}

// sign returns the HMAC-SHA256 of body keyed by secret.
func sign(secret, body []byte) []byte {
	return appendMAC(nil, secret, body)
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

// Signature returns the X-Hub-Signature-256 value GitHub sends for body.
func Signature(secret, body []byte) string {
	return signaturePrefix + hex.EncodeToString(sign(secret, body))
}

// parsePayload decodes the fields hookwarden uses. The body must be a JSON
// object; fields of an unexpected type are left empty rather than refusing a
// delivery GitHub made. decodePayload does it in one pass; the shapes it
// leaves to encoding/json take the general path below.
func parsePayload(raw []byte) (*Payload, error) {
	if p, err := decodePayload(raw); !errors.Is(err, errGeneralPath) {
		return p, err
	}
	members, err := extractObject(raw)
	if err != nil {
		return nil, err
	}
	p := &Payload{}
	if err := json.Unmarshal(members, p); err != nil {
		var typeErr *json.UnmarshalTypeError
		if !errors.As(err, &typeErr) {
			return nil, err
		}
	}
	return p, nil
}

func parseHookID(s string) int64 {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id < 0 {
		return 0
	}
	return id
}

// targetOf names where a delivery came from, as status.hooks[].target does.
func targetOf(targetType string, p *Payload) string {
	switch {
	case targetType == targetTypeApp:
		return appTarget
	case p.Repository != nil && p.Repository.FullName != "":
		return p.Repository.FullName
	case p.Organization != nil:
		return p.Organization.Login
	}
	return ""
}
