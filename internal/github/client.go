// Package github is hookwarden's GitHub REST client: one shared go-github
// client per API URL and token, behind a transport stack that answers
// unchanged reads from an ETag cache (a 304 costs no rate limit), refuses
// requests locally while a rate limit is spent, spaces mutating requests, and
// records metrics. It also maps GitHub's answers to the reasons hookwarden
// reports (Classify).
//
// Hooks are reached through HookService, one implementation per target kind
// (repository, organization, GitHub App), chosen by Client.Hooks.
package github

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	gogithub "github.com/google/go-github/v60/github"
)

// DefaultURL is GitHub's public REST API.
const DefaultURL = "https://api.github.com/"

// DefaultMutationInterval spaces mutating requests (POST, PATCH, PUT,
// DELETE) of one token, as GitHub's best practices ask, which keeps clear of
// the secondary rate limit.
const DefaultMutationInterval = time.Second

// Credentials authenticate requests to GitHub: a token (a personal access
// token or an installation token), or a GitHub App's installation, whose
// tokens the client mints and renews itself. The struct is comparable: it
// keys the factory's clients.
type Credentials struct {
	// Token is sent as a bearer token.
	Token string
	// App, when its AppID is set, authenticates as a GitHub App
	// installation instead of Token.
	App AppCredentials
	// CA is a PEM bundle trusted for the server in addition to the system
	// roots (GitHub Enterprise Server behind a private CA).
	CA string
}

// AppCredentials are a GitHub App's ID, the installation to act as, and the
// App's private key (PEM).
type AppCredentials struct {
	AppID          int64
	InstallationID int64
	PrivateKey     string
}

// IsApp reports whether the credentials are a GitHub App's.
func (c Credentials) IsApp() bool { return c.App.AppID != 0 }

// Fingerprint identifies the credentials in metrics and cache keys without
// revealing them: the token's fingerprint, or the App and installation IDs.
func (c Credentials) Fingerprint() string {
	if c.IsApp() {
		return fmt.Sprintf("app:%d/installation:%d", c.App.AppID, c.App.InstallationID)
	}
	return TokenFingerprint(c.Token)
}

// TokenFingerprint is "sha256:" and the first 8 hex digits of the token's
// SHA-256: enough to tell tokens apart on a dashboard, useless to an attacker.
func TokenFingerprint(token string) string {
	sum := sha256.Sum256([]byte(token))
	return "sha256:" + hex.EncodeToString(sum[:])[:8]
}

// FactoryOption configures a Factory.
type FactoryOption func(*Factory)

// WithTransport sets the transport under hookwarden's stack (for a private
// CA or a proxy). http.DefaultTransport by default.
func WithTransport(rt http.RoundTripper) FactoryOption {
	return func(f *Factory) { f.base = rt }
}

// WithMutationInterval sets the minimum time between two mutating requests
// of one token (DefaultMutationInterval by default; tests shorten it).
func WithMutationInterval(d time.Duration) FactoryOption {
	return func(f *Factory) { f.mutationInterval = d }
}

// WithUserAgent sets the User-Agent of every request.
func WithUserAgent(ua string) FactoryOption {
	return func(f *Factory) { f.userAgent = ua }
}

// WithCacheSize bounds the ETag cache (entries across all clients).
func WithCacheSize(n int) FactoryOption {
	return func(f *Factory) { f.cacheSize = n }
}

// Factory hands out one Client per (API URL, credentials), so that every
// reconcile using the same token shares its rate-limit state, its mutation
// pacing and its ETag cache. It is safe for concurrent use.
type Factory struct {
	base             http.RoundTripper
	mutationInterval time.Duration
	contentLimits    []ContentLimit
	userAgent        string
	cacheSize        int

	mu      sync.Mutex
	cache   *ETagCache
	clients map[clientKey]*Client
}

type clientKey struct {
	apiURL string
	creds  Credentials
}

// NewFactory returns a Factory.
func NewFactory(opts ...FactoryOption) *Factory {
	f := &Factory{
		base:             http.DefaultTransport,
		mutationInterval: DefaultMutationInterval,
		contentLimits:    DefaultContentLimits(),
		userAgent:        "hookwarden",
		cacheSize:        DefaultETagCacheSize,
		clients:          map[clientKey]*Client{},
	}
	for _, opt := range opts {
		opt(f)
	}
	f.cache = NewETagCache(f.cacheSize)
	return f
}

// Client returns the shared client for apiURL (e.g. "https://api.github.com/"
// or "https://HOST/api/v3", with or without the trailing slash) and creds:
// one per token, or per App installation, so every integration using it
// shares its rate-limit state and, for an App, its installation token.
func (f *Factory) Client(apiURL string, creds Credentials) (*Client, error) {
	if creds.Token == "" && !creds.IsApp() {
		return nil, errors.New("no GitHub token")
	}
	base, err := normalizeAPIURL(apiURL)
	if err != nil {
		return nil, err
	}
	key := clientKey{apiURL: base.String(), creds: creds}

	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.clients[key]; ok {
		return c, nil
	}
	c, err := f.newClient(base, creds)
	if err != nil {
		return nil, err
	}
	f.clients[key] = c
	return c, nil
}

// Forget drops the clients of a token that is no longer used (after the
// Secret changed), so the factory does not keep old tokens in memory.
func (f *Factory) Forget(apiURL string, creds Credentials) {
	base, err := normalizeAPIURL(apiURL)
	if err != nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.clients, clientKey{apiURL: base.String(), creds: creds})
	fingerprint := creds.Fingerprint()
	for key := range f.clients {
		if key.creds.Fingerprint() == fingerprint {
			return
		}
	}
	// No client uses the credentials any more: their rate limit is nobody's.
	forgetRateLimits(fingerprint)
}

// newClient builds the transport stack: the rate-limit transport on top,
// then the ETag cache, then (for an App) the authentication, metrics and
// the base transport. App authentication sits under the cache, whose key is
// scoped to the credentials' fingerprint: the App's JSON web tokens change
// on every request and its installation tokens every hour, and neither
// changes what a read returns.
func (f *Factory) newClient(base *url.URL, creds Credentials) (*Client, error) {
	fingerprint := creds.Fingerprint()
	transport, err := f.baseTransport(creds.CA)
	if err != nil {
		return nil, err
	}
	inner := http.RoundTripper(&metricsTransport{next: transport, token: fingerprint})
	c := &Client{fingerprint: fingerprint}
	if !creds.IsApp() {
		c.limits = NewRateLimitTransport(NewETagTransport(f.cache, inner), f.mutationInterval, f.contentLimits...)
		c.gh = f.goGitHub(base, c.limits).WithAuthToken(creds.Token)
		return c, nil
	}
	apps, installation, err := appTransports(base, inner, creds.App)
	if err != nil {
		return nil, err
	}
	// One rate-limit state for the installation and the App's own calls:
	// both are this integration's budget on GitHub.
	c.limits = NewRateLimitTransport(&authSwitch{
		installation: &ETagTransport{cache: f.cache, next: installation, scope: fingerprint + " "},
		app:          &ETagTransport{cache: f.cache, next: apps, scope: fingerprint + "/jwt "},
	}, f.mutationInterval, f.contentLimits...)
	c.gh = f.goGitHub(base, c.limits)
	c.app = f.goGitHub(base, withAppAuth{c.limits})
	c.appID = creds.App.AppID
	c.installation = creds.App.InstallationID
	return c, nil
}

func (f *Factory) goGitHub(base *url.URL, rt http.RoundTripper) *gogithub.Client {
	gh := gogithub.NewClient(&http.Client{Transport: rt, Timeout: 30 * time.Second})
	gh.BaseURL = base
	gh.UserAgent = f.userAgent
	return gh
}

func normalizeAPIURL(apiURL string) (*url.URL, error) {
	if apiURL == "" {
		apiURL = DefaultURL
	}
	if !strings.HasSuffix(apiURL, "/") {
		apiURL += "/"
	}
	u, err := url.Parse(apiURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("GitHub API URL %q is not an absolute http(s) URL", apiURL)
	}
	return u, nil
}

// Client talks to one GitHub API server with one set of credentials.
type Client struct {
	gh *gogithub.Client
	// app calls with the App's JSON web token; nil for a token.
	app          *gogithub.Client
	appID        int64
	installation int64
	limits       *RateLimitTransport
	fingerprint  string
}

// Fingerprint identifies the client's token without revealing it.
func (c *Client) Fingerprint() string { return c.fingerprint }

// RateLimitedUntil reports when requests may be sent again, or the zero time
// when they may be sent now.
func (c *Client) RateLimitedUntil() time.Time { return c.limits.BlockedUntil() }

// ReserveMutation asks for the turn of a mutation the caller is about to
// work towards, before that work: with a context from DeferPacing, a
// *PacingDeferredError when the token's pacing would hold the mutation
// longer than the context allows, the slot then being kept for the caller
// as for a deferred request; nil when it may go on (nothing is booked
// then). It sends nothing and does nothing without DeferPacing or pacing.
func (c *Client) ReserveMutation(ctx context.Context) error {
	if c.limits.mutations == nil {
		return nil
	}
	return c.limits.mutations.reserve(ctx)
}

// listDeliveries follows the cursor pages of a deliveries list, newest
// first, until a page reaches back to since (or there is no next page).
// The first page is a conditional request like every GET (ETagTransport):
// when no attempt was made since the last check it is answered 304 and
// costs no rate limit.
func listDeliveries(ctx context.Context, gh *gogithub.Client, path string, since time.Time) ([]*gogithub.HookDelivery, error) {
	query := url.Values{"per_page": {strconv.Itoa(listPageSize)}}
	var all []*gogithub.HookDelivery
	for {
		req, err := gh.NewRequest(http.MethodGet, path+"?"+query.Encode(), nil)
		if err != nil {
			return nil, err
		}
		var page []*gogithub.HookDelivery
		resp, err := gh.Do(ctx, req, &page)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if resp.Cursor == "" || len(page) == 0 || page[len(page)-1].GetDeliveredAt().Before(since) {
			return all, nil
		}
		query.Set("cursor", resp.Cursor)
	}
}

// acceptedIsSuccess turns go-github's *AcceptedError (GitHub's 202: the
// work was queued) into success.
func acceptedIsSuccess(err error) error {
	var accepted *gogithub.AcceptedError
	if errors.As(err, &accepted) {
		return nil
	}
	return err
}
