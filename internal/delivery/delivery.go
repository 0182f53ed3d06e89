package delivery

import "crypto/sha256"

// What the other files of this package share: a delivery that passed the
// checks, and why one did not. Validate (validate.go) produces both.

// Messages of the rejections users look up in GitHub's Recent Deliveries.
const (
	ReasonMissingSignature   = "missing X-Hub-Signature-256: set the webhook secret in GitHub"
	ReasonInvalidSignature   = "invalid signature"
	ReasonMalformedPayload   = "malformed payload"
	ReasonSecretNotAvailable = "the webhook secret of this integration is not configured or not valid yet: the delivery was not accepted"
)

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
	// Target the delivery came from: AppTarget for a GitHub App's hook,
	// else the repository's full name, else the organization.
	Target string
	// SignedWithPrevious is true when the signature matched the previous
	// secret (a GitHub hook not yet updated after a rotation).
	SignedWithPrevious bool
	// MAC is the HMAC-SHA256 of the body that the signature matched: a
	// digest of the body that only the holder of the secret can produce.
	MAC [sha256.Size]byte
	// Envelope holds the members every payload may carry.
	Envelope
	// fields holds what the event's entry in the table reads; nil for an
	// event without an entry.
	fields any
}
