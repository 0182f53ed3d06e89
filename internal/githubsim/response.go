package githubsim

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

const (
	docsREST       = "https://docs.github.com/rest"
	docsRateLimits = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
	// go-github recognises a secondary limit by this suffix.
	docsSecondaryLimits = docsRateLimits + "#about-secondary-rate-limits"
)

// response is an answer built in memory, so that ETags, 304s and rate-limit
// headers can be decided after the handler ran.
type response struct {
	status int
	header http.Header
	body   []byte
}

func newResponse(status int) *response {
	return &response{status: status, header: http.Header{}}
}

// jsonResponse encodes v the way GitHub does: no HTML escaping, no
// indentation.
func jsonResponse(status int, v any) *response {
	resp := newResponse(status)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Only our own types are encoded; failing here is a programming error.
		panic("githubsim: encode response: " + err.Error())
	}
	resp.body = bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	resp.header.Set("Content-Type", "application/json; charset=utf-8")
	return resp
}

func noContent() *response { return newResponse(http.StatusNoContent) }

// basicError is GitHub's error body (components/schemas/basic-error).
type basicError struct {
	Message          string `json:"message"`
	DocumentationURL string `json:"documentation_url"`
	Status           string `json:"status"`
}

func errorResponse(status int, message, docURL string) *response {
	return jsonResponse(status, basicError{Message: message, DocumentationURL: docURL, Status: strconv.Itoa(status)})
}

func notFound(docURL string) *response {
	return errorResponse(http.StatusNotFound, "Not Found", docURL)
}

func badCredentials() *response {
	return errorResponse(http.StatusUnauthorized, "Bad credentials", docsREST)
}

// fieldError is one entry of a 422 answer's errors array.
type fieldError struct {
	Resource string `json:"resource,omitempty"`
	Field    string `json:"field,omitempty"`
	Code     string `json:"code"`
	Message  string `json:"message,omitempty"`
}

// validationError is GitHub's 422 body (components/schemas/validation-error).
type validationError struct {
	Message          string       `json:"message"`
	Errors           []fieldError `json:"errors,omitempty"`
	DocumentationURL string       `json:"documentation_url"`
	Status           string       `json:"status"`
}

func validationFailed(docURL string, errs ...fieldError) *response {
	return jsonResponse(http.StatusUnprocessableEntity, validationError{
		Message:          "Validation Failed",
		Errors:           errs,
		DocumentationURL: docURL,
		Status:           "422",
	})
}

// problemsParsingJSON is GitHub's answer to a body that is not JSON.
func problemsParsingJSON(docURL string) *response {
	return errorResponse(http.StatusBadRequest, "Problems parsing JSON", docURL)
}

// etagOf returns a weak ETag over the body, as GitHub sends on GETs.
func etagOf(body []byte) string {
	sum := sha256.Sum256(body)
	return `W/"` + hex.EncodeToString(sum[:]) + `"`
}

// etagMatches reports whether an If-None-Match header value matches etag,
// comparing weakly as RFC 9110 requires for If-None-Match.
func etagMatches(ifNoneMatch, etag string) bool {
	if ifNoneMatch == "" {
		return false
	}
	want := strings.TrimPrefix(etag, "W/")
	for _, candidate := range strings.Split(ifNoneMatch, ",") {
		candidate = strings.TrimSpace(candidate)
		if candidate == "*" || strings.TrimPrefix(candidate, "W/") == want {
			return true
		}
	}
	return false
}

func (r *response) write(w http.ResponseWriter) {
	h := w.Header()
	for k, v := range r.header {
		h[k] = v
	}
	if len(r.body) > 0 {
		h.Set("Content-Length", strconv.Itoa(len(r.body)))
	}
	w.WriteHeader(r.status)
	if r.status != http.StatusNotModified && r.status != http.StatusNoContent {
		_, _ = w.Write(r.body)
	}
}
