package delivery

import (
	"reflect"
	"testing"
	"time"
)

func validated(t *testing.T, event, body string) *Delivery {
	t.Helper()
	secret := []byte(testSecret)
	d, rej := Validate(deliveryHeader(event, body, secret), []byte(body), Secrets{Current: secret}, time.Now())
	if rej != nil {
		t.Fatalf("%s %s: %v", event, body, rej)
	}
	return d
}

// TestEventTable: one case per row of the table and per way a delivery is
// classified, with what it records.
func TestEventTable(t *testing.T) {
	subscribed := Settings{Subscribed: true, PullRequestKey: "experiment_key", IssueLabel: "experiment"}
	cases := []struct {
		name     string
		event    string
		body     string
		settings Settings
		want     Outcome
	}{
		{"ping, even when not subscribed", "ping", `{"zen":"x","hook_id":42}`, Settings{},
			Outcome{Event: "ping", Processed: true, AnswerHookID: true}},
		{"push", "push", `{"ref":"refs/heads/main","after":"abc","repository":{"full_name":"acme/api"}}`, subscribed,
			Outcome{Event: "push", Processed: true, Ref: "refs/heads/main", After: "abc"}},
		{"not subscribed", "push", `{"ref":"refs/heads/main"}`, Settings{},
			Outcome{Reason: `event "push" is not in spec.events`}},
		{"subscribed without a handler", "release", `{"action":"published"}`, subscribed,
			Outcome{Event: "release", Reason: `event "release" has no handler`}},
		{"not one of GitHub's events", "invented_event", `{}`, subscribed,
			Outcome{Reason: `event "invented_event" is not a GitHub webhook event this version of hookwarden knows: counted without its name`}},
		{"pull request with a link key", "pull_request",
			`{"action":"opened","repository":{"full_name":"acme/api"},"pull_request":{"number":42,"title":"Checkout","html_url":"https://github.com/acme/api/pull/42","state":"open","body":"Text\nExperiment_Key: checkout-flow-v2 \n"}}`,
			subscribed, Outcome{Event: "pull_request", Processed: true, PullRequest: &Item{Repository: "acme/api", Number: 42, Title: "Checkout",
				URL: "https://github.com/acme/api/pull/42", State: StateOpen, LinkKey: "checkout-flow-v2"}}},
		{"pull request merged", "pull_request",
			`{"action":"closed","repository":{"full_name":"acme/api"},"pull_request":{"number":7,"state":"closed","merged":true}}`,
			subscribed, Outcome{Event: "pull_request", Processed: true, PullRequest: &Item{Repository: "acme/api", Number: 7, State: StateMerged}}},
		{"pull request merged, told by merged_at", "pull_request",
			`{"action":"closed","repository":{"full_name":"acme/api"},"pull_request":{"number":7,"state":"closed","merged_at":"2024-01-01T00:00:00Z"}}`,
			subscribed, Outcome{Event: "pull_request", Processed: true, PullRequest: &Item{Repository: "acme/api", Number: 7, State: StateMerged}}},
		{"pull request closed", "pull_request",
			`{"action":"closed","repository":{"full_name":"acme/api"},"pull_request":{"number":7,"state":"closed","merged":false}}`,
			subscribed, Outcome{Event: "pull_request", Processed: true, PullRequest: &Item{Repository: "acme/api", Number: 7, State: StateClosed}}},
		{"issue with the label", "issues",
			`{"action":"labeled","repository":{"full_name":"acme/api"},"issue":{"number":101,"title":"Follow up","html_url":"u","state":"closed","labels":[{"name":"bug"},{"name":"experiment"}]}}`,
			subscribed, Outcome{Event: "issues", Processed: true, Issue: &Item{Repository: "acme/api", Number: 101, Title: "Follow up", URL: "u", State: StateClosed}}},
		{"issue without the label", "issues",
			`{"action":"unlabeled","repository":{"full_name":"acme/api"},"issue":{"number":101,"labels":[{"name":"bug"}]}}`,
			subscribed, Outcome{Event: "issues", Processed: true, UntrackIssue: &ItemKey{Repository: "acme/api", Number: 101}}},
		{"issue deleted", "issues",
			`{"action":"deleted","repository":{"full_name":"acme/api"},"issue":{"number":101,"labels":[{"name":"experiment"}]}}`,
			subscribed, Outcome{Event: "issues", Processed: true, UntrackIssue: &ItemKey{Repository: "acme/api", Number: 101}}},
		{"issue managed by a GitHubIssue, without links.issueLabel", "issues",
			`{"action":"closed","repository":{"full_name":"acme/api"},"issue":{"number":5,"title":"Review","html_url":"u","state":"closed","labels":[],"body":"Text\n\n<!-- hookwarden:githubissue uid=0b7c2f3e-6a51-4c55-9a8e-1f2d3c4b5a69 -->"}}`,
			Settings{Subscribed: true}, Outcome{Event: "issues", Processed: true, Issue: &Item{Repository: "acme/api", Number: 5, Title: "Review", URL: "u", State: StateClosed}}},
		{"issue managed by a GitHubIssue, without the label", "issues",
			`{"action":"edited","repository":{"full_name":"acme/api"},"issue":{"number":5,"title":"Review","html_url":"u","state":"open","labels":[{"name":"bug"}],"body":"<!-- hookwarden:githubissue uid=0b7c2f3e -->"}}`,
			subscribed, Outcome{Event: "issues", Processed: true, Issue: &Item{Repository: "acme/api", Number: 5, Title: "Review", URL: "u", State: StateOpen}}},
		{"issues without links.issueLabel", "issues",
			`{"action":"opened","repository":{"full_name":"acme/api"},"issue":{"number":101,"labels":[{"name":"experiment"}]}}`,
			Settings{Subscribed: true}, Outcome{Event: "issues", Processed: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Classify(validated(t, tc.event, tc.body), tc.settings)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Classify =\n %+v\nwant\n %+v", got, tc.want)
			}
		})
	}
}

// TestEveryHandledEventHasACase keeps the table and its test together: a
// new entry without a case above fails here.
func TestEveryHandledEventHasACase(t *testing.T) {
	tested := map[string]bool{"ping": true, "push": true, "pull_request": true, "issues": true}
	for event := range handled {
		if !tested[event] {
			t.Errorf("event %q has an entry in the table but no case in TestEventTable", event)
		}
	}
}

// TestPingAnswersItsHookID: a ping without X-GitHub-Hook-ID names its hook
// from the payload.
func TestPingAnswersItsHookID(t *testing.T) {
	d := validated(t, "ping", `{"zen":"x","hook_id":42,"hook":{"id":42}}`)
	if d.HookID != 42 {
		t.Errorf("hook ID = %d, want 42", d.HookID)
	}
}
