package github

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	gogithub "github.com/google/go-github/v60/github"
)

// Kind sorts GitHub's answers by what the caller should do about them.
type Kind int

const (
	// Transient: GitHub could not be reached, timed out or answered 5xx;
	// retrying with backoff may succeed.
	Transient Kind = iota
	// Unauthorized: GitHub refused the credentials (401) or their scopes or
	// permissions (403). Retrying cannot help until the token changes.
	Unauthorized
	// NotFound: the target or hook does not exist or the token cannot see
	// it (GitHub answers 404 rather than 403 then).
	NotFound
	// Invalid: GitHub rejected the request (422 or another 4xx); the
	// message says why.
	Invalid
	// RateLimited: a primary or secondary rate limit is spent until
	// RetryAt.
	RateLimited
	// Untrusted: the server's TLS certificate could not be verified, e.g.
	// GitHub Enterprise Server behind a private CA not given in ca.crt.
	Untrusted
)

func (k Kind) String() string {
	switch k {
	case Unauthorized:
		return "Unauthorized"
	case NotFound:
		return "NotFound"
	case Invalid:
		return "Invalid"
	case RateLimited:
		return "RateLimited"
	case Untrusted:
		return "Untrusted"
	}
	return "Transient"
}

// Error is a classified GitHub error. Its message is GitHub's own (never a
// credential): safe for conditions and Events.
type Error struct {
	Kind Kind
	// StatusCode of GitHub's answer; 0 when there was none.
	StatusCode int
	// Message is GitHub's message, with its field errors for a 422.
	Message string
	// RetryAt is when a rate limit resets (RateLimited only).
	RetryAt time.Time
	// Secondary is true for a secondary rate limit.
	Secondary bool
	// Installation is true when GitHub refused to mint a GitHub App
	// installation token: the App's credentials, not the target, are at
	// fault (401: the app ID does not match the key; 404: no such
	// installation of the App).
	Installation bool
	// HookLimit is true for GitHub's 422 for a target that already has
	// the most hooks allowed for an event.
	HookLimit bool

	err error
}

func (e *Error) Error() string {
	if e.StatusCode != 0 {
		return fmt.Sprintf("GitHub answered %d: %s", e.StatusCode, e.Message)
	}
	return e.Message
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.err }

// Classify sorts err, as returned by go-github or this package's transports,
// into a Kind with a message fit to show. It returns nil for nil.
func Classify(err error) *Error {
	if err == nil {
		return nil
	}
	var (
		classified   *Error
		installation *ghinstallation.HTTPError
		untrusted    *tls.CertificateVerificationError
		unknownCA    x509.UnknownAuthorityError
		local        *RateLimitedError
		primary      *gogithub.RateLimitError
		secondary    *gogithub.AbuseRateLimitError
		answer       *gogithub.ErrorResponse
	)
	switch {
	case errors.As(err, &classified):
		return classified
	case errors.As(err, &untrusted), errors.As(err, &unknownCA):
		return &Error{Kind: Untrusted, Message: "the GitHub server's TLS certificate is not trusted: " + unwrapURLError(err), err: err}
	case errors.As(err, &installation):
		return classifyInstallation(installation, err)
	case errors.As(err, &local):
		return &Error{Kind: RateLimited, RetryAt: local.Until, Secondary: local.Secondary, Message: local.Error(), err: err}
	case errors.As(err, &primary):
		return &Error{Kind: RateLimited, StatusCode: statusOf(primary.Response), RetryAt: primary.Rate.Reset.Time,
			Message: primary.Message, err: err}
	case errors.As(err, &secondary):
		wait := secondaryLimitDefaultWait
		if secondary.RetryAfter != nil {
			wait = *secondary.RetryAfter
		}
		return &Error{Kind: RateLimited, StatusCode: statusOf(secondary.Response), RetryAt: time.Now().Add(wait),
			Secondary: true, Message: secondary.Message, err: err}
	case errors.As(err, &answer):
		return classifyAnswer(answer, err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return &Error{Kind: Transient, Message: "GitHub did not answer in time", err: err}
	}
	return &Error{Kind: Transient, Message: "GitHub could not be reached: " + unwrapURLError(err), err: err}
}

// classifyInstallation reads ghinstallation's error for a refused or failed
// request for an installation token. Its own message names the request URL
// and nothing secret, but says little: the message here says what GitHub
// answered.
func classifyInstallation(e *ghinstallation.HTTPError, err error) *Error {
	status := statusOf(e.Response)
	out := &Error{StatusCode: status, Installation: true, err: err}
	switch {
	case status == 0:
		if e.RootCause != nil {
			out = Classify(e.RootCause)
			out.Installation = true
			return out
		}
		out.Kind, out.Message = Transient, "GitHub could not be asked for an installation token"
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		out.Kind, out.Message = Unauthorized, "GitHub refused the App's JSON web token when asked for an installation token"
	case status == http.StatusNotFound:
		out.Kind, out.Message = NotFound, "GitHub found no such installation of the App"
	case status >= 500:
		out.Kind, out.Message = Transient, "GitHub failed to mint an installation token"
	default:
		out.Kind, out.Message = Invalid, "GitHub refused to mint an installation token"
	}
	return out
}

func classifyAnswer(answer *gogithub.ErrorResponse, err error) *Error {
	status := statusOf(answer.Response)
	out := &Error{StatusCode: status, Message: answerMessage(answer), err: err}
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		out.Kind = Unauthorized
	case status == http.StatusNotFound || status == http.StatusGone:
		out.Kind = NotFound
	case status == http.StatusTooManyRequests:
		out.Kind = RateLimited
		out.RetryAt = time.Now().Add(secondaryLimitDefaultWait)
		out.Secondary = true
	case status >= 500:
		out.Kind = Transient
	default:
		out.Kind = Invalid
		out.HookLimit = status == http.StatusUnprocessableEntity && isHookLimit(answer)
	}
	return out
}

// isHookLimit recognises GitHub's answer to a hook that would be the 21st
// of the target for an event. GitHub documents the limit but not the
// message; it is matched on the wording GitHub sends, e.g.
// `The "push" event cannot have more than 20 hooks`.
func isHookLimit(answer *gogithub.ErrorResponse) bool {
	for _, fe := range answer.Errors {
		if strings.Contains(fe.Message, "cannot have more than") && strings.Contains(fe.Message, "hooks") {
			return true
		}
	}
	return false
}

// answerMessage is GitHub's message followed by its field errors, e.g.
// `Validation Failed: Invalid event: "pushes"`.
func answerMessage(answer *gogithub.ErrorResponse) string {
	msg := answer.Message
	if msg == "" && answer.Response != nil {
		msg = http.StatusText(answer.Response.StatusCode)
	}
	var details []string
	for _, fe := range answer.Errors {
		switch {
		case fe.Message != "":
			details = append(details, fe.Message)
		case fe.Field != "":
			details = append(details, fmt.Sprintf("%s %s", fe.Field, fe.Code))
		case fe.Code != "":
			details = append(details, fe.Code)
		}
	}
	if len(details) > 0 {
		msg += ": " + strings.Join(details, "; ")
	}
	return msg
}

// unwrapURLError drops the method and URL that net/http puts in front of
// transport errors: they are noise in a condition.
func unwrapURLError(err error) string {
	var u *url.Error
	if errors.As(err, &u) && u.Err != nil {
		return u.Err.Error()
	}
	return err.Error()
}

func statusOf(resp *http.Response) int {
	if resp == nil {
		return 0
	}
	return resp.StatusCode
}

// IsNotFound reports whether err is GitHub's 404 (or 410).
func IsNotFound(err error) bool {
	c := Classify(err)
	return c != nil && c.Kind == NotFound
}
