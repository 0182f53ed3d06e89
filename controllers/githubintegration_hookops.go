package controllers

import (
	"context"
	"fmt"
	"slices"
	"time"

	gogithub "github.com/google/go-github/v60/github"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	ghclient "github.com/hookwarden/hookwarden/internal/github"
	"github.com/hookwarden/hookwarden/internal/metrics"
)

// hookChanges lists the fields of current that differ from desired; events
// and active only where the target's API sets them.
func hookChanges(current *gogithub.Hook, desired desiredHook, secretChanged bool, can ghclient.Abilities) []string {
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
	if !can.Events {
		return changes
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

// deleteHook removes one hook; a hook already gone counts as removed. A hook
// the target's API cannot delete (a GitHub App's webhook) is left as it is,
// with an Event saying so.
func (r *GitHubIntegrationReconciler) deleteHook(ctx context.Context, obj *hookv1.GitHubIntegration, svc ghclient.HookService, id int64) error {
	if !svc.Abilities().Delete {
		ctrl.LoggerFrom(ctx).Info("Left hook that GitHub's API cannot delete", "target", svc.Target(), "id", id)
		r.normal(obj, hookv1.EventHookLeft, "Delete", fmt.Sprintf(
			"Left the webhook of %s %s as it is: GitHub's API cannot delete it; it keeps delivering to %s until you change or deactivate it in the App's settings",
			ghclient.TargetKind(svc.Target()), svc.Target(), defaulted(obj.Status.PayloadURL, "the payload URL")))
		return nil
	}
	err := svc.Delete(ctx, id)
	if err != nil && !ghclient.IsNotFound(err) {
		return err
	}
	ctrl.LoggerFrom(ctx).Info("Deleted hook", "target", svc.Target(), "id", id, "alreadyGone", err != nil)
	r.normal(obj, hookv1.EventHookDeleted, "Delete", fmt.Sprintf("Removed hook %d from %s", id, svc.Target()))
	return nil
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
	metrics.HooksRegistered.WithLabelValues(obj.Namespace, obj.Name).Set(float64(registered))
	// The redeliveries counter exists from the first reconcile, so that
	// increase() sees the first redelivery.
	metrics.Redeliveries.WithLabelValues(obj.Namespace, obj.Name)
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
