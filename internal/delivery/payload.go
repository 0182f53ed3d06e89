package delivery

import (
	"strings"
	"unicode/utf8"
)

// Envelope holds the payload members hookwarden reads of every delivery,
// whatever its event. Each entry of the event table embeds it in the type
// that names the members the event reads besides.
type Envelope struct {
	Action string `json:"action"`
	// HookID is set on ping deliveries.
	HookID       int64         `json:"hook_id"`
	Repository   *Repository   `json:"repository"`
	Organization *Organization `json:"organization"`
}

func (e *Envelope) envelope() *Envelope { return e }

// Repository is the repository a delivery is about.
type Repository struct {
	FullName string `json:"full_name"`
}

// Organization is the organization a delivery is about.
type Organization struct {
	Login string `json:"login"`
}

// States of pull requests and issues, as status shows them.
const (
	StateOpen   = "open"
	StateClosed = "closed"
	StateMerged = "merged"
)

// maxLinkKeyLength bounds the link key copied from a pull request's body.
const maxLinkKeyLength = 256

// LinkKey returns the value of the first line "<key>: <value>" of body whose
// key equals key case-insensitively: the text after the colon to the end of
// the line, trimmed. It returns "" when no such line has a value.
func LinkKey(body, key string) string {
	if key == "" {
		return ""
	}
	for line := range strings.Lines(body) {
		name, value, ok := strings.Cut(line, ":")
		if !ok || !strings.EqualFold(strings.TrimSpace(name), key) {
			continue
		}
		if value = strings.TrimSpace(value); value != "" {
			return truncate(value, maxLinkKeyLength)
		}
	}
	return ""
}

// truncate shortens s to at most n bytes without splitting a character.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
