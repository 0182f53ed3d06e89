package delivery

import (
	"crypto/sha256"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Headers GitHub sends with every delivery.
const (
	HeaderEvent        = "X-GitHub-Event"
	HeaderDelivery     = "X-GitHub-Delivery"
	HeaderHookID       = "X-GitHub-Hook-ID"
	HeaderSignature256 = "X-Hub-Signature-256"
	HeaderTargetType   = "X-GitHub-Hook-Installation-Target-Type"
)

// Content types GitHub delivers with (a hook's content_type json or form).
const (
	ContentTypeJSON = "application/json"
	ContentTypeForm = "application/x-www-form-urlencoded"
)

const (
	maxEventNameLength  = 64
	maxDeliveryIDLength = 64
	formPayloadField    = "payload"
	// targetTypeApp is X-GitHub-Hook-Installation-Target-Type for a GitHub
	// App's own hook.
	targetTypeApp = "integration"
	// AppTarget names a GitHub App's hook, as status.hooks[].target does.
	AppTarget = "app"
)

// Header is what validation reads of a request's headers: the first value
// of a header, "" when it is absent. http.Header is one.
type Header interface {
	Get(key string) string
}

// Validate checks a delivery in the order of docs/receiver.md — Content-Type, the
// event and delivery headers, the X-Hub-Signature-256 signature over the raw
// body, the payload's JSON — and returns what it holds. It is a pure
// function: it reads nothing but its arguments. The Delivery holds copies
// of what it keeps of the headers: a Header's strings need to be valid only
// during the call.
func Validate(header Header, body []byte, secrets Secrets, now time.Time) (*Delivery, *Rejection) {
	form, rej := checkContentType(header.Get("Content-Type"))
	if rej != nil {
		return nil, rej
	}
	d := &Delivery{Event: header.Get(HeaderEvent), ID: header.Get(HeaderDelivery)}
	if rej := checkDeliveryHeaders(d.Event, d.ID); rej != nil {
		return nil, rej
	}
	previous, rej := verify(header.Get(HeaderSignature256), body, secrets, now, &d.MAC)
	if rej != nil {
		return nil, rej
	}
	d.SignedWithPrevious = previous

	raw := body
	if form {
		values, err := url.ParseQuery(string(body))
		if err != nil || !values.Has(formPayloadField) {
			return nil, reject(http.StatusBadRequest, ReasonMalformedPayload)
		}
		raw = []byte(values.Get(formPayloadField))
	}
	if err := decodeFor(d, raw); err != nil {
		return nil, reject(http.StatusBadRequest, ReasonMalformedPayload)
	}
	d.HookID = parseHookID(header.Get(HeaderHookID))
	if d.HookID == 0 {
		d.HookID = d.Envelope.HookID
	}
	d.Target = targetOf(header.Get(HeaderTargetType), &d.Envelope)
	// Copied last: a rejected request costs no copy.
	d.Event, d.ID = eventName(d.Event), strings.Clone(d.ID)
	return d, nil
}

// checkContentType accepts application/json and form-encoded bodies, and
// reports whether the body is form-encoded.
func checkContentType(value string) (form bool, rej *Rejection) {
	if value == ContentTypeJSON {
		// What GitHub sends: no need to parse parameters.
		return false, nil
	}
	mediaType, _, err := mime.ParseMediaType(value)
	if err == nil {
		switch mediaType {
		case ContentTypeJSON:
			return false, nil
		case ContentTypeForm:
			return true, nil
		}
	}
	return false, reject(http.StatusUnsupportedMediaType,
		"unsupported Content-Type: GitHub sends application/json or application/x-www-form-urlencoded")
}

// CheckHeaders runs the checks that need no body, with the answers
// Validate would give: Content-Type, the event and delivery headers, and
// the signature header's presence and shape. The receiver runs it before
// reading a body, so that a request it would refuse anyway is answered
// without reading one. It keeps none of the strings header returns.
func CheckHeaders(header Header) *Rejection {
	if _, rej := checkContentType(header.Get("Content-Type")); rej != nil {
		return rej
	}
	if rej := checkDeliveryHeaders(header.Get(HeaderEvent), header.Get(HeaderDelivery)); rej != nil {
		return rej
	}
	switch sig := header.Get(HeaderSignature256); {
	case sig == "":
		return reject(http.StatusUnauthorized, ReasonMissingSignature)
	case len(sig) != len(signaturePrefix)+2*sha256.Size || sig[:len(signaturePrefix)] != signaturePrefix:
		return reject(http.StatusUnauthorized, ReasonInvalidSignature)
	}
	return nil
}

// checkDeliveryHeaders requires the event name and delivery GUID, in the
// shape GitHub sends, so that nothing else reaches status or metrics.
func checkDeliveryHeaders(event, id string) *Rejection {
	switch {
	case event == "":
		return reject(http.StatusBadRequest, "missing "+HeaderEvent+" header")
	case id == "":
		return reject(http.StatusBadRequest, "missing "+HeaderDelivery+" header")
	case !IsEventName(event):
		return reject(http.StatusBadRequest, "invalid "+HeaderEvent+" header")
	case !IsDeliveryID(id):
		return reject(http.StatusBadRequest, "invalid "+HeaderDelivery+" header")
	}
	return nil
}

// IsEventName reports whether s has the shape of GitHub's event names:
// lower-case letters, digits (projects_v2) and underscores, at most 64
// bytes.
func IsEventName(s string) bool {
	if s == "" || len(s) > maxEventNameLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

// IsDeliveryID reports whether s has the shape of a delivery GUID (letters,
// digits and dashes, at most 64 bytes).
func IsDeliveryID(s string) bool {
	if s == "" || len(s) > maxDeliveryIDLength {
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

func parseHookID(s string) int64 {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id < 0 {
		return 0
	}
	return id
}

// targetOf names where a delivery came from, as status.hooks[].target does.
func targetOf(targetType string, e *Envelope) string {
	switch {
	case targetType == targetTypeApp:
		return AppTarget
	case e.Repository != nil && e.Repository.FullName != "":
		return e.Repository.FullName
	case e.Organization != nil:
		return e.Organization.Login
	}
	return ""
}
