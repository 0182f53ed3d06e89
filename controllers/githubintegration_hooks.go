package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	gogithub "github.com/google/go-github/v60/github"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	ghclient "github.com/hookwarden/hookwarden/internal/github"
	"github.com/hookwarden/hookwarden/internal/metrics"
)

// desiredHook is the hook every target should have.
type desiredHook struct {
	url         string
	contentType string
	insecureSSL string
	events      []string // sorted, unique
	active      bool
	secret      string
	fingerprint string
}

// hookConfigFor derives the desired hook from the spec and the Secret.
func hookConfigFor(obj *hookv1.GitHubIntegration, payloadURL string, sec *integrationSecret) desiredHook {
	insecure := "0"
	if obj.Spec.InsecureSSL {
		insecure = "1"
	}
	return desiredHook{
		url:         payloadURL,
		contentType: string(obj.GetContentType()),
		insecureSSL: insecure,
		events:      obj.GetEvents(),
		active:      obj.IsActive(),
		secret:      sec.webhookSecret,
		fingerprint: sec.fingerprint,
	}
}

// config is the full hook config. GitHub replaces the whole config when one
// is sent, so it always carries the secret.
func (d desiredHook) config() *gogithub.HookConfig {
	return &gogithub.HookConfig{
		URL:         gogithub.String(d.url),
		ContentType: gogithub.String(d.contentType),
		InsecureSSL: gogithub.String(d.insecureSSL),
		Secret:      gogithub.String(d.secret),
	}
}

func normalizeEvents(events []string) []string {
	out := slices.Clone(events)
	slices.Sort(out)
	return slices.Compact(out)
}

// reconcileHooks makes every target's hook match the spec, removes the hooks
// of targets dropped from the spec, and records them in status. It returns
// the GitHub client for the later steps, or the failure to report.
func (r *GitHubIntegrationReconciler) reconcileHooks(ctx context.Context, obj *hookv1.GitHubIntegration, sec *integrationSecret) (*ghclient.Client, error) {
	payloadURL := obj.PayloadURL(r.PublicURL)
	if payloadURL == "" {
		return nil, stalledError(hookv1.ReasonPayloadURLUnset,
			"No payload URL: set spec.payloadURL, or run the operator with --public-url")
	}
	obj.Status.PayloadURL = payloadURL
	if len(obj.Spec.Repositories) == 0 {
		return nil, stalledError(hookv1.ReasonNotSupported,
			"Only repository targets are supported in this version: organization and App hooks are not managed yet")
	}
	gh, err := r.GitHub.Client(r.apiURL(obj), sec.creds)
	if err != nil {
		return nil, stalledError(hookv1.ReasonInvalid, err.Error())
	}

	desired := hookConfigFor(obj, payloadURL, sec)
	previous := map[string]hookv1.HookStatus{}
	for _, hs := range obj.Status.Hooks {
		previous[hs.Target] = hs
	}

	var (
		hooks       []hookv1.HookStatus
		failures    []targetFailure
		rateLimited bool
	)
	for _, target := range obj.Spec.Repositories {
		hs, ok := previous[target]
		if !ok {
			hs = hookv1.HookStatus{Target: target}
		}
		delete(previous, target)
		if !rateLimited {
			if err := r.syncRepositoryHook(ctx, obj, gh, target, desired, &hs); err != nil {
				f := newTargetFailure(target, err)
				hs.LastError = f.err.Error()
				failures = append(failures, f)
				rateLimited = f.err.Kind == ghclient.RateLimited
			}
		}
		hooks = append(hooks, hs)
	}
	for _, hs := range obj.Status.Hooks {
		if _, dropped := previous[hs.Target]; !dropped {
			continue
		}
		if hs.ID != 0 && !rateLimited {
			if err := r.deleteRepositoryHook(ctx, obj, gh, hs); err != nil {
				f := newTargetFailure(hs.Target, err)
				hs.LastError = f.err.Error()
				failures = append(failures, f)
				rateLimited = f.err.Kind == ghclient.RateLimited
				hooks = append(hooks, hs)
			}
			continue
		}
		if hs.ID != 0 {
			hooks = append(hooks, hs) // removed once the rate limit resets
		}
	}
	setHooks(obj, hooks)

	if len(failures) > 0 {
		return nil, summarizeFailures(obj, sec, failures)
	}
	return gh, nil
}

// markHooksReady sets Ready once every step succeeded.
func markHooksReady(obj *hookv1.GitHubIntegration) {
	if obj.Spec.InsecureSSL {
		markReady(obj, hookv1.ReasonInsecureSSL, fmt.Sprintf(
			"%d hook(s) registered, but GitHub does not verify the payload URL's certificate (spec.insecureSSL)", obj.Status.HookCount))
		return
	}
	markReady(obj, hookv1.ReasonSucceeded, fmt.Sprintf("%d hook(s) registered and matching the spec", obj.Status.HookCount))
}

// apiURL is spec.github.url or the operator's default.
func (r *GitHubIntegrationReconciler) apiURL(obj *hookv1.GitHubIntegration) string {
	if obj.Spec.GitHub != nil && obj.Spec.GitHub.URL != "" {
		return obj.Spec.GitHub.URL
	}
	return defaulted(r.DefaultGitHubURL, ghclient.DefaultURL)
}

// setHooks records the hooks and the summary columns.
func setHooks(obj *hookv1.GitHubIntegration, hooks []hookv1.HookStatus) {
	obj.Status.Hooks = hooks
	var registered int32
	for _, hs := range hooks {
		if hs.ID != 0 {
			registered++
		}
	}
	obj.Status.HookCount = registered
	obj.Status.Target = targetSummary(obj.Targets())
	metrics.HooksRegistered.WithLabelValues(integrationKey(obj)).Set(float64(registered))
}

// targetSummary is the Target column: "acme/api" or "acme/api +2".
func targetSummary(targets []string) string {
	switch len(targets) {
	case 0:
		return ""
	case 1:
		return targets[0]
	}
	return fmt.Sprintf("%s +%d", targets[0], len(targets)-1)
}

// syncRepositoryHook brings one repository's hook in line with desired and
// records it in hs. The hook ID is never dropped on an error other than 404.
func (r *GitHubIntegrationReconciler) syncRepositoryHook(ctx context.Context, obj *hookv1.GitHubIntegration, gh *ghclient.Client,
	target string, desired desiredHook, hs *hookv1.HookStatus) error {
	svc, err := gh.RepositoryHooks(target)
	if err != nil {
		return stalledError(hookv1.ReasonInvalid, err.Error())
	}
	return r.syncHook(ctx, obj, svc, desired, hs)
}

// syncHook reads the hook (a conditional request: free when unchanged),
// finds or creates it when it is missing, and corrects whatever differs.
func (r *GitHubIntegrationReconciler) syncHook(ctx context.Context, obj *hookv1.GitHubIntegration, svc ghclient.HookService,
	desired desiredHook, hs *hookv1.HookStatus) error {
	log := ctrl.LoggerFrom(ctx).WithValues("target", svc.Target())
	var current *gogithub.Hook
	lostID := int64(0)
	if hs.ID != 0 {
		h, err := svc.Get(ctx, hs.ID)
		switch {
		case err == nil:
			current = h
		case ghclient.IsNotFound(err):
			lostID = hs.ID
		default:
			return err
		}
	}

	adopted := false
	if current == nil {
		existing, err := findHookByURL(ctx, svc, desired.url)
		if err != nil {
			return err
		}
		if existing == nil {
			created, err := svc.Create(ctx, &gogithub.Hook{
				Name:   gogithub.String("web"),
				Config: desired.config(),
				Events: desired.events,
				Active: gogithub.Bool(desired.active),
			})
			if err != nil {
				return err
			}
			recordHook(hs, created, desired.fingerprint)
			if lostID != 0 {
				log.Info("Recreated hook deleted on GitHub", "oldID", lostID, "id", created.GetID())
				r.normal(obj, hookv1.EventHookRecreated, "Create", fmt.Sprintf(
					"Hook %d on %s was deleted on GitHub: registered hook %d", lostID, svc.Target(), created.GetID()))
			} else {
				log.Info("Created hook", "id", created.GetID())
				r.normal(obj, hookv1.EventHookCreated, "Create", fmt.Sprintf("Registered hook %d on %s", created.GetID(), svc.Target()))
			}
			return nil
		}
		current, adopted = existing, true
		// GitHub never shows the secret: an adopted hook gets ours.
		hs.SecretFingerprint = ""
	}

	changes := hookChanges(current, desired, hs.SecretFingerprint != desired.fingerprint)
	if len(changes) > 0 {
		updated, err := editHook(ctx, svc, current, desired, changes)
		if err != nil {
			return err
		}
		current = updated
	}
	recordHook(hs, current, desired.fingerprint)

	switch {
	case adopted:
		log.Info("Adopted existing hook", "id", current.GetID(), "corrected", changes)
		r.normal(obj, hookv1.EventHookAdopted, "Adopt", fmt.Sprintf(
			"Adopted existing hook %d on %s with the payload URL; set %s", current.GetID(), svc.Target(), strings.Join(changes, ", ")))
	case len(changes) > 0:
		log.Info("Updated hook", "id", current.GetID(), "changed", changes)
		r.normal(obj, hookv1.EventHookUpdated, "Update", fmt.Sprintf(
			"Updated hook %d on %s: %s", current.GetID(), svc.Target(), strings.Join(changes, ", ")))
	}
	return nil
}

// findHookByURL lists the target's hooks (every page) and returns the one
// delivering to url: after a crash between creation and the status write,
// that is ours.
func findHookByURL(ctx context.Context, svc ghclient.HookService, url string) (*gogithub.Hook, error) {
	all, err := svc.List(ctx)
	if err != nil {
		return nil, err
	}
	for _, h := range all {
		if h.GetConfig().GetURL() == url {
			return h, nil
		}
	}
	return nil, nil
}

// Names of the hook fields hookwarden keeps, as Events and logs show them.
const (
	fieldURL         = "url"
	fieldContentType = "content_type"
	fieldInsecureSSL = "insecure_ssl"
	fieldSecret      = "secret"
	fieldEvents      = "events"
	fieldActive      = "active"
)

// hookChanges lists the fields of current that differ from desired.
func hookChanges(current *gogithub.Hook, desired desiredHook, secretChanged bool) []string {
	var changes []string
	cfg := current.GetConfig()
	if cfg.GetURL() != desired.url {
		changes = append(changes, fieldURL)
	}
	if cfg.GetContentType() != desired.contentType {
		changes = append(changes, fieldContentType)
	}
	if defaulted(cfg.GetInsecureSSL(), "0") != desired.insecureSSL {
		changes = append(changes, fieldInsecureSSL)
	}
	if secretChanged {
		changes = append(changes, fieldSecret)
	}
	if !slices.Equal(normalizeEvents(current.Events), desired.events) {
		changes = append(changes, fieldEvents)
	}
	if current.GetActive() != desired.active {
		changes = append(changes, fieldActive)
	}
	return changes
}

// editHook sends one request with the changes: the config endpoint when only
// config fields change, otherwise the hook itself (with the whole config,
// secret included, when a config field changes).
func editHook(ctx context.Context, svc ghclient.HookService, current *gogithub.Hook, desired desiredHook, changes []string) (*gogithub.Hook, error) {
	configChanged := slices.ContainsFunc(changes, func(c string) bool {
		return c == fieldURL || c == fieldContentType || c == fieldInsecureSSL || c == fieldSecret
	})
	hookChanged := slices.Contains(changes, fieldEvents) || slices.Contains(changes, fieldActive)
	if !hookChanged {
		if err := svc.EditConfig(ctx, current.GetID(), desired.config()); err != nil {
			return nil, err
		}
		updated := *current
		updated.Config = desired.config()
		updated.Config.Secret = nil
		return &updated, nil
	}
	edit := &gogithub.Hook{Events: desired.events, Active: gogithub.Bool(desired.active)}
	if configChanged {
		edit.Config = desired.config()
	}
	return svc.Edit(ctx, current.GetID(), edit)
}

// recordHook writes what GitHub holds into the hook's status.
func recordHook(hs *hookv1.HookStatus, h *gogithub.Hook, fingerprint string) {
	now := metav1.NewTime(time.Now().Truncate(time.Second))
	hs.ID = h.GetID()
	hs.Active = h.GetActive()
	hs.Events = normalizeEvents(h.Events)
	hs.LastSyncTime = &now
	hs.LastError = ""
	hs.SecretFingerprint = fingerprint
}

// deleteRepositoryHook removes the hook of a repository dropped from spec.
func (r *GitHubIntegrationReconciler) deleteRepositoryHook(ctx context.Context, obj *hookv1.GitHubIntegration, gh *ghclient.Client, hs hookv1.HookStatus) error {
	svc, err := gh.RepositoryHooks(hs.Target)
	if err != nil {
		return stalledError(hookv1.ReasonInvalid, err.Error())
	}
	return r.deleteHook(ctx, obj, svc, hs.ID)
}

// deleteHook removes one hook; a hook already gone counts as removed.
func (r *GitHubIntegrationReconciler) deleteHook(ctx context.Context, obj *hookv1.GitHubIntegration, svc ghclient.HookService, id int64) error {
	err := svc.Delete(ctx, id)
	if err != nil && !ghclient.IsNotFound(err) {
		return err
	}
	ctrl.LoggerFrom(ctx).Info("Deleted hook", "target", svc.Target(), "id", id, "alreadyGone", err != nil)
	r.normal(obj, hookv1.EventHookDeleted, "Delete", fmt.Sprintf("Removed hook %d from %s", id, svc.Target()))
	return nil
}
