package githubsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// maskedSecret is what GitHub shows instead of a hook's secret.
const maskedSecret = "********"

// HookConfig is a hook's configuration, secret included.
type HookConfig struct {
	URL string
	// ContentType is "json" or "form".
	ContentType string
	Secret      string
	// InsecureSSL is "0" (verify TLS) or "1".
	InsecureSSL string
}

// HookResponse is a hook's last_response: the outcome of its latest
// delivery. Status is "unused" before the first delivery.
type HookResponse struct {
	Code    int
	Status  string
	Message string
}

// Hook is a snapshot of a webhook, secret included (the API never returns
// it).
type Hook struct {
	ID int64
	// Target is "owner/name", an organization login or AppTarget(id).
	Target       string
	Name         string
	Active       bool
	Events       []string
	Config       HookConfig
	CreatedAt    time.Time
	UpdatedAt    time.Time
	LastResponse HookResponse
}

type hookState struct {
	owner   *hookOwner
	id      int64
	name    string
	active  bool
	events  []string
	config  HookConfig
	created time.Time
	updated time.Time
	last    HookResponse
	log     []*Delivery // oldest first
}

func (h *hookState) snapshot() Hook {
	last := h.last
	if last.Status == "" {
		last.Status = "unused"
	}
	return Hook{
		ID: h.id, Target: h.owner.name, Name: h.name, Active: h.active, Events: slices.Clone(h.events),
		Config: h.config, CreatedAt: h.created, UpdatedAt: h.updated, LastResponse: last,
	}
}

// subscribed reports whether the hook fires for event.
func (h *hookState) subscribed(event string) bool {
	return h.active && (slices.Contains(h.events, event) || slices.Contains(h.events, "*"))
}

// hookCoreJSON is what every hook object GitHub sends holds: the REST
// API's hooks and the hook of a ping payload.
type hookCoreJSON struct {
	Type      string         `json:"type"`
	ID        int64          `json:"id"`
	Name      string         `json:"name"`
	Active    bool           `json:"active"`
	Events    []string       `json:"events"`
	Config    hookConfigJSON `json:"config"`
	UpdatedAt string         `json:"updated_at"`
	CreatedAt string         `json:"created_at"`
}

// hookJSON is components/schemas/hook (repositories) and org-hook.
type hookJSON struct {
	hookCoreJSON
	URL           string            `json:"url"`
	TestURL       string            `json:"test_url,omitempty"`
	PingURL       string            `json:"ping_url"`
	DeliveriesURL string            `json:"deliveries_url"`
	LastResponse  *hookResponseJSON `json:"last_response,omitempty"`
}

// hookConfigJSON is components/schemas/webhook-config, secret masked.
type hookConfigJSON struct {
	ContentType string `json:"content_type,omitempty"`
	InsecureSSL string `json:"insecure_ssl,omitempty"`
	Secret      string `json:"secret,omitempty"`
	URL         string `json:"url,omitempty"`
}

type hookResponseJSON struct {
	Code    *int    `json:"code"`
	Status  string  `json:"status"`
	Message *string `json:"message"`
}

func maskConfig(c HookConfig) hookConfigJSON {
	out := hookConfigJSON{ContentType: c.ContentType, InsecureSSL: c.InsecureSSL, URL: c.URL}
	if c.Secret != "" {
		out.Secret = maskedSecret
	}
	return out
}

func (s *Server) hookJSON(h *hookState) hookJSON {
	self := s.baseURL + h.owner.path + "/" + strconv.FormatInt(h.id, 10)
	out := hookJSON{
		hookCoreJSON: hookCoreJSON{Type: "Repository", ID: h.id, Name: h.name, Active: h.active, Events: slices.Clone(h.events),
			Config: maskConfig(h.config), UpdatedAt: timestamp(h.updated), CreatedAt: timestamp(h.created)},
		URL: self, PingURL: self + "/pings", DeliveriesURL: self + "/deliveries",
	}
	if h.owner.kind == orgTarget {
		out.Type = "Organization"
		return out
	}
	out.TestURL = self + "/test"
	last := &hookResponseJSON{Status: "unused"}
	if h.last.Status != "" {
		code, msg := h.last.Code, h.last.Message
		last = &hookResponseJSON{Code: &code, Status: h.last.Status, Message: &msg}
	}
	out.LastResponse = last
	return out
}

// Validation messages. "Hook already exists on this repository" is the
// message GitHub sends; the others follow GitHub's error format with the
// wording of GitHub's documentation where it has one.
func duplicateHookError(kind targetKind) fieldError {
	where := "repository"
	if kind == orgTarget {
		where = "organization"
	}
	return fieldError{Resource: "Hook", Code: "custom", Message: "Hook already exists on this " + where}
}

var (
	errHookURLMissing = fieldError{Resource: "Hook", Code: "custom", Message: "Config must contain URL for webhooks"}
	errHookURLInvalid = fieldError{Resource: "Hook", Code: "custom",
		Message: "The URL you've entered is not valid. Please make sure that you encode all special characters first"}
	errHookName        = fieldError{Resource: "Hook", Field: "name", Code: "invalid"}
	errHookContentType = fieldError{Resource: "Hook", Field: "content_type", Code: "invalid",
		Message: "Content type must be either json or form"}
	errHookInsecureSSL = fieldError{Resource: "Hook", Field: "insecure_ssl", Code: "invalid",
		Message: "Insecure SSL must be either 0 or 1"}
)

func errHookEvent(name string) fieldError {
	return fieldError{Resource: "Hook", Field: "events", Code: "invalid", Message: fmt.Sprintf("Invalid event: %q", name)}
}

// errTooManyHooks is GitHub's answer to a 21st hook for an event on one
// target. GitHub documents the limit ("You can create up to 20 webhooks for
// each event on each installation target") but not the answer; the wording
// is the one users report from GitHub (a guess as to every detail of the
// error object beyond its message).
func errTooManyHooks(event string) fieldError {
	return fieldError{Resource: "Hook", Code: "custom",
		Message: fmt.Sprintf("The %q event cannot have more than %d hooks", event, MaxHooksPerEvent)}
}

// configPatch is a parsed webhook-config request object: nil fields were
// absent.
type configPatch struct {
	URL, ContentType, Secret, InsecureSSL *string
}

func parseConfigPatch(raw map[string]any) (configPatch, *fieldError) {
	var p configPatch
	str := func(key string) (*string, bool) {
		v, ok := raw[key]
		if !ok || v == nil {
			return nil, true
		}
		switch t := v.(type) {
		case string:
			return &t, true
		case float64:
			s := strconv.FormatFloat(t, 'f', -1, 64)
			return &s, true
		case bool:
			s := "0"
			if t {
				s = "1"
			}
			return &s, true
		}
		return nil, false
	}
	var ok bool
	if p.URL, ok = str("url"); !ok {
		return p, &errHookURLInvalid
	}
	if p.ContentType, ok = str("content_type"); !ok {
		return p, &errHookContentType
	}
	if p.Secret, ok = str("secret"); !ok {
		return p, &fieldError{Resource: "Hook", Field: "secret", Code: "invalid"}
	}
	if p.InsecureSSL, ok = str("insecure_ssl"); !ok {
		return p, &errHookInsecureSSL
	}
	return p, nil
}

// apply merges the patch into c and validates the result.
func (p configPatch) apply(c HookConfig) (HookConfig, *fieldError) {
	if p.URL != nil {
		c.URL = *p.URL
	}
	if p.ContentType != nil {
		c.ContentType = *p.ContentType
	}
	if p.Secret != nil {
		c.Secret = *p.Secret
	}
	if p.InsecureSSL != nil {
		c.InsecureSSL = *p.InsecureSSL
	}
	if c.ContentType == "" {
		c.ContentType = "form" // GitHub's default
	}
	if c.InsecureSSL == "" {
		c.InsecureSSL = "0"
	}
	if c.URL == "" {
		return c, &errHookURLMissing
	}
	if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return c, &errHookURLInvalid
	}
	if c.ContentType != "json" && c.ContentType != "form" {
		return c, &errHookContentType
	}
	if c.InsecureSSL != "0" && c.InsecureSSL != "1" {
		return c, &errHookInsecureSSL
	}
	return c, nil
}

// hookRequest is the body of create and update requests.
type hookRequest struct {
	Name         *string        `json:"name"`
	Config       map[string]any `json:"config"`
	Events       []string       `json:"events"`
	AddEvents    []string       `json:"add_events"`
	RemoveEvents []string       `json:"remove_events"`
	Active       *bool          `json:"active"`
}

func decodeBody(c *call, into any) *response {
	if len(strings.TrimSpace(string(c.body))) == 0 {
		return nil
	}
	if err := json.Unmarshal(c.body, into); err != nil {
		return problemsParsingJSON(c.docURL())
	}
	return nil
}

// writeRequest is the start of a hook write: what resolve finds for a
// caller allowed to write, then the decoded body. The body is decoded only
// after resolving, so a caller who may not write gets resolve's answer
// whatever the body holds.
func writeRequest[B, T any](c *call, resolve func(*call, string) (T, *response)) (T, B, *response) {
	var body B
	found, resp := resolve(c, PermWrite)
	if resp == nil {
		resp = decodeBody(c, &body)
	}
	return found, body, resp
}

func validateEvents(events []string) *fieldError {
	for _, e := range events {
		if !KnownEvent(e) {
			fe := errHookEvent(e)
			return &fe
		}
	}
	return nil
}

// validateHookLocked checks the rules that involve the target's other hooks.
func validateHookLocked(owner *hookOwner, self int64, cfg HookConfig, events []string) *fieldError {
	for _, other := range owner.hooks {
		if other.id != self && other.config.URL == cfg.URL {
			fe := duplicateHookError(owner.kind)
			return &fe
		}
	}
	for _, e := range events {
		n := 1
		for _, other := range owner.hooks {
			if other.id != self && slices.Contains(other.events, e) {
				n++
			}
		}
		if n > MaxHooksPerEvent {
			fe := errTooManyHooks(e)
			return &fe
		}
	}
	return nil
}

// resolveOwner finds the hook owner of a repository, organization or App
// route and checks the caller may perform an operation needing level
// ("read", "write" or "admin" for delete).
func (s *Server) resolveOwner(c *call, level string) (*hookOwner, *response) {
	if c.principal.kind == appPrincipal {
		return c.principal.app.hook.owner, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if org := c.param("org"); org != "" {
		o := s.orgs[strings.ToLower(org)]
		reachable := o != nil && c.principal.kind == tokenPrincipal && c.principal.token.canReachOrg(org)
		n := needOrgHooksRead
		if level != PermRead {
			n = needOrgHooksWrite
		}
		if resp := s.authorize(c, reachable, n); resp != nil {
			return nil, resp
		}
		return o.hooks, nil
	}
	fullName := c.param("owner") + "/" + c.param("repo")
	r := s.repos[strings.ToLower(fullName)]
	reachable := r != nil && c.principal.kind == tokenPrincipal && c.principal.token.canReachRepo(fullName)
	n := needRepoHooksRead
	switch level {
	case PermWrite:
		n = needRepoHooksWrite
	case "admin":
		n = needRepoHooksAdmin
	}
	if resp := s.authorize(c, reachable, n); resp != nil {
		return nil, resp
	}
	return r.hooks, nil
}

// resolveHook finds the hook named by the route (the App's own hook for App
// routes). The caller holds no lock; the returned hook must be read under
// s.mu.
func (s *Server) resolveHook(c *call, level string) (*hookState, *response) {
	owner, resp := s.resolveOwner(c, level)
	if resp != nil {
		return nil, resp
	}
	if owner.kind == appTarget {
		return owner.hooks[0], nil
	}
	id, err := strconv.ParseInt(c.param("hook_id"), 10, 64)
	if err != nil {
		return nil, notFound(c.docURL())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	h := owner.hook(id)
	if h == nil {
		return nil, notFound(c.docURL())
	}
	return h, nil
}

func (s *Server) listHooks(c *call) *response {
	owner, resp := s.resolveOwner(c, PermRead)
	if resp != nil {
		return resp
	}
	perPage, page := pageParams(c.r)
	s.mu.Lock()
	all := make([]hookJSON, 0, len(owner.hooks))
	for _, h := range owner.hooks {
		all = append(all, s.hookJSON(h))
	}
	s.mu.Unlock()
	items, link := paginate(s.baseURL, c.r, all, perPage, page)
	resp = jsonResponse(http.StatusOK, items)
	if link != "" {
		resp.header.Set("Link", link)
	}
	return resp
}

func (s *Server) createHook(c *call) *response {
	owner, req, resp := writeRequest[hookRequest](c, s.resolveOwner)
	if resp != nil {
		return resp
	}
	if req.Name != nil && *req.Name != "web" {
		return validationFailed(c.docURL(), errHookName)
	}
	patch, fe := parseConfigPatch(req.Config)
	if fe != nil {
		return validationFailed(c.docURL(), *fe)
	}
	cfg, fe := patch.apply(HookConfig{})
	if fe != nil {
		return validationFailed(c.docURL(), *fe)
	}
	events := req.Events
	if events == nil {
		events = []string{"push"}
	}
	events = normalizeEvents(events)
	if fe := validateEvents(events); fe != nil {
		return validationFailed(c.docURL(), *fe)
	}
	active := req.Active == nil || *req.Active

	s.mu.Lock()
	if fe := validateHookLocked(owner, 0, cfg, events); fe != nil {
		s.mu.Unlock()
		return validationFailed(c.docURL(), *fe)
	}
	h := s.addHookLocked(owner, cfg, events, active)
	body := s.hookJSON(h)
	s.mu.Unlock()

	if active {
		s.schedulePing(c, h)
	}
	resp = jsonResponse(http.StatusCreated, body)
	resp.header.Set("Location", body.URL)
	return resp
}

func (s *Server) addHookLocked(owner *hookOwner, cfg HookConfig, events []string, active bool) *hookState {
	now := s.now()
	h := &hookState{
		owner: owner, id: s.nextID(&s.ids.hook), name: "web", active: active, events: events,
		config: cfg, created: now, updated: now,
	}
	owner.hooks = append(owner.hooks, h)
	return h
}

// schedulePing delivers the ping GitHub sends when a hook is created:
// after the answer, or before it with WithSyncPings.
func (s *Server) schedulePing(c *call, h *hookState) {
	if s.opts.syncPings {
		_, _ = s.deliverPing(h)
		return
	}
	s.inflight.Add(1)
	c.after = append(c.after, func() {
		go func() {
			defer s.inflight.Done()
			_, _ = s.deliverPing(h)
		}()
	})
}

func (s *Server) getHook(c *call) *response {
	h, resp := s.resolveHook(c, PermRead)
	return s.answerRead(resp, func() any { return s.hookJSON(h) })
}

// answerRead ends a read: resp when resolving what was asked for failed,
// else 200 with view's JSON, taken under s.mu.
func (s *Server) answerRead(resp *response, view func() any) *response {
	if resp != nil {
		return resp
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return jsonResponse(http.StatusOK, view())
}

func (s *Server) updateHook(c *call) *response {
	h, req, resp := writeRequest[hookRequest](c, s.resolveHook)
	if resp != nil {
		return resp
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cfg := h.config
	if req.Config != nil {
		// GitHub replaces the whole config: a secret not sent again is
		// removed.
		patch, fe := parseConfigPatch(req.Config)
		if fe != nil {
			return validationFailed(c.docURL(), *fe)
		}
		if cfg, fe = patch.apply(HookConfig{}); fe != nil {
			return validationFailed(c.docURL(), *fe)
		}
	}
	events := slices.Clone(h.events)
	if req.Events != nil {
		events = slices.Clone(req.Events)
	}
	for _, e := range req.AddEvents {
		if !slices.Contains(events, e) {
			events = append(events, e)
		}
	}
	events = slices.DeleteFunc(events, func(e string) bool { return slices.Contains(req.RemoveEvents, e) })
	events = normalizeEvents(events)
	if fe := validateEvents(events); fe != nil {
		return validationFailed(c.docURL(), *fe)
	}
	if fe := validateHookLocked(h.owner, h.id, cfg, events); fe != nil {
		return validationFailed(c.docURL(), *fe)
	}
	h.config = cfg
	h.events = events
	if req.Active != nil {
		h.active = *req.Active
	}
	h.updated = s.now()
	return jsonResponse(http.StatusOK, s.hookJSON(h))
}

func (s *Server) deleteHook(c *call) *response {
	h, resp := s.resolveHook(c, "admin")
	if resp != nil {
		return resp
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	h.owner.remove(h.id)
	return noContent()
}

func (s *Server) getHookConfig(c *call) *response {
	h, resp := s.resolveHook(c, PermRead)
	return s.answerRead(resp, func() any { return maskConfig(h.config) })
}

func (s *Server) updateHookConfig(c *call) *response {
	h, raw, resp := writeRequest[map[string]any](c, s.resolveHook)
	if resp != nil {
		return resp
	}
	patch, fe := parseConfigPatch(raw)
	if fe != nil {
		return validationFailed(c.docURL(), *fe)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cfg, fe := patch.apply(h.config)
	if fe != nil {
		return validationFailed(c.docURL(), *fe)
	}
	if fe := validateHookLocked(h.owner, h.id, cfg, h.events); fe != nil {
		return validationFailed(c.docURL(), *fe)
	}
	h.config = cfg
	h.updated = s.now()
	return jsonResponse(http.StatusOK, maskConfig(h.config))
}

func (s *Server) getAppHookConfig(c *call) *response    { return s.getHookConfig(c) }
func (s *Server) updateAppHookConfig(c *call) *response { return s.updateHookConfig(c) }

func (s *Server) pingHook(c *call) *response {
	h, resp := s.resolveHook(c, PermWrite)
	if resp != nil {
		return resp
	}
	s.inflight.Add(1)
	c.after = append(c.after, func() {
		go func() {
			defer s.inflight.Done()
			_, _ = s.deliverPing(h)
		}()
	})
	return noContent()
}

func normalizeEvents(events []string) []string {
	out := make([]string, 0, len(events))
	for _, e := range events {
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	return out
}

// Hooks returns snapshots of a target's hooks ("owner/name", organization
// login or AppTarget(id)), secrets included, in creation order.
func (s *Server) Hooks(target string) ([]Hook, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	owner, err := s.ownerLocked(target)
	if err != nil {
		return nil, err
	}
	out := make([]Hook, 0, len(owner.hooks))
	for _, h := range owner.hooks {
		out = append(out, h.snapshot())
	}
	return out, nil
}

// hookLocked finds one hook of target for the Go API; s.mu must be held.
func (s *Server) hookLocked(target string, id int64) (*hookState, error) {
	owner, err := s.ownerLocked(target)
	if err != nil {
		return nil, err
	}
	h := owner.hook(id)
	if h == nil {
		return nil, fmt.Errorf("hook %d on %s: %w", id, target, ErrNotFound)
	}
	return h, nil
}

// Hook returns a snapshot of one hook, secret included.
func (s *Server) Hook(target string, id int64) (Hook, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, err := s.hookLocked(target, id)
	if err != nil {
		return Hook{}, err
	}
	return h.snapshot(), nil
}

// SetHook creates (h.ID == 0) or replaces a hook directly, as someone using
// GitHub's web interface would, without validation, ping or rate limit.
// Defaults: name "web", content type "form", insecure_ssl "0", events
// ["push"].
func (s *Server) SetHook(target string, h Hook) (Hook, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	owner, err := s.ownerLocked(target)
	if err != nil {
		return Hook{}, err
	}
	if h.Config.ContentType == "" {
		h.Config.ContentType = "form"
	}
	if h.Config.InsecureSSL == "" {
		h.Config.InsecureSSL = "0"
	}
	if h.Events == nil {
		h.Events = []string{"push"}
	}
	if h.ID == 0 {
		return s.addHookLocked(owner, h.Config, slices.Clone(h.Events), h.Active).snapshot(), nil
	}
	existing := owner.hook(h.ID)
	if existing == nil {
		return Hook{}, fmt.Errorf("hook %d on %s: %w", h.ID, target, ErrNotFound)
	}
	existing.active = h.Active
	existing.events = slices.Clone(h.Events)
	existing.config = h.Config
	existing.updated = s.now()
	return existing.snapshot(), nil
}

// EditHook changes a hook directly (drift behind a client's back): edit
// receives a snapshot and its changes to Active, Events and Config are
// applied, and updated_at moves.
func (s *Server) EditHook(target string, id int64, edit func(*Hook)) (Hook, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, err := s.hookLocked(target, id)
	if err != nil {
		return Hook{}, err
	}
	snap := h.snapshot()
	edit(&snap)
	h.active = snap.Active
	h.events = slices.Clone(snap.Events)
	h.config = snap.Config
	h.updated = s.now()
	return h.snapshot(), nil
}

// DeleteHook removes a hook directly.
func (s *Server) DeleteHook(target string, id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	owner, err := s.ownerLocked(target)
	if err != nil {
		return err
	}
	if owner.kind == appTarget || !owner.remove(id) {
		return fmt.Errorf("hook %d on %s: %w", id, target, ErrNotFound)
	}
	return nil
}
