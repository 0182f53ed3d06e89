// Package issuebody is the layout of the body of an issue that a
// GitHubIssue manages: the user's text, an optional section listing the
// linked pull requests between two hidden markers, and a hidden marker
// naming the GitHubIssue by its UID. The controller writes it; the receiver
// recognises a managed issue by its marker in a signed delivery. It imports
// nothing from Kubernetes.
package issuebody

import (
	"fmt"
	"regexp"
	"strings"
)

// markerPrefix starts the hidden marker; an HTML comment is not rendered
// by GitHub, so users do not see it.
const markerPrefix = "<!-- hookwarden:githubissue uid="

// Markers of the section that lists the linked pull requests.
const (
	linksBegin = "<!-- hookwarden:linked-pull-requests:begin -->"
	linksEnd   = "<!-- hookwarden:linked-pull-requests:end -->"
)

// markerRE finds the marker; a UID is what Kubernetes generates (a UUID),
// so the pattern is strict and a body cannot smuggle anything else in.
var markerRE = regexp.MustCompile(`<!-- hookwarden:githubissue uid=([0-9a-f-]{1,64}) -->`)

// Marker is the hidden line that names the GitHubIssue with uid.
func Marker(uid string) string { return markerPrefix + uid + " -->" }

// UID returns the UID named by the marker in body, or "" when body has
// none. The last marker counts: a user who copies another issue's text
// above the marker does not move the issue to another owner.
func UID(body string) string {
	all := markerRE.FindAllStringSubmatch(body, -1)
	if len(all) == 0 {
		return ""
	}
	return all[len(all)-1][1]
}

// PullRequest is a linked pull request as the section lists it.
type PullRequest struct {
	Repository string
	Number     int64
	Title      string
	URL        string
	State      string
}

// Build returns the body hookwarden keeps on GitHub: the declared text, the
// section of linked pull requests (from ListSection, or "" for none), and
// the marker.
func Build(declared, uid, section string) string {
	var b strings.Builder
	b.WriteString(strings.TrimRight(declared, "\n"))
	if section != "" {
		if b.Len() > 0 {
			b.WriteString("\n\n")
		}
		b.WriteString(section)
	}
	if b.Len() > 0 {
		b.WriteString("\n\n")
	}
	b.WriteString(Marker(uid))
	return b.String()
}

// ListSection returns the section, markers included, that lists links.
func ListSection(links []PullRequest) string {
	var b strings.Builder
	b.WriteString(linksBegin + "\n")
	b.WriteString("### Linked pull requests\n\n")
	if len(links) == 0 {
		b.WriteString("_None yet._\n")
	}
	for _, pr := range links {
		fmt.Fprintf(&b, "- [%s#%d](%s) %s (%s)\n", pr.Repository, pr.Number, pr.URL, oneLine(pr.Title), pr.State)
	}
	b.WriteString(linksEnd)
	return b.String()
}

// Section returns the linked pull requests section of body (markers
// included), or "" when it has none.
func Section(body string) string {
	start := strings.Index(body, linksBegin)
	if start < 0 {
		return ""
	}
	end := strings.Index(body[start:], linksEnd)
	if end < 0 {
		return ""
	}
	return body[start : start+end+len(linksEnd)]
}

// oneLine keeps a title on its line of the list.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
