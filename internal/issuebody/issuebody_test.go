package issuebody

import (
	"strings"
	"testing"
)

const uid = "0b7c2f3e-6a51-4c55-9a8e-1f2d3c4b5a69"

func TestBuildCarriesTheMarkerThatUIDFinds(t *testing.T) {
	body := Build("Review the results.\n", uid, "")
	if !strings.HasPrefix(body, "Review the results.\n\n") {
		t.Errorf("body %q does not start with the declared text", body)
	}
	if got := UID(body); got != uid {
		t.Errorf("UID(%q) = %q, want %q", body, got, uid)
	}
	if Section(body) != "" {
		t.Errorf("body without links has a section: %q", body)
	}
	if got := UID(Build("", uid, "")); got != uid {
		t.Errorf("UID of an empty declared body = %q", got)
	}
}

func TestUIDOfBodiesWithoutAValidMarker(t *testing.T) {
	for _, body := range []string{
		"",
		"plain text",
		"<!-- hookwarden:githubissue uid= -->",
		"<!-- hookwarden:githubissue uid=NOT_A_UID -->",
	} {
		if got := UID(body); got != "" {
			t.Errorf("UID(%q) = %q, want none", body, got)
		}
	}
	// The last marker wins: text copied above does not change the owner.
	copied := Marker("1111") + "\n" + Build("x", uid, "")
	if got := UID(copied); got != uid {
		t.Errorf("UID with a copied marker above = %q, want %q", got, uid)
	}
}

func TestBuildListsLinkedPullRequestsInTheSection(t *testing.T) {
	body := Build("Follow-ups", uid, ListSection([]PullRequest{
		{Repository: "acme/api", Number: 7, Title: "Checkout\nflow", URL: "https://github.com/acme/api/pull/7", State: "open"},
	}))
	section := Section(body)
	want := "- [acme/api#7](https://github.com/acme/api/pull/7) Checkout flow (open)"
	if !strings.Contains(section, want) {
		t.Errorf("section %q does not list %q", section, want)
	}
	if UID(body) != uid {
		t.Errorf("marker lost in %q", body)
	}
	if empty := Section(Build("x", uid, ListSection(nil))); !strings.Contains(empty, "None yet") {
		t.Errorf("empty section %q does not say there is none", empty)
	}
}
