package githubsim

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// zen are the sayings GitHub puts in ping payloads.
var zen = []string{
	"Responsive is better than fast.",
	"Keep it logically awesome.",
	"Design for failure.",
	"Practicality beats purity.",
	"Speak like a human.",
	"Avoid administrative distraction.",
	"Approachable is better than simple.",
	"Mind your words, they are important.",
	"Non-blocking is better than blocking.",
	"Favor focus over features.",
	"Anything added dilutes everything else.",
	"Half measures are as bad as nothing at all.",
	"It's not fully shipped until it's fast.",
	"Encourage flow.",
}

// pingHookJSON is the hook object of a ping payload.
type pingHookJSON struct {
	hookCoreJSON
	URL           string            `json:"url,omitempty"`
	TestURL       string            `json:"test_url,omitempty"`
	PingURL       string            `json:"ping_url,omitempty"`
	DeliveriesURL string            `json:"deliveries_url,omitempty"`
	LastResponse  *hookResponseJSON `json:"last_response,omitempty"`
	AppID         int64             `json:"app_id,omitempty"`
}

type accountJSON struct {
	Login     string `json:"login"`
	ID        int64  `json:"id"`
	NodeID    string `json:"node_id"`
	AvatarURL string `json:"avatar_url"`
	URL       string `json:"url"`
	HTMLURL   string `json:"html_url"`
	Type      string `json:"type"`
	SiteAdmin bool   `json:"site_admin"`
}

type repositoryJSON struct {
	ID       int64       `json:"id"`
	NodeID   string      `json:"node_id"`
	Name     string      `json:"name"`
	FullName string      `json:"full_name"`
	Private  bool        `json:"private"`
	Owner    accountJSON `json:"owner"`
	HTMLURL  string      `json:"html_url"`
	URL      string      `json:"url"`
}

type pingJSON struct {
	Zen          string          `json:"zen"`
	HookID       int64           `json:"hook_id"`
	Hook         pingHookJSON    `json:"hook"`
	Repository   *repositoryJSON `json:"repository,omitempty"`
	Organization *accountJSON    `json:"organization,omitempty"`
	Sender       accountJSON     `json:"sender"`
}

func (s *Server) account(login string, id int64, kind string) accountJSON {
	return accountJSON{
		Login: login, ID: id, NodeID: nodeID("O_", id), AvatarURL: fmt.Sprintf("https://avatars.githubusercontent.com/u/%d?v=4", id),
		URL: s.baseURL + "/users/" + login, HTMLURL: "https://github.com/" + login, Type: kind,
	}
}

func (s *Server) repositoryJSONLocked(r *repoState) repositoryJSON {
	return repositoryJSON{
		ID: r.id, NodeID: nodeID("R_", r.id), Name: r.name, FullName: r.fullName, Private: true,
		Owner:   s.account(r.owner.login, r.owner.id, "Organization"),
		HTMLURL: "https://github.com/" + r.fullName, URL: s.baseURL + "/repos/" + r.fullName,
	}
}

// nodeID returns a GraphQL-looking node ID.
func nodeID(prefix string, id int64) string {
	return prefix + "kgDO" + strings.ToUpper(strconv.FormatInt(id, 36))
}

// pingPayloadLocked builds the ping GitHub sends to a hook.
func (s *Server) pingPayloadLocked(h *hookState) []byte {
	hj := s.hookJSON(h)
	p := pingJSON{
		Zen:    zen[h.id%int64(len(zen))],
		HookID: h.id,
		Hook: pingHookJSON{
			hookCoreJSON: hj.hookCoreJSON, URL: hj.URL, TestURL: hj.TestURL,
			PingURL: hj.PingURL, DeliveriesURL: hj.DeliveriesURL, LastResponse: hj.LastResponse,
		},
		Sender: s.account("hookwarden-bot", 1, "User"),
	}
	switch h.owner.kind {
	case repoTarget:
		for _, r := range s.repos {
			if r.hooks == h.owner {
				repo := s.repositoryJSONLocked(r)
				p.Repository = &repo
			}
		}
	case orgTarget:
		org := s.account(h.owner.name, h.owner.id, "Organization")
		p.Organization = &org
	case appTarget:
		core := hj.hookCoreJSON
		core.Type, core.Name = "App", "web"
		p.Hook = pingHookJSON{hookCoreJSON: core, AppID: h.owner.id, DeliveriesURL: s.baseURL + "/app/hook/deliveries"}
	}
	out, err := json.Marshal(p)
	if err != nil {
		panic("githubsim: encode ping: " + err.Error())
	}
	return out
}

func (s *Server) deliverPing(h *hookState) (Delivery, error) {
	s.mu.Lock()
	payload := s.pingPayloadLocked(h)
	s.mu.Unlock()
	ev, err := newEvent("ping", payload)
	if err != nil {
		return Delivery{}, err
	}
	return s.deliver(h, ev, false), nil
}
