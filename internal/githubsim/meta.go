package githubsim

import (
	"net/http"
	"slices"
)

// metaJSON is the part of components/schemas/api-overview the simulator
// serves.
type metaJSON struct {
	VerifiablePasswordAuthentication bool     `json:"verifiable_password_authentication"`
	Hooks                            []string `json:"hooks"`
	Web                              []string `json:"web"`
	API                              []string `json:"api"`
	Git                              []string `json:"git"`
}

// SetHookCIDRs replaces the "hooks" ranges that /meta serves.
func (s *Server) SetHookCIDRs(cidrs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hookCIDRs = slices.Clone(cidrs)
}

func (s *Server) getMeta(c *call) *response {
	s.mu.Lock()
	hooks := slices.Clone(s.hookCIDRs)
	s.mu.Unlock()
	return jsonResponse(http.StatusOK, metaJSON{
		Hooks: hooks,
		Web:   []string{"192.30.252.0/22", "185.199.108.0/22", "140.82.112.0/20", "143.55.64.0/20"},
		API:   []string{"192.30.252.0/22", "185.199.108.0/22", "140.82.112.0/20", "143.55.64.0/20"},
		Git:   []string{"192.30.252.0/22", "185.199.108.0/22", "140.82.112.0/20", "143.55.64.0/20"},
	})
}

type rateJSON struct {
	Limit     int    `json:"limit"`
	Used      int    `json:"used"`
	Remaining int    `json:"remaining"`
	Reset     int64  `json:"reset"`
	Resource  string `json:"resource,omitempty"`
}

type rateLimitJSON struct {
	Resources map[string]rateJSON `json:"resources"`
	Rate      rateJSON            `json:"rate"`
}

// getRateLimit reports the caller's budget; asking costs nothing.
func (s *Server) getRateLimit(c *call) *response {
	key, _ := c.principal.bucket()
	limit := s.opts.primary.Limit
	if c.principal.kind == anonymous {
		limit = anonymousLimit
	}
	st := s.limits.peek(key, limit)
	core := rateJSON{Limit: st.Limit, Used: st.Used, Remaining: st.Remaining, Reset: st.Reset.Unix()}
	search := rateJSON{Limit: 30, Remaining: 30, Reset: st.Reset.Unix()}
	return jsonResponse(http.StatusOK, rateLimitJSON{
		Resources: map[string]rateJSON{"core": core, "search": search},
		Rate:      core,
	})
}
