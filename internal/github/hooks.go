package github

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	gogithub "github.com/google/go-github/v60/github"
)

// AppTarget names the GitHub App's own webhook among the targets, as
// status.hooks[].target shows it. GitHub reserves the login "app", so no
// organization is named so.
const AppTarget = "app"

// ErrNeedsAppCredentials: the GitHub App's own webhook was asked of a
// client with a token; only the App's credentials reach it.
var ErrNeedsAppCredentials = errors.New("the GitHub App's webhook needs " + AppHookAccess.Credentials + ", not a token")

// ErrNotSupported is returned by a HookService for an operation its target
// does not have (see Abilities), e.g. deleting a GitHub App's webhook.
var ErrNotSupported = errors.New("not supported for this kind of webhook")

// HookService manages the webhooks of one target: a repository, an
// organization or a GitHub App. Errors are go-github's (or the transport's),
// to be read with Classify.
type HookService interface {
	// Target is the target's name as status shows it.
	Target() string
	// RequiredAccess says, for error messages, what the credentials need
	// to manage the target's hooks.
	RequiredAccess() Access
	// Abilities says which operations the target has.
	Abilities() Abilities
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

// Abilities are the operations a target's webhook API offers beyond
// reading and changing the hook's config. Repository and organization hooks
// have them all; a GitHub App's webhook has none: its events and active
// flag are set in the App's settings, and it can be neither deleted nor
// pinged through the API.
type Abilities struct {
	// Events: events and active can be set through the API.
	Events bool
	// Delete: the hook can be deleted.
	Delete bool
	// Ping: GitHub can be asked to send a ping.
	Ping bool
}

var (
	// RepositoryHookAccess is what managing repository hooks needs.
	RepositoryHookAccess = Access{ClassicScope: "admin:repo_hook", Permission: "Webhooks: write"}
	// OrganizationHookAccess is what managing organization hooks needs.
	OrganizationHookAccess = Access{ClassicScope: "admin:org_hook", Permission: "Organization hooks: write"}
	// AppHookAccess is what managing a GitHub App's webhook needs: the
	// App's own JSON web token, which no token can stand in for.
	AppHookAccess = Access{Credentials: "GitHub App credentials (app_id, installation_id and private_key of the App whose webhook it is)"}
)

// AccessFor is what managing the hooks of target needs.
func AccessFor(target string) Access {
	switch {
	case target == AppTarget:
		return AppHookAccess
	case strings.Contains(target, "/"):
		return RepositoryHookAccess
	}
	return OrganizationHookAccess
}

// TargetKind names the kind of target in messages: "repository",
// "organization" or "GitHub App".
func TargetKind(target string) string {
	switch {
	case target == AppTarget:
		return "GitHub App"
	case strings.Contains(target, "/"):
		return "repository"
	}
	return "organization"
}

// Hooks returns the hook service of a target as status names it: AppTarget
// for the GitHub App's own webhook (App credentials only), "owner/name" for
// a repository, anything else for an organization. This is the one place
// that tells target kinds apart; the reconciler's steps work on the
// HookService.
func (c *Client) Hooks(target string) (HookService, error) {
	switch {
	case target == AppTarget:
		if c.app == nil {
			return nil, ErrNeedsAppCredentials
		}
		return &appHook{gh: c.app, appID: c.appID}, nil
	case strings.Contains(target, "/"):
		r, err := parseRepository(target)
		if err != nil {
			return nil, err
		}
		return &repositoryHooks{gh: c.gh, repository: r}, nil
	case target == "":
		return nil, errors.New("no target")
	}
	return &organizationHooks{gh: c.gh, org: target}, nil
}

var allAbilities = Abilities{Events: true, Delete: true, Ping: true}

type repositoryHooks struct {
	gh *gogithub.Client
	repository
}

func (r *repositoryHooks) Target() string         { return r.fullName() }
func (r *repositoryHooks) RequiredAccess() Access { return RepositoryHookAccess }
func (r *repositoryHooks) Abilities() Abilities   { return allAbilities }

func (r *repositoryHooks) List(ctx context.Context) ([]*gogithub.Hook, error) {
	return listHooks(func(opts *gogithub.ListOptions) ([]*gogithub.Hook, *gogithub.Response, error) {
		return r.gh.Repositories.ListHooks(ctx, r.owner, r.repo, opts)
	})
}

func (r *repositoryHooks) Get(ctx context.Context, id int64) (*gogithub.Hook, error) {
	return result(r.gh.Repositories.GetHook(ctx, r.owner, r.repo, id))
}

func (r *repositoryHooks) Create(ctx context.Context, hook *gogithub.Hook) (*gogithub.Hook, error) {
	return result(r.gh.Repositories.CreateHook(ctx, r.owner, r.repo, hook))
}

func (r *repositoryHooks) Edit(ctx context.Context, id int64, hook *gogithub.Hook) (*gogithub.Hook, error) {
	return result(r.gh.Repositories.EditHook(ctx, r.owner, r.repo, id, hook))
}

func (r *repositoryHooks) EditConfig(ctx context.Context, id int64, config *gogithub.HookConfig) error {
	return errOf(r.gh.Repositories.EditHookConfiguration(ctx, r.owner, r.repo, id, config))
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

// organizationHooks are the hooks of an organization: one hook there
// receives the events of every repository of the organization.
type organizationHooks struct {
	gh  *gogithub.Client
	org string
}

func (o *organizationHooks) Target() string         { return o.org }
func (o *organizationHooks) RequiredAccess() Access { return OrganizationHookAccess }
func (o *organizationHooks) Abilities() Abilities   { return allAbilities }

func (o *organizationHooks) List(ctx context.Context) ([]*gogithub.Hook, error) {
	return listHooks(func(opts *gogithub.ListOptions) ([]*gogithub.Hook, *gogithub.Response, error) {
		return o.gh.Organizations.ListHooks(ctx, o.org, opts)
	})
}

func (o *organizationHooks) Get(ctx context.Context, id int64) (*gogithub.Hook, error) {
	return result(o.gh.Organizations.GetHook(ctx, o.org, id))
}

func (o *organizationHooks) Create(ctx context.Context, hook *gogithub.Hook) (*gogithub.Hook, error) {
	return result(o.gh.Organizations.CreateHook(ctx, o.org, hook))
}

func (o *organizationHooks) Edit(ctx context.Context, id int64, hook *gogithub.Hook) (*gogithub.Hook, error) {
	return result(o.gh.Organizations.EditHook(ctx, o.org, id, hook))
}

func (o *organizationHooks) EditConfig(ctx context.Context, id int64, config *gogithub.HookConfig) error {
	return errOf(o.gh.Organizations.EditHookConfiguration(ctx, o.org, id, config))
}

func (o *organizationHooks) Delete(ctx context.Context, id int64) error {
	_, err := o.gh.Organizations.DeleteHook(ctx, o.org, id)
	return err
}

func (o *organizationHooks) Ping(ctx context.Context, id int64) error {
	_, err := o.gh.Organizations.PingHook(ctx, o.org, id)
	return err
}

func (o *organizationHooks) ListDeliveries(ctx context.Context, id int64, since time.Time) ([]*gogithub.HookDelivery, error) {
	return listDeliveries(ctx, o.gh, fmt.Sprintf("orgs/%s/hooks/%d/deliveries", url.PathEscape(o.org), id), since)
}

func (o *organizationHooks) Redeliver(ctx context.Context, hookID, deliveryID int64) error {
	_, _, err := o.gh.Organizations.RedeliverHookDelivery(ctx, o.org, hookID, deliveryID)
	return acceptedIsSuccess(err)
}

// appHook is a GitHub App's own webhook, reached with the App's JSON web
// token. The API shows only its config: it is always there (a URL is set
// or not), and is known here by the App's ID. A hook without a URL counts
// as absent, so "creating" it sets the config.
type appHook struct {
	gh    *gogithub.Client
	appID int64
}

func (a *appHook) Target() string         { return AppTarget }
func (a *appHook) RequiredAccess() Access { return AppHookAccess }
func (a *appHook) Abilities() Abilities   { return Abilities{} }

// hook presents the App's webhook config as a hook. The API does not show
// whether the App's webhook is active: it delivers while it has a URL.
func (a *appHook) hook(cfg *gogithub.HookConfig) *gogithub.Hook {
	if cfg == nil {
		cfg = &gogithub.HookConfig{}
	}
	return &gogithub.Hook{ID: gogithub.Int64(a.appID), Name: gogithub.String("web"), Config: cfg, Active: gogithub.Bool(cfg.GetURL() != "")}
}

func (a *appHook) List(ctx context.Context) ([]*gogithub.Hook, error) {
	cfg, _, err := a.gh.Apps.GetHookConfig(ctx)
	if err != nil || cfg.GetURL() == "" {
		return nil, err
	}
	return []*gogithub.Hook{a.hook(cfg)}, nil
}

func (a *appHook) Get(ctx context.Context, _ int64) (*gogithub.Hook, error) {
	cfg, _, err := a.gh.Apps.GetHookConfig(ctx)
	if err != nil {
		return nil, err
	}
	return a.hook(cfg), nil
}

func (a *appHook) Create(ctx context.Context, hook *gogithub.Hook) (*gogithub.Hook, error) {
	return a.Edit(ctx, a.appID, hook)
}

func (a *appHook) Edit(ctx context.Context, _ int64, hook *gogithub.Hook) (*gogithub.Hook, error) {
	cfg, _, err := a.gh.Apps.UpdateHookConfig(ctx, hook.GetConfig())
	if err != nil {
		return nil, err
	}
	return a.hook(cfg), nil
}

func (a *appHook) EditConfig(ctx context.Context, id int64, config *gogithub.HookConfig) error {
	_, err := a.Edit(ctx, id, &gogithub.Hook{Config: config})
	return err
}

func (a *appHook) Delete(context.Context, int64) error { return ErrNotSupported }
func (a *appHook) Ping(context.Context, int64) error   { return ErrNotSupported }

func (a *appHook) ListDeliveries(ctx context.Context, _ int64, since time.Time) ([]*gogithub.HookDelivery, error) {
	return listDeliveries(ctx, a.gh, "app/hook/deliveries", since)
}

func (a *appHook) Redeliver(ctx context.Context, _, deliveryID int64) error {
	_, _, err := a.gh.Apps.RedeliverHookDelivery(ctx, deliveryID)
	return acceptedIsSuccess(err)
}

// listHooks follows the pages of a hooks list.
func listHooks(page func(*gogithub.ListOptions) ([]*gogithub.Hook, *gogithub.Response, error)) ([]*gogithub.Hook, error) {
	var all []*gogithub.Hook
	opts := &gogithub.ListOptions{PerPage: listPageSize}
	for {
		hooks, resp, err := page(opts)
		if err != nil {
			return nil, err
		}
		all = append(all, hooks...)
		if resp.NextPage == 0 {
			return all, nil
		}
		opts.Page = resp.NextPage
	}
}
