package delivery

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/hookwarden/hookwarden/internal/testfixtures"
)

// publishedEvents returns the webhook event names of GitHub's OpenAPI
// description (@octokit/openapi): one per entry of its webhooks (x-webhooks
// in OpenAPI 3.0 descriptions), named by the entry's x-github subcategory.
// The description spells a few subcategories with hyphens ("sub-issues")
// where GitHub's X-GitHub-Event has underscores ("sub_issues"), and its
// header examples are wrong for a few events ("project-v2" for projects_v2,
// "discussions" for discussion), so the subcategory with underscores is the
// name.
func publishedEvents(t *testing.T) []string {
	t.Helper()
	path, err := testfixtures.OpenAPIPath()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	type operation struct {
		GitHub struct {
			Subcategory string `json:"subcategory"`
		} `json:"x-github"`
	}
	var doc struct {
		Webhooks  map[string]map[string]operation `json:"webhooks"`
		XWebhooks map[string]map[string]operation `json:"x-webhooks"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	set := map[string]bool{}
	for _, hooks := range []map[string]map[string]operation{doc.Webhooks, doc.XWebhooks} {
		for key, ops := range hooks {
			for method, op := range ops {
				if op.GitHub.Subcategory == "" {
					t.Fatalf("webhook %s %s names no subcategory: the description changed shape", key, method)
				}
				set[strings.ReplaceAll(op.GitHub.Subcategory, "-", "_")] = true
			}
		}
	}
	if len(set) < 50 {
		t.Fatalf("the description lists %d webhook events: the description changed shape", len(set))
	}
	names := make([]string, 0, len(set))
	for name := range set {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// TestGitHubEventsArePublished keeps hookwarden's list of GitHub's webhook
// events equal to the one GitHub publishes.
func TestGitHubEventsArePublished(t *testing.T) {
	published := publishedEvents(t)
	for _, name := range published {
		if !Known(name) {
			t.Errorf("GitHub publishes event %q: add it to gitHubEventNames", name)
		}
	}
	for _, name := range gitHubEventNames {
		if !slices.Contains(published, name) {
			t.Errorf("event %q of gitHubEventNames is not published by GitHub", name)
		}
		if !IsEventName(name) {
			t.Errorf("event %q would be refused by the header check", name)
		}
	}
	if len(gitHubEventNames) != len(gitHubEvents) {
		t.Errorf("gitHubEventNames lists a name twice")
	}
	if !Known("ping") {
		t.Errorf("ping is not in the list")
	}
}
