package githubsim

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

type labelState struct {
	id    int64
	name  string
	color string
}

type issueState struct {
	id          int64
	number      int
	title       string
	body        string
	state       string
	stateReason string
	labels      []*labelState
	user        string
	userID      int64
	created     time.Time
	updated     time.Time
	closed      time.Time
}

// Issue is a snapshot of an issue.
type Issue struct {
	Number      int
	Title       string
	Body        string
	State       string
	StateReason string
	Labels      []string
	CreatedAt   time.Time
	UpdatedAt   time.Time
	ClosedAt    time.Time
}

type userJSON struct {
	Login             string `json:"login"`
	ID                int64  `json:"id"`
	NodeID            string `json:"node_id"`
	AvatarURL         string `json:"avatar_url"`
	GravatarID        string `json:"gravatar_id"`
	URL               string `json:"url"`
	HTMLURL           string `json:"html_url"`
	FollowersURL      string `json:"followers_url"`
	FollowingURL      string `json:"following_url"`
	GistsURL          string `json:"gists_url"`
	StarredURL        string `json:"starred_url"`
	SubscriptionsURL  string `json:"subscriptions_url"`
	OrganizationsURL  string `json:"organizations_url"`
	ReposURL          string `json:"repos_url"`
	EventsURL         string `json:"events_url"`
	ReceivedEventsURL string `json:"received_events_url"`
	Type              string `json:"type"`
	SiteAdmin         bool   `json:"site_admin"`
}

type labelJSON struct {
	ID          int64   `json:"id"`
	NodeID      string  `json:"node_id"`
	URL         string  `json:"url"`
	Name        string  `json:"name"`
	Description *string `json:"description"`
	Color       string  `json:"color"`
	Default     bool    `json:"default"`
}

// issueJSON is components/schemas/issue (the fields GitHub always sends).
type issueJSON struct {
	URL               string      `json:"url"`
	RepositoryURL     string      `json:"repository_url"`
	LabelsURL         string      `json:"labels_url"`
	CommentsURL       string      `json:"comments_url"`
	EventsURL         string      `json:"events_url"`
	HTMLURL           string      `json:"html_url"`
	ID                int64       `json:"id"`
	NodeID            string      `json:"node_id"`
	Number            int         `json:"number"`
	Title             string      `json:"title"`
	User              userJSON    `json:"user"`
	Labels            []labelJSON `json:"labels"`
	State             string      `json:"state"`
	Locked            bool        `json:"locked"`
	Assignee          *userJSON   `json:"assignee"`
	Assignees         []userJSON  `json:"assignees"`
	Milestone         *struct{}   `json:"milestone"`
	Comments          int         `json:"comments"`
	CreatedAt         string      `json:"created_at"`
	UpdatedAt         string      `json:"updated_at"`
	ClosedAt          *string     `json:"closed_at"`
	AuthorAssociation string      `json:"author_association"`
	ActiveLockReason  *string     `json:"active_lock_reason"`
	Body              *string     `json:"body"`
	ClosedBy          *userJSON   `json:"closed_by"`
	StateReason       *string     `json:"state_reason"`
}

func (s *Server) userJSON(login string, id int64) userJSON {
	u := s.baseURL + "/users/" + login
	return userJSON{
		Login: login, ID: id, NodeID: nodeID("U_", id),
		AvatarURL: fmt.Sprintf("https://avatars.githubusercontent.com/u/%d?v=4", id),
		URL:       u, HTMLURL: "https://github.com/" + login,
		FollowersURL: u + "/followers", FollowingURL: u + "/following{/other_user}",
		GistsURL: u + "/gists{/gist_id}", StarredURL: u + "/starred{/owner}{/repo}",
		SubscriptionsURL: u + "/subscriptions", OrganizationsURL: u + "/orgs", ReposURL: u + "/repos",
		EventsURL: u + "/events{/privacy}", ReceivedEventsURL: u + "/received_events", Type: "User",
	}
}

func (s *Server) issueJSON(r *repoState, is *issueState) issueJSON {
	repoURL := s.baseURL + "/repos/" + r.fullName
	self := repoURL + "/issues/" + strconv.Itoa(is.number)
	out := issueJSON{
		URL: self, RepositoryURL: repoURL, LabelsURL: self + "/labels{/name}", CommentsURL: self + "/comments",
		EventsURL: self + "/events", HTMLURL: "https://github.com/" + r.fullName + "/issues/" + strconv.Itoa(is.number),
		ID: is.id, NodeID: nodeID("I_", is.id), Number: is.number, Title: is.title,
		User: s.userJSON(is.user, is.userID), Labels: []labelJSON{}, State: is.state,
		Assignees: []userJSON{}, CreatedAt: timestamp(is.created), UpdatedAt: timestamp(is.updated),
		AuthorAssociation: "MEMBER",
	}
	for _, l := range is.labels {
		out.Labels = append(out.Labels, labelJSON{
			ID: l.id, NodeID: nodeID("LA_", l.id), URL: repoURL + "/labels/" + l.name, Name: l.name, Color: l.color,
		})
	}
	if is.body != "" {
		body := is.body
		out.Body = &body
	}
	if is.state == "closed" {
		closed := timestamp(is.closed)
		out.ClosedAt = &closed
		by := s.userJSON(is.user, is.userID)
		out.ClosedBy = &by
	}
	if is.stateReason != "" {
		reason := is.stateReason
		out.StateReason = &reason
	}
	return out
}

func (is *issueState) snapshot() Issue {
	out := Issue{
		Number: is.number, Title: is.title, Body: is.body, State: is.state, StateReason: is.stateReason,
		CreatedAt: is.created, UpdatedAt: is.updated, ClosedAt: is.closed, Labels: []string{},
	}
	for _, l := range is.labels {
		out.Labels = append(out.Labels, l.name)
	}
	return out
}

// resolveRepo finds the route's repository and checks the caller may
// perform an operation needing n.
func (s *Server) resolveRepo(c *call, n need) (*repoState, *response) {
	fullName := c.param("owner") + "/" + c.param("repo")
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[strings.ToLower(fullName)]
	reachable := r != nil && c.principal.kind == tokenPrincipal && c.principal.token.canReachRepo(fullName)
	if resp := s.authorize(c, reachable, n); resp != nil {
		return nil, resp
	}
	return r, nil
}

func (r *repoState) issue(number string) *issueState {
	n, err := strconv.Atoi(number)
	if err != nil {
		return nil
	}
	for _, is := range r.issues {
		if is.number == n {
			return is
		}
	}
	return nil
}

// labelsFromRequest turns a labels array (names or {name: ...} objects) into
// the repository's labels, creating missing ones as GitHub does for users
// with push access.
func (s *Server) labelsFromRequestLocked(r *repoState, raw []any) ([]*labelState, *fieldError) {
	out := []*labelState{}
	for _, item := range raw {
		var name string
		switch v := item.(type) {
		case string:
			name = v
		case map[string]any:
			name, _ = v["name"].(string)
		}
		if strings.TrimSpace(name) == "" {
			return nil, &fieldError{Resource: "Label", Field: "name", Code: "missing_field"}
		}
		l, ok := r.labels[strings.ToLower(name)]
		if !ok {
			l = &labelState{id: s.nextID(&s.ids.label), name: name, color: "ededed"}
			r.labels[strings.ToLower(name)] = l
		}
		if !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	return out, nil
}

type issueRequest struct {
	Title       any     `json:"title"`
	Body        *string `json:"body"`
	State       *string `json:"state"`
	StateReason *string `json:"state_reason"`
	Labels      []any   `json:"labels"`
}

func titleOf(v any) (string, bool) {
	switch t := v.(type) {
	case string:
		return t, true
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64), true
	}
	return "", false
}

// issueWrite resolves the repository of an issue write the caller may make
// and decodes its body.
func (s *Server) issueWrite(c *call) (*repoState, *issueRequest, *response) {
	r, resp := s.resolveRepo(c, needIssuesWrite)
	if resp != nil {
		return nil, nil, resp
	}
	req := &issueRequest{}
	if resp := decodeBody(c, req); resp != nil {
		return nil, nil, resp
	}
	return r, req, nil
}

func (s *Server) createIssue(c *call) *response {
	r, req, resp := s.issueWrite(c)
	if resp != nil {
		return resp
	}
	title, ok := titleOf(req.Title)
	if !ok || strings.TrimSpace(title) == "" {
		return validationFailed(c.docURL(), fieldError{Resource: "Issue", Field: "title", Code: "missing_field"})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	labels, fe := s.labelsFromRequestLocked(r, req.Labels)
	if fe != nil {
		return validationFailed(c.docURL(), *fe)
	}
	now := s.now()
	r.nextNumber++
	t := c.principal.token
	is := &issueState{
		id: s.nextID(&s.ids.issue), number: r.nextNumber, title: title, state: "open", labels: labels,
		user: t.Login, userID: t.UserID, created: now, updated: now,
	}
	if req.Body != nil {
		is.body = *req.Body
	}
	r.issues = append(r.issues, is)
	body := s.issueJSON(r, is)
	resp = jsonResponse(http.StatusCreated, body)
	resp.header.Set("Location", body.URL)
	s.scheduleIssueEvents(c, r.fullName, s.issueEventsLocked(r, nil, is, t.Login, t.UserID))
	return resp
}

func (s *Server) getIssue(c *call) *response {
	r, resp := s.resolveRepo(c, needIssuesRead)
	if resp != nil {
		return resp
	}
	return s.withIssue(c, r, func(is *issueState) *response {
		return jsonResponse(http.StatusOK, s.issueJSON(r, is))
	})
}

// withIssue runs f, under the lock, on the issue the call names; 404 when
// the repository has no such issue.
func (s *Server) withIssue(c *call, r *repoState, f func(*issueState) *response) *response {
	s.mu.Lock()
	defer s.mu.Unlock()
	is := r.issue(c.param("issue_number"))
	if is == nil {
		return notFound(c.docURL())
	}
	return f(is)
}

func (s *Server) updateIssue(c *call) *response {
	r, req, resp := s.issueWrite(c)
	if resp != nil {
		return resp
	}
	return s.withIssue(c, r, func(is *issueState) *response { return s.updateIssueLocked(c, r, is, req) })
}

// updateIssueLocked applies an update request to an issue.
func (s *Server) updateIssueLocked(c *call, r *repoState, is *issueState, req *issueRequest) *response {
	before := is.snapshot()
	if fe := s.applyIssueRequestLocked(r, is, req); fe != nil {
		return validationFailed(c.docURL(), *fe)
	}
	t := c.principal.token
	s.scheduleIssueEvents(c, r.fullName, s.issueEventsLocked(r, &before, is, t.Login, t.UserID))
	return jsonResponse(http.StatusOK, s.issueJSON(r, is))
}

// applyIssueRequestLocked changes the issue as the request says, or
// changes nothing and returns the field GitHub would reject.
func (s *Server) applyIssueRequestLocked(r *repoState, is *issueState, req *issueRequest) *fieldError {
	title := is.title
	if req.Title != nil {
		t, ok := titleOf(req.Title)
		if !ok || strings.TrimSpace(t) == "" {
			return &fieldError{Resource: "Issue", Field: "title", Code: "missing_field"}
		}
		title = t
	}
	if req.State != nil && *req.State != "open" && *req.State != "closed" {
		return &fieldError{Resource: "Issue", Field: "state", Code: "invalid"}
	}
	labels := is.labels
	if req.Labels != nil {
		l, fe := s.labelsFromRequestLocked(r, req.Labels)
		if fe != nil {
			return fe
		}
		labels = l
	}
	is.title, is.labels = title, labels
	if req.Body != nil {
		is.body = *req.Body
	}
	now := s.now()
	if req.State != nil && *req.State != is.state {
		if *req.State == "closed" {
			is.state, is.closed, is.stateReason = "closed", now, "completed"
			if req.StateReason != nil && *req.StateReason != "" {
				is.stateReason = *req.StateReason
			}
		} else {
			is.state, is.closed, is.stateReason = "open", time.Time{}, "reopened"
		}
	}
	is.updated = now
	return nil
}

func (s *Server) listIssues(c *call) *response {
	r, resp := s.resolveRepo(c, needIssuesRead)
	if resp != nil {
		return resp
	}
	q := c.r.URL.Query()
	state := q.Get("state")
	if state == "" {
		state = "open"
	}
	var wantLabels []string
	if l := q.Get("labels"); l != "" {
		for _, name := range strings.Split(l, ",") {
			wantLabels = append(wantLabels, strings.ToLower(strings.TrimSpace(name)))
		}
	}
	perPage, page := pageParams(c.r)
	s.mu.Lock()
	var all []issueJSON
	matching := slices.Clone(r.issues)
	sort.SliceStable(matching, func(i, j int) bool {
		if q.Get("direction") == "asc" {
			return matching[i].number < matching[j].number
		}
		return matching[i].number > matching[j].number
	})
	for _, is := range matching {
		if state != "all" && is.state != state {
			continue
		}
		if !hasLabels(is, wantLabels) {
			continue
		}
		all = append(all, s.issueJSON(r, is))
	}
	s.mu.Unlock()
	if all == nil {
		all = []issueJSON{}
	}
	items, link := paginate(s.baseURL, c.r, all, perPage, page)
	resp = jsonResponse(http.StatusOK, items)
	if link != "" {
		resp.header.Set("Link", link)
	}
	return resp
}

func hasLabels(is *issueState, want []string) bool {
	for _, w := range want {
		if !slices.ContainsFunc(is.labels, func(l *labelState) bool { return strings.ToLower(l.name) == w }) {
			return false
		}
	}
	return true
}

// Issues returns snapshots of a repository's issues, by number.
func (s *Server) Issues(fullName string) ([]Issue, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.repos[strings.ToLower(fullName)]
	if !ok {
		return nil, fmt.Errorf("repository %q: %w", fullName, ErrNotFound)
	}
	out := make([]Issue, 0, len(r.issues))
	for _, is := range r.issues {
		out = append(out, is.snapshot())
	}
	return out, nil
}
