package githubsim

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// issuesEventJSON is the payload of an issues delivery: the action, the
// issue as the REST API shows it, the label of labeled/unlabeled, the
// repository and the sender. A simplification, not GitHub's published
// webhook schema: the repository carries the members the ping's does (as
// for pings), and edited events have no "changes" member.
type issuesEventJSON struct {
	Action     string         `json:"action"`
	Issue      issueJSON      `json:"issue"`
	Label      *labelJSON     `json:"label,omitempty"`
	Repository repositoryJSON `json:"repository"`
	Sender     accountJSON    `json:"sender"`
}

// issueEventsLocked returns the issues events GitHub sends for the change
// from before to is: opened (before nil), edited (title or body), closed or
// reopened, and labeled or unlabeled per label.
func (s *Server) issueEventsLocked(r *repoState, before *Issue, is *issueState, sender string, senderID int64) [][]byte {
	var actions []string
	var labels []*labelJSON
	issue := s.issueJSON(r, is)
	if before == nil {
		actions = append(actions, "opened")
	} else {
		if before.Title != is.title || before.Body != is.body {
			actions = append(actions, "edited")
		}
		if before.State != is.state {
			actions = append(actions, map[string]string{"closed": "closed", "open": "reopened"}[is.state])
		}
		now := is.snapshot().Labels
		for _, l := range issue.Labels {
			if !slices.Contains(before.Labels, l.Name) {
				actions = append(actions, "labeled")
				labels = append(labels, &l)
			}
		}
		for _, name := range before.Labels {
			if !slices.Contains(now, name) {
				lj := labelJSON{Name: name}
				if l, ok := r.labels[strings.ToLower(name)]; ok {
					lj = labelJSON{ID: l.id, NodeID: nodeID("LA_", l.id), URL: s.baseURL + "/repos/" + r.fullName + "/labels/" + l.name, Name: l.name, Color: l.color}
				}
				actions = append(actions, "unlabeled")
				labels = append(labels, &lj)
			}
		}
	}
	out := make([][]byte, 0, len(actions))
	li := 0
	for _, action := range actions {
		p := issuesEventJSON{Action: action, Issue: issue, Repository: s.repositoryJSONLocked(r),
			Sender: s.account(sender, senderID, "User")}
		if action == "labeled" || action == "unlabeled" {
			p.Label = labels[li]
			li++
		}
		raw, err := json.Marshal(p)
		if err != nil {
			panic("githubsim: encode issues event: " + err.Error())
		}
		out = append(out, raw)
	}
	return out
}

// deliverIssueEvents delivers issues events of a repository to its
// subscribed hooks, one after the other.
func (s *Server) deliverIssueEvents(fullName string, payloads [][]byte) {
	for _, p := range payloads {
		_, _ = s.TriggerEvent(fullName, "issues", p)
	}
}

// scheduleIssueEvents delivers the events after the API answer, as GitHub
// does, asynchronously.
func (s *Server) scheduleIssueEvents(c *call, fullName string, payloads [][]byte) {
	if len(payloads) == 0 {
		return
	}
	s.inflight.Add(1)
	c.after = append(c.after, func() {
		go func() {
			defer s.inflight.Done()
			s.deliverIssueEvents(fullName, payloads)
		}()
	})
}

// IssueEdit is a change a user makes to an issue on GitHub's web site; nil
// fields are left as they are.
type IssueEdit struct {
	Title  *string
	Body   *string
	State  *string
	Labels []string
}

// EditIssue changes an issue as a user on GitHub would and delivers the
// issues events GitHub sends for the change to the subscribed hooks before
// returning the issue.
func (s *Server) EditIssue(fullName string, number int, edit IssueEdit) (Issue, error) {
	s.mu.Lock()
	r, ok := s.repos[strings.ToLower(fullName)]
	var is *issueState
	if ok {
		is = r.issue(fmt.Sprint(number))
	}
	if is == nil {
		s.mu.Unlock()
		return Issue{}, fmt.Errorf("issue %s#%d: %w", fullName, number, ErrNotFound)
	}
	before := is.snapshot()
	req := &issueRequest{Body: edit.Body, State: edit.State}
	if edit.Title != nil {
		req.Title = *edit.Title
	}
	if edit.Labels != nil {
		req.Labels = make([]any, len(edit.Labels))
		for i, l := range edit.Labels {
			req.Labels[i] = l
		}
	}
	if fe := s.applyIssueRequestLocked(r, is, req); fe != nil {
		s.mu.Unlock()
		return Issue{}, fmt.Errorf("issue %s#%d: GitHub rejects the %s (%s)", fullName, number, fe.Field, fe.Code)
	}
	payloads := s.issueEventsLocked(r, &before, is, "octocat", 583231)
	out := is.snapshot()
	s.mu.Unlock()
	s.deliverIssueEvents(r.fullName, payloads)
	return out, nil
}
