package githubsim

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-github/v60/github"
)

// issueDeliveries returns the action and issue of each issues delivery the
// receiver got.
func issueDeliveries(t *testing.T, rcv *receiver) (actions []string, issues []map[string]any) {
	t.Helper()
	for _, d := range rcv.received() {
		if d.Header.Get("X-GitHub-Event") != "issues" {
			continue
		}
		var p struct {
			Action string         `json:"action"`
			Issue  map[string]any `json:"issue"`
		}
		if err := json.Unmarshal(d.Body, &p); err != nil {
			t.Fatal(err)
		}
		actions = append(actions, p.Action)
		issues = append(issues, p.Issue)
	}
	return actions, issues
}

// Issues created and changed, through the API or by a user on GitHub, are
// delivered to the hooks subscribed to "issues", as GitHub does.
func TestIssueChangesAreDeliveredToHooks(t *testing.T) {
	sim := newTestServer(t)
	rcv := newReceiver(t)
	gh := githubClient(t, sim, adminToken)
	ctx := context.Background()
	if _, _, err := gh.Repositories.CreateHook(ctx, "acme", "demo", &github.Hook{
		Config: &github.HookConfig{URL: github.String(rcv.URL), ContentType: github.String("json"), Secret: github.String(testSecret)},
		Events: []string{"issues"},
	}); err != nil {
		t.Fatal(err)
	}
	is, _, err := gh.Issues.Create(ctx, "acme", "demo", &github.IssueRequest{Title: github.String("Review results")})
	if err != nil {
		t.Fatal(err)
	}
	sim.Drain()
	closed := "closed"
	if _, err := sim.EditIssue(testRepo, is.GetNumber(), IssueEdit{State: &closed, Labels: []string{"experiment"}}); err != nil {
		t.Fatal(err)
	}
	actions, issues := issueDeliveries(t, rcv)
	if want := []string{"opened", "closed", "labeled"}; !slices.Equal(actions, want) {
		t.Fatalf("issues deliveries %v, want %v", actions, want)
	}
	if issues[1]["state"] != "closed" || issues[0]["title"] != "Review results" {
		t.Errorf("delivered issues %v", issues)
	}
	got, err := sim.Issues(testRepo)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].State != "closed" || !slices.Equal(got[0].Labels, []string{"experiment"}) {
		t.Errorf("issue after the edit: %+v", got)
	}
	if _, err := sim.EditIssue(testRepo, 99, IssueEdit{State: &closed}); !errors.Is(err, ErrNotFound) {
		t.Errorf("EditIssue of a missing issue: %v, want ErrNotFound", err)
	}
}

// A lost answer: the request is carried out, but the client gets no answer.
func TestLostAnswerFaultCarriesOutTheRequest(t *testing.T) {
	sim := newTestServer(t)
	sim.SetFault("POST /repos/{owner}/{repo}/issues", Fault{LostAnswerRate: 1})
	gh := githubClient(t, sim, adminToken)
	if _, _, err := gh.Issues.Create(context.Background(), "acme", "demo", &github.IssueRequest{Title: github.String("x")}); err == nil {
		t.Fatal("create with its answer lost succeeded")
	}
	got, err := sim.Issues(testRepo)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Errorf("%d issues after a create whose answer was lost, want 1", len(got))
	}
	if st := sim.Stats(); st.Faults != 1 {
		t.Errorf("Stats().Faults = %d, want 1", st.Faults)
	}
}

// GitHub's hourly content-creation limit: once a token has made its
// mutations of the rolling hour, the next is refused with a secondary
// limit answer and a retry-after reaching to when the oldest leaves the
// hour, even though the per-minute window has room.
func TestHourlySecondaryLimitOnContentCreation(t *testing.T) {
	sim := newTestServer(t, WithSecondaryLimit(SecondaryLimit{MutationsPerMinute: 100, MutationsPerHour: 3}))
	create := func() (int, http.Header, []byte) {
		return apiRequest(t, sim, "POST", "/repos/acme/demo/issues", adminToken, map[string]any{"title": "x"})
	}
	for i := range 3 {
		if status, _, body := create(); status != 201 {
			t.Fatalf("create %d: %d %s", i, status, body)
		}
	}
	status, h, body := create()
	if status != 403 || !strings.Contains(string(body), "secondary rate limit") {
		t.Fatalf("4th creation in the hour: %d %s", status, body)
	}
	if secs, _ := strconv.Atoi(h.Get("Retry-After")); secs < 3500 {
		t.Errorf("Retry-After %q, want about an hour", h.Get("Retry-After"))
	}
	if got, _ := sim.Issues(testRepo); len(got) != 3 {
		t.Errorf("%d issues, want the 3 allowed", len(got))
	}
}
