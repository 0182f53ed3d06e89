package webhookserver

import (
	"strings"
	"unicode/utf8"
)

// Payload holds the fields of a delivery's JSON that hookwarden records. The
// rest of the payload is never kept.
type Payload struct {
	Action string `json:"action"`
	// HookID is set on ping deliveries.
	HookID int64 `json:"hook_id"`
	// Ref and After are set on push deliveries.
	Ref          string        `json:"ref"`
	After        string        `json:"after"`
	Repository   *repository   `json:"repository"`
	Organization *organization `json:"organization"`
	PullRequest  *pullRequest  `json:"pull_request"`
	Issue        *issue        `json:"issue"`
}

type repository struct {
	FullName string `json:"full_name"`
}

type organization struct {
	Login string `json:"login"`
}

type pullRequest struct {
	Number  int64   `json:"number"`
	Title   string  `json:"title"`
	HTMLURL string  `json:"html_url"`
	State   string  `json:"state"`
	Merged  *bool   `json:"merged"`
	Body    *string `json:"body"`
	// MergedAt is set once merged, also in payloads without "merged".
	MergedAt *string `json:"merged_at"`
}

type issue struct {
	Number  int64   `json:"number"`
	Title   string  `json:"title"`
	HTMLURL string  `json:"html_url"`
	State   string  `json:"state"`
	Labels  []label `json:"labels"`
}

type label struct {
	Name string `json:"name"`
}

// Pull request and issue states as status shows them.
const (
	stateOpen   = "open"
	stateClosed = "closed"
	stateMerged = "merged"
)

// maxLinkKeyLength bounds the link key copied from a pull request's body.
const maxLinkKeyLength = 256

// state is the pull request's state for status: merged when it was merged.
func (pr *pullRequest) state() string {
	if (pr.Merged != nil && *pr.Merged) || (pr.MergedAt != nil && *pr.MergedAt != "") {
		return stateMerged
	}
	if pr.State == stateClosed {
		return stateClosed
	}
	return stateOpen
}

// body returns the pull request's description, "" when it has none.
func (pr *pullRequest) body() string {
	if pr.Body == nil {
		return ""
	}
	return *pr.Body
}

// state is the issue's state for status.
func (is *issue) state() string {
	if is.State == stateClosed {
		return stateClosed
	}
	return stateOpen
}

// hasLabel reports whether the issue carries the label name.
func (is *issue) hasLabel(name string) bool {
	if name == "" {
		return false
	}
	for _, l := range is.Labels {
		if l.Name == name {
			return true
		}
	}
	return false
}

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
