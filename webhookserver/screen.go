package webhookserver

import (
	"net/http"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/valyala/fasthttp"
	"k8s.io/apimachinery/pkg/types"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	"github.com/hookwarden/hookwarden/internal/delivery"
)

// declaredLengthKey keeps the Content-Length of a request that declared a
// body over the cap: headerReceived sets its length to 0, so that the HTTP
// server does not wait for the first 8 KiB of a body that is refused from
// the headers alone. Its name has characters no header read from a client
// can have, so only the receiver sets it.
var declaredLengthKey = []byte("(hookwarden) declared length")

// headerReceived runs once a request's headers are in, before its body is
// touched: it gives the body its read deadline, has the handler run after
// the first byte of the body, and sets aside a declared length over the
// cap.
func (s *Server) headerReceived(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
	if n := h.ContentLength(); n > MaxBodyBytes {
		h.SetContentLength(0)
		h.SetBytesKV(declaredLengthKey, strconv.AppendInt(nil, int64(n), 10))
	}
	// The server reads the first bytes of a body before it runs the handler,
	// up to this size (8 KiB otherwise): one byte, so that a request whose
	// body is slow reaches the handler, and its source's fair share, at
	// once, instead of holding a connection outside any share. The handler
	// enforces MaxBodyBytes.
	return fasthttp.RequestConfig{ReadTimeout: readTimeout, MaxRequestBodySize: 1}
}

// declaredLength is the body length a request declared: its Content-Length,
// -1 for a chunked body, or the length over the cap headerReceived set
// aside.
func declaredLength(h *fasthttp.RequestHeader) int {
	n := h.ContentLength()
	if n == 0 {
		if v := h.PeekBytes(declaredLengthKey); v != nil {
			if declared, err := strconv.Atoi(string(v)); err == nil {
				return declared
			}
		}
	}
	return n
}

// bodyPending reports whether a request may have body bytes the receiver
// has not read.
func bodyPending(h *fasthttp.RequestHeader) bool {
	n := declaredLength(h)
	return n > 0 || n == -1
}

// screen answers what a request's headers decide alone, in the order of
// docs/receiver.md: the allowed sources (403), the route (404, 405, 404), a declared
// length over the cap (413), the Content-Type (415), the event and delivery
// headers (400) and the signature header's presence and shape (401). When
// none of them refuses the request, it returns the integration and its
// secrets, and the body is read and verified. So a request that cannot be
// accepted never has its body read, and an unsigned client never costs
// more than its headers.
func (s *Server) screen(ctx *fasthttp.RequestCtx, src source, now time.Time) (answer, *integration, delivery.Secrets) {
	if s.allowlist.enabled() && (!src.ok || !s.allowlist.allows(src.addr)) {
		return errorAnswer(http.StatusForbidden, "source address not allowed"), nil, delivery.Secrets{}
	}
	key, ok := receiverKey(ctx.Request.Header.RequestURI())
	switch {
	case !ok:
		return errorAnswer(http.StatusNotFound, "not found"), nil, delivery.Secrets{}
	case !ctx.IsPost():
		a := errorAnswer(http.StatusMethodNotAllowed, "method not allowed: GitHub delivers with POST")
		a.allow = http.MethodPost
		return a, nil, delivery.Secrets{}
	}
	in, secrets, ok := s.store.lookup(key)
	if !ok {
		return errorAnswer(http.StatusNotFound, "integration not found"), nil, delivery.Secrets{}
	}
	h := &ctx.Request.Header
	if declaredLength(h) > MaxBodyBytes {
		return s.rejected(in, requestHeader{h}, errorAnswer(http.StatusRequestEntityTooLarge, "payload larger than 25 MiB"), now),
			nil, delivery.Secrets{}
	}
	if rej := delivery.CheckHeaders(peekedHeader{h}); rej != nil {
		return s.rejected(in, requestHeader{h}, errorAnswer(rej.Code, rej.Reason), now), nil, delivery.Secrets{}
	}
	return answer{}, in, secrets
}

// receiverKey is the integration a raw request-target names. Only the
// canonical form hookv1.ReceiverPath(namespace, name) routes, spelled
// exactly so: no percent-encoding, dot segments, doubled slashes or
// absolute form, so that the receiver and any proxy in front of it agree
// on which integration a request is for. A query string is ignored, as
// GitHub sends none and a payload URL may carry one. The key's strings
// point into uri: keep in.key, never this key.
func receiverKey(uri []byte) (types.NamespacedName, bool) {
	path := unsafeString(uri)
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	namespace, name, ok := hookv1.ParseReceiverPath(path)
	if !ok || !isObjectName(namespace) || !isObjectName(name) {
		return types.NamespacedName{}, false
	}
	return types.NamespacedName{Namespace: namespace, Name: name}, true
}

// isObjectName reports whether s is spelled as a Kubernetes object name
// can be (lower-case letters, digits, '-' and '.', not "." or ".."): the
// characters url.PathEscape leaves alone, so that ReceiverPath writes s
// unchanged.
func isObjectName(s string) bool {
	if s == "" || len(s) > 253 || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

// unsafeString is b as a string without a copy, for reading only while b
// is not modified.
func unsafeString(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}
