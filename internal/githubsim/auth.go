package githubsim

import (
	"crypto/rsa"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TokenKind says which of GitHub's permission models a token follows.
type TokenKind string

const (
	// ClassicToken is a personal access token (classic) with OAuth scopes.
	ClassicToken TokenKind = "classic"
	// FineGrainedToken is a fine-grained personal access token with
	// repository and organization permissions.
	FineGrainedToken TokenKind = "fine-grained"
	// InstallationToken is a GitHub App installation access token.
	InstallationToken TokenKind = "installation"
)

// Permission names and levels of fine-grained tokens and App installations,
// as GitHub spells them.
const (
	PermRepositoryHooks   = "repository_hooks"
	PermOrganizationHooks = "organization_hooks"
	PermIssues            = "issues"
	PermRead              = "read"
	PermWrite             = "write"
)

// Token is an access token the simulator accepts.
type Token struct {
	// Value is the secret sent in the Authorization header.
	Value string
	Kind  TokenKind
	// Login is the user the token acts as ("<app-slug>[bot]" for
	// installation tokens).
	Login  string
	UserID int64
	// Scopes are the OAuth scopes of a classic token, e.g. "admin:repo_hook".
	Scopes []string
	// Permissions of a fine-grained or installation token, e.g.
	// {"repository_hooks": "write"}.
	Permissions map[string]string
	// Access lists what the token's owner can reach: "owner/name" for one
	// repository, or an organization login for all of its repositories and
	// the organization itself.
	Access []string
	// ExpiresAt, when set, makes the token answer 401 afterwards.
	ExpiresAt time.Time
	// InstallationID is set for installation tokens.
	InstallationID int64
}

func (t *Token) canReachRepo(fullName string) bool {
	owner, _, _ := strings.Cut(fullName, "/")
	for _, a := range t.Access {
		if strings.EqualFold(a, fullName) || strings.EqualFold(a, owner) {
			return true
		}
	}
	return false
}

func (t *Token) canReachOrg(org string) bool {
	for _, a := range t.Access {
		if strings.EqualFold(a, org) {
			return true
		}
	}
	return false
}

// AddToken registers a classic personal access token with OAuth scopes
// (e.g. "admin:repo_hook", "repo", "admin:org_hook") that can reach the
// given repositories ("owner/name") and organizations.
func (s *Server) AddToken(value string, scopes []string, access ...string) {
	s.addToken(&Token{Value: value, Kind: ClassicToken, Scopes: slices.Clone(scopes), Access: slices.Clone(access)})
}

// AddFineGrainedToken registers a fine-grained personal access token with
// permissions such as {PermRepositoryHooks: PermWrite} on the given
// repositories and organizations.
func (s *Server) AddFineGrainedToken(value string, permissions map[string]string, access ...string) {
	s.addToken(&Token{Value: value, Kind: FineGrainedToken, Permissions: clonePerms(permissions), Access: slices.Clone(access)})
}

// SetToken registers or replaces a token with every detail given.
func (s *Server) SetToken(t Token) {
	t.Scopes = slices.Clone(t.Scopes)
	t.Permissions = clonePerms(t.Permissions)
	t.Access = slices.Clone(t.Access)
	s.addToken(&t)
}

// RevokeToken makes a token answer 401 "Bad credentials" from now on.
func (s *Server) RevokeToken(value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.tokens, value)
}

func (s *Server) addToken(t *Token) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t.Kind == "" {
		t.Kind = ClassicToken
	}
	if t.Login == "" {
		t.Login = "hookwarden-bot"
	}
	if t.UserID == 0 {
		t.UserID = s.nextID(&s.ids.owner)
	}
	s.tokens[t.Value] = t
}

func clonePerms(p map[string]string) map[string]string {
	out := make(map[string]string, len(p))
	for k, v := range p {
		out[k] = v
	}
	return out
}

type principalKind int

const (
	anonymous principalKind = iota
	tokenPrincipal
	appPrincipal
)

// principal is who a request acts as.
type principal struct {
	kind  principalKind
	token *Token    // tokenPrincipal
	app   *appState // appPrincipal
	addr  string    // anonymous
}

// bucket names the rate-limit budget the request spends, and what a
// primary-limit message calls it.
func (p *principal) bucket() (key, label string) {
	switch p.kind {
	case tokenPrincipal:
		if p.token.Kind == InstallationToken {
			return "installation:" + strconv.FormatInt(p.token.InstallationID, 10),
				"installation ID " + strconv.FormatInt(p.token.InstallationID, 10)
		}
		return "user:" + strconv.FormatInt(p.token.UserID, 10), "user ID " + strconv.FormatInt(p.token.UserID, 10)
	case appPrincipal:
		return "app:" + strconv.FormatInt(p.app.id, 10), "integration ID " + strconv.FormatInt(p.app.id, 10)
	default:
		return "addr:" + p.addr, p.addr
	}
}

func (p *principal) tokenValue() string {
	if p.kind == tokenPrincipal {
		return p.token.Value
	}
	return ""
}

// authenticate resolves the Authorization header. A nil response means the
// request may proceed as the returned principal.
func (s *Server) authenticate(r *http.Request, mode authMode) (*principal, *response) {
	addr, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		addr = r.RemoteAddr
	}
	credential := bearer(r.Header.Get("Authorization"))
	if mode == authJWT {
		if credential == "" {
			return &principal{kind: anonymous, addr: addr}, errorResponse(http.StatusUnauthorized,
				"You must authenticate with a JSON Web Token (JWT) to access this endpoint.", docsREST)
		}
		app, resp := s.verifyAppJWT(credential)
		if resp != nil {
			return &principal{kind: anonymous, addr: addr}, resp
		}
		return &principal{kind: appPrincipal, app: app}, nil
	}
	if credential == "" {
		return &principal{kind: anonymous, addr: addr}, nil
	}
	s.mu.Lock()
	t, ok := s.tokens[credential]
	s.mu.Unlock()
	if !ok || (!t.ExpiresAt.IsZero() && !s.now().Before(t.ExpiresAt)) {
		return &principal{kind: anonymous, addr: addr}, badCredentials()
	}
	return &principal{kind: tokenPrincipal, token: t}, nil
}

// bearer extracts the credential of "token X" or "Bearer X".
func bearer(header string) string {
	scheme, value, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok {
		return ""
	}
	switch strings.ToLower(scheme) {
	case "token", "bearer":
		return strings.TrimSpace(value)
	}
	return ""
}

// maxJWTLifetime is how far in the future GitHub accepts an App JWT's exp.
const maxJWTLifetime = 10 * time.Minute

// JWT error messages. GitHub answers 401 for each; the wording follows the
// messages GitHub is reported to send.
const (
	msgJWTUndecodable = "A JSON web token could not be decoded"
	msgJWTExpired     = "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires"
	msgJWTTooLong     = "'Expiration time' claim ('exp') is too far in the future"
	msgJWTIssuedLater = "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued"
)

func (s *Server) verifyAppJWT(raw string) (*appState, *response) {
	var app *appState
	claims := jwt.RegisteredClaims{}
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodRS256.Alg()}),
		jwt.WithTimeFunc(s.now),
		jwt.WithLeeway(60*time.Second),
		jwt.WithIssuedAt(),
		jwt.WithExpirationRequired(),
	)
	_, err := parser.ParseWithClaims(raw, &claims, func(*jwt.Token) (any, error) {
		id, err := strconv.ParseInt(claims.Issuer, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("issuer %q is not an App ID", claims.Issuer)
		}
		s.mu.Lock()
		app = s.apps[id]
		s.mu.Unlock()
		if app == nil {
			return nil, fmt.Errorf("no App with ID %d", id)
		}
		return app.publicKey, nil
	})
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return nil, errorResponse(http.StatusUnauthorized, msgJWTExpired, docsREST)
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return nil, errorResponse(http.StatusUnauthorized, msgJWTIssuedLater, docsREST)
	case err != nil:
		return nil, errorResponse(http.StatusUnauthorized, msgJWTUndecodable, docsREST)
	}
	if claims.ExpiresAt.Sub(s.now()) > maxJWTLifetime+time.Minute {
		return nil, errorResponse(http.StatusUnauthorized, msgJWTTooLong, docsREST)
	}
	return app, nil
}

// need is what an operation requires of the caller.
type need struct {
	// permission is the fine-grained permission, e.g. repository_hooks.
	permission string
	// level is "read" or "write".
	level string
	// scopes are the classic scopes that allow the operation; empty means
	// none is needed beyond access.
	scopes []string
}

var (
	needRepoHooksRead  = need{PermRepositoryHooks, PermRead, []string{"admin:repo_hook", "read:repo_hook", "repo", "write:repo_hook"}}
	needRepoHooksWrite = need{PermRepositoryHooks, PermWrite, []string{"admin:repo_hook", "repo", "write:repo_hook"}}
	needRepoHooksAdmin = need{PermRepositoryHooks, PermWrite, []string{"admin:repo_hook", "repo"}}
	needOrgHooksRead   = need{PermOrganizationHooks, PermRead, []string{"admin:org_hook"}}
	needOrgHooksWrite  = need{PermOrganizationHooks, PermWrite, []string{"admin:org_hook"}}
	// Every repository is private in the simulator, so reading issues needs
	// the repo scope too.
	needIssuesRead  = need{PermIssues, PermRead, []string{"repo"}}
	needIssuesWrite = need{PermIssues, PermWrite, []string{"repo"}}
)

// authorize decides whether p may perform an operation needing n on a
// resource it can (reachable) or cannot reach. Like GitHub it answers 404
// when the resource is out of reach or a classic token lacks the scope, and
// 403 when a fine-grained or installation token lacks the permission.
func (s *Server) authorize(c *call, reachable bool, n need) *response {
	p := c.principal
	if p.kind != tokenPrincipal || !reachable {
		return notFound(c.docURL())
	}
	t := p.token
	switch t.Kind {
	case ClassicToken:
		c.acceptedScopes = strings.Join(n.scopes, ", ")
		for _, sc := range t.Scopes {
			if slices.Contains(n.scopes, sc) {
				return nil
			}
		}
		return notFound(c.docURL())
	default:
		c.acceptedPermissions = n.permission + "=" + n.level
		if permits(t.Permissions[n.permission], n.level) {
			return nil
		}
		msg := "Resource not accessible by personal access token"
		if t.Kind == InstallationToken {
			msg = "Resource not accessible by integration"
		}
		return errorResponse(http.StatusForbidden, msg, c.docURL())
	}
}

func permits(granted, wanted string) bool {
	switch granted {
	case PermWrite, "admin":
		return true
	case PermRead:
		return wanted == PermRead
	}
	return false
}

// appState is a registered GitHub App.
type appState struct {
	id        int64
	slug      string
	publicKey *rsa.PublicKey
	events    []string
	hook      *hookState
}

type installationState struct {
	id          int64
	appID       int64
	account     string
	permissions map[string]string
	access      []string
}
