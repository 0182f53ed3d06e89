package githubsim

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// maxRequestBody caps what the simulator reads of a request body.
const maxRequestBody = 25 << 20

// call is one API request on its way through the simulator.
type call struct {
	r         *http.Request
	id        string
	route     *route
	principal *principal
	// authFailure is the answer to a request that failed authentication.
	authFailure *response
	body        []byte
	// Set by authorize for the X-Accepted-* headers.
	acceptedScopes      string
	acceptedPermissions string
	rateLimited         bool
	// after runs once the answer is written (asynchronous deliveries).
	after []func()
}

func (c *call) param(name string) string { return c.r.PathValue(name) }

// docURL is the documentation link GitHub puts in error bodies.
func (c *call) docURL() string {
	op := c.route.OperationID
	category, name, _ := strings.Cut(op, "/")
	return "https://docs.github.com/rest/" + category + "#" + name
}

func (s *Server) handler(rt *route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := requestRecord{Method: r.Method, Path: r.URL.Path, Route: rt.String(), At: s.now()}
		// Authentication comes first so that the request counts toward its
		// budget's concurrent requests for all the time it is served,
		// including injected latency.
		c := &call{r: r, route: rt}
		c.principal, c.authFailure = s.authenticate(r, rt.auth)
		key, _ := c.principal.bucket()
		if !s.limits.enter(key) {
			c.id = s.nextRequestID()
			resp := s.tooManyConcurrent(c, key)
			rec.Status = resp.status
			rec.Token = c.principal.tokenValue()
			rec.Mutating = rt.mutating()
			rec.RateLimited = true
			resp.header.Del(headerSpent)
			s.stats.record(rec)
			resp.write(w)
			return
		}
		defer s.limits.leave(key)
		consumed, loseAnswer := s.injectFault(w, r, rt, &rec)
		if consumed {
			s.stats.record(rec)
			return
		}
		c.id = s.nextRequestID()
		resp := s.serve(c)
		rec.Status = resp.status
		rec.Token = c.principal.tokenValue()
		rec.Mutating = rt.mutating()
		rec.RateLimited = c.rateLimited
		rec.Spent = resp.header.Get("X-Ratelimit-Used") != "" && resp.header.Get(headerSpent) == "1"
		resp.header.Del(headerSpent)
		s.stats.record(rec)
		if loseAnswer {
			resetConnection(w)
		} else {
			resp.write(w)
		}
		for _, fn := range c.after {
			fn()
		}
	})
}

// headerSpent marks internally whether the answer spent rate limit.
const headerSpent = "X-Githubsim-Spent"

// serve runs authentication, rate limits, the operation itself and the
// conditional-request logic, and decorates the answer with GitHub's headers.
func (s *Server) serve(c *call) *response {
	r := c.r
	p, resp := c.principal, c.authFailure
	if resp != nil {
		// A failed authentication costs the client address's budget.
		key, _ := p.bucket()
		st, _ := s.limits.take(key, anonymousLimit, false)
		s.decorate(c, resp, st, true)
		return resp
	}
	key, label := p.bucket()
	limit := s.opts.primary.Limit
	if p.kind == anonymous {
		limit = anonymousLimit
	}
	if c.route.free {
		resp = s.dispatch(c)
		if resp.status == http.StatusOK {
			resp = conditional(r, resp)
		}
		s.decorate(c, resp, s.limits.peek(key, limit), false)
		return resp
	}
	st, denial := s.limits.take(key, limit, c.route.mutating())
	c.rateLimited = denial != allowed
	switch denial {
	case deniedPrimary:
		resp = errorResponse(http.StatusForbidden, "API rate limit exceeded for "+label+".", docsRateLimits)
		s.decorate(c, resp, st, false)
		return resp
	case deniedSecondary:
		resp = secondaryLimitResponse(c, st.retryAfterSeconds())
		s.decorate(c, resp, st, true)
		return resp
	}
	resp = s.dispatch(c)
	spent := true
	if r.Method == http.MethodGet && resp.status == http.StatusOK {
		resp = conditional(r, resp)
		if resp.status == http.StatusNotModified {
			// GitHub: an authorized 304 does not count against the limit.
			st = s.limits.refund(key, limit)
			spent = false
		}
	}
	s.decorate(c, resp, st, spent)
	return resp
}

const anonymousLimit = 60

// tooManyConcurrent answers a request over GitHub's limit on concurrent
// requests. GitHub documents the limit but not its answer; this one is
// guessed to be its other secondary limits' answer (403, the same message,
// Retry-After), and to spend nothing.
func (s *Server) tooManyConcurrent(c *call, key string) *response {
	limit := s.opts.primary.Limit
	if c.principal.kind == anonymous {
		limit = anonymousLimit
	}
	resp := secondaryLimitResponse(c, 1)
	s.decorate(c, resp, s.limits.peek(key, limit), false)
	return resp
}

// secondaryLimitResponse is GitHub's answer to a request a secondary rate
// limit denies, with the seconds to wait in Retry-After.
func secondaryLimitResponse(c *call, retryAfter int) *response {
	resp := errorResponse(http.StatusForbidden,
		"You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "+
			"If you reach out to GitHub Support for help, please include the request ID "+c.id+".",
		docsSecondaryLimits)
	resp.header.Set("Retry-After", strconv.Itoa(retryAfter))
	return resp
}

// conditional adds the ETag to a GET answer and turns it into a bodiless
// 304 when the client already has that representation.
func conditional(r *http.Request, resp *response) *response {
	etag := etagOf(resp.body)
	resp.header.Set("ETag", etag)
	if !etagMatches(r.Header.Get("If-None-Match"), etag) {
		return resp
	}
	notModified := newResponse(http.StatusNotModified)
	notModified.header.Set("ETag", etag)
	return notModified
}

func (s *Server) dispatch(c *call) *response {
	body, err := io.ReadAll(io.LimitReader(c.r.Body, maxRequestBody))
	if err != nil {
		return errorResponse(http.StatusBadRequest, "Problems reading the request body", c.docURL())
	}
	c.body = body
	return c.route.handle(s, c)
}

// decorate adds the headers GitHub sends with every API answer.
func (s *Server) decorate(c *call, resp *response, st rateState, spent bool) {
	h := resp.header
	h.Set("X-Github-Media-Type", "github.v3; format=json")
	h.Set("X-Github-Api-Version-Selected", "2022-11-28")
	h.Set("X-Github-Request-Id", c.id)
	h.Set("Vary", "Accept, Authorization, Cookie, X-GitHub-OTP")
	h.Set("X-Ratelimit-Limit", strconv.Itoa(st.Limit))
	h.Set("X-Ratelimit-Remaining", strconv.Itoa(st.Remaining))
	h.Set("X-Ratelimit-Used", strconv.Itoa(st.Used))
	h.Set("X-Ratelimit-Reset", strconv.FormatInt(st.Reset.Unix(), 10))
	h.Set("X-Ratelimit-Resource", "core")
	if spent {
		h.Set(headerSpent, "1")
	}
	if p := c.principal; p != nil && p.kind == tokenPrincipal {
		if p.token.Kind == ClassicToken {
			h.Set("X-Oauth-Scopes", strings.Join(p.token.Scopes, ", "))
			h.Set("X-Accepted-Oauth-Scopes", c.acceptedScopes)
		} else if c.acceptedPermissions != "" {
			h.Set("X-Accepted-Github-Permissions", c.acceptedPermissions)
		}
		if !p.token.ExpiresAt.IsZero() && p.token.Kind != InstallationToken {
			h.Set("Github-Authentication-Token-Expiration", p.token.ExpiresAt.Format("2006-01-02 15:04:05 MST"))
		}
	}
}

// nextRequestID returns a GitHub-looking request ID ("C0DE:1A2B:...").
func (s *Server) nextRequestID() string {
	n := s.requestSeq.Add(1)
	return fmt.Sprintf("C0DE:%04X:%06X:%06X:%08X", n>>48&0xffff, n>>24&0xffffff, n&0xffffff, uint32(n*2654435761))
}

// notFound answers paths the simulator does not implement the way GitHub
// answers unknown paths.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	rec := requestRecord{Method: r.Method, Path: r.URL.Path, Route: "", Status: http.StatusNotFound, At: s.now()}
	s.stats.record(rec)
	errorResponse(http.StatusNotFound, "Not Found", docsREST).write(w)
}
