// Package github is hookwarden's GitHub REST client: one shared go-github
// client per API URL and token, behind a transport stack that answers
// unchanged reads from an ETag cache (a 304 costs no rate limit), refuses
// requests locally while a rate limit is spent, spaces mutating requests, and
// records metrics. It also maps GitHub's answers to the reasons hookwarden
// reports (Classify).
//
// Hooks are reached through HookService, one implementation per target kind
// (repository today; organization and GitHub App hooks slot in beside it).
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

// Credentials authenticate requests to GitHub. Only tokens (personal access
// tokens and installation tokens) are supported today; GitHub App
// credentials will be another field, resolved to installation tokens by the
// factory.
type Credentials struct {
	// Token is sent as a bearer token.
	Token string
}

// Fingerprint identifies the credentials in metrics and cache keys without
// revealing them.
func (c Credentials) Fingerprint() string {
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
	token  string
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
// or "https://HOST/api/v3/") and creds.
func (f *Factory) Client(apiURL string, creds Credentials) (*Client, error) {
	if creds.Token == "" {
		return nil, errors.New("no GitHub token")
	}
	base, err := normalizeAPIURL(apiURL)
	if err != nil {
		return nil, err
	}
	key := clientKey{apiURL: base.String(), token: creds.Token}

	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.clients[key]; ok {
		return c, nil
	}
	c := f.newClient(base, creds)
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
	delete(f.clients, clientKey{apiURL: base.String(), token: creds.Token})
}

func (f *Factory) newClient(base *url.URL, creds Credentials) *Client {
	fingerprint := creds.Fingerprint()
	limiter := NewRateLimitTransport(
		NewETagTransport(f.cache, &metricsTransport{next: f.base, token: fingerprint}),
		f.mutationInterval,
		f.contentLimits...,
	)
	gh := gogithub.NewClient(&http.Client{Transport: limiter, Timeout: 30 * time.Second}).WithAuthToken(creds.Token)
	gh.BaseURL = base
	gh.UserAgent = f.userAgent
	return &Client{gh: gh, limits: limiter, fingerprint: fingerprint}
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
	gh          *gogithub.Client
	limits      *RateLimitTransport
	fingerprint string
}

// Fingerprint identifies the client's token without revealing it.
func (c *Client) Fingerprint() string { return c.fingerprint }

// RateLimitedUntil reports when requests may be sent again, or the zero time
// when they may be sent now.
func (c *Client) RateLimitedUntil() time.Time { return c.limits.BlockedUntil() }

// RepositoryHooks returns the hooks of the repository "owner/name".
func (c *Client) RepositoryHooks(fullName string) (HookService, error) {
	owner, repo, ok := strings.Cut(fullName, "/")
	if !ok || owner == "" || repo == "" || strings.Contains(repo, "/") {
		return nil, fmt.Errorf("repository %q is not of the form owner/name", fullName)
	}
	return &repositoryHooks{gh: c.gh, owner: owner, repo: repo}, nil
}

// HookService manages the webhooks of one target: a repository, an
// organization or a GitHub App. Errors are go-github's (or the transport's),
// to be read with Classify.
type HookService interface {
	// Target is the target's name as status shows it.
	Target() string
	// RequiredAccess says, for error messages, what a token needs to manage
	// the target's hooks.
	RequiredAccess() Access
	// List returns every hook of the target (all pages).
	List(ctx context.Context) ([]*gogithub.Hook, error)
	// Get returns one hook; a conditional request when it was read before.
	Get(ctx context.Context, id int64) (*gogithub.Hook, error)
	// Create registers a hook.
	Create(ctx context.Context, hook *gogithub.Hook) (*gogithub.Hook, error)
	// Edit changes a hook. GitHub replaces the whole config when one is
	// sent, so a config must carry the secret.
	Edit(ctx context.Context, id int64, hook *gogithub.Hook) (*gogithub.Hook, error)
	// EditConfig changes fields of a hook's config, e.g. only the secret.
	EditConfig(ctx context.Context, id int64, config *gogithub.HookConfig) error
	// Delete removes a hook.
	Delete(ctx context.Context, id int64) error
	// Ping asks GitHub to deliver a ping to the hook (asynchronously).
	Ping(ctx context.Context, id int64) error
	// ListDeliveries returns every delivery attempt of the hook, newest
	// first, following cursor pages back to since: the last page may hold
	// older attempts too. It never uses GitHub's status filter, whose
	// "failure" covers status codes 400-599 only and so misses the
	// attempts GitHub got no answer for (status_code 0); callers classify
	// the attempts themselves.
	ListDeliveries(ctx context.Context, id int64, since time.Time) ([]*gogithub.HookDelivery, error)
	// Redeliver asks GitHub to send a logged delivery again (same GUID and
	// payload, signed with the hook's current secret). GitHub's 202 is
	// success.
	Redeliver(ctx context.Context, hookID, deliveryID int64) error
}

// Access is what a token needs for an operation, in the words of GitHub's
// token settings.
type Access struct {
	// ClassicScope is the scope of a classic personal access token.
	ClassicScope string
	// Permission is the fine-grained token or GitHub App permission.
	Permission string
}

// String reads as a hint in an error message.
func (a Access) String() string {
	return fmt.Sprintf("the %q scope for a classic token, or the %q permission for a fine-grained token or GitHub App", a.ClassicScope, a.Permission)
}

// RepositoryHookAccess is what managing repository hooks needs.
var RepositoryHookAccess = Access{ClassicScope: "admin:repo_hook", Permission: "Webhooks: write"}

// listPageSize is the largest page GitHub serves.
const listPageSize = 100

type repositoryHooks struct {
	gh          *gogithub.Client
	owner, repo string
}

func (r *repositoryHooks) Target() string         { return r.owner + "/" + r.repo }
func (r *repositoryHooks) RequiredAccess() Access { return RepositoryHookAccess }

func (r *repositoryHooks) List(ctx context.Context) ([]*gogithub.Hook, error) {
	var all []*gogithub.Hook
	opts := &gogithub.ListOptions{PerPage: listPageSize}
	for {
		page, resp, err := r.gh.Repositories.ListHooks(ctx, r.owner, r.repo, opts)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if resp.NextPage == 0 {
			return all, nil
		}
		opts.Page = resp.NextPage
	}
}

func (r *repositoryHooks) Get(ctx context.Context, id int64) (*gogithub.Hook, error) {
	h, _, err := r.gh.Repositories.GetHook(ctx, r.owner, r.repo, id)
	return h, err
}

func (r *repositoryHooks) Create(ctx context.Context, hook *gogithub.Hook) (*gogithub.Hook, error) {
	h, _, err := r.gh.Repositories.CreateHook(ctx, r.owner, r.repo, hook)
	return h, err
}

func (r *repositoryHooks) Edit(ctx context.Context, id int64, hook *gogithub.Hook) (*gogithub.Hook, error) {
	h, _, err := r.gh.Repositories.EditHook(ctx, r.owner, r.repo, id, hook)
	return h, err
}

func (r *repositoryHooks) EditConfig(ctx context.Context, id int64, config *gogithub.HookConfig) error {
	_, _, err := r.gh.Repositories.EditHookConfiguration(ctx, r.owner, r.repo, id, config)
	return err
}

func (r *repositoryHooks) Delete(ctx context.Context, id int64) error {
	_, err := r.gh.Repositories.DeleteHook(ctx, r.owner, r.repo, id)
	return err
}

func (r *repositoryHooks) Ping(ctx context.Context, id int64) error {
	_, err := r.gh.Repositories.PingHook(ctx, r.owner, r.repo, id)
	return err
}

func (r *repositoryHooks) ListDeliveries(ctx context.Context, id int64, since time.Time) ([]*gogithub.HookDelivery, error) {
	return listDeliveries(ctx, r.gh, fmt.Sprintf("repos/%s/%s/hooks/%d/deliveries", url.PathEscape(r.owner), url.PathEscape(r.repo), id), since)
}

func (r *repositoryHooks) Redeliver(ctx context.Context, hookID, deliveryID int64) error {
	_, _, err := r.gh.Repositories.RedeliverHookDelivery(ctx, r.owner, r.repo, hookID, deliveryID)
	return acceptedIsSuccess(err)
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
