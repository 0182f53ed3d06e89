package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	gogithub "github.com/google/go-github/v60/github"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	ghclient "github.com/hookwarden/hookwarden/internal/github"
)

// reconcileHooks makes every target's hook match the spec, removes the hooks
// of targets dropped from the spec, and records them in status; it returns
// the IDs of the hooks it created, and the failure to report, or the
// *ghclient.PacingDeferredError of a change the token's pacing deferred
// (ctx from ghclient.DeferPacing).
func (r *GitHubIntegrationReconciler) reconcileHooks(ctx context.Context, obj *hookv1.GitHubIntegration, gh *ghclient.Client, sec *integrationSecret) ([]int64, error) {
	payloadURL := obj.PayloadURL(r.PublicURL)
	if payloadURL == "" {
		return nil, stalledError(hookv1.ReasonPayloadURLUnset,
			"No payload URL: set spec.payloadURL, or run the operator with --public-url")
	}
	obj.Status.PayloadURL = payloadURL

	desired := hookConfigFor(obj, payloadURL, sec)
	// What the status shows, with the hooks this process wrote that the
	// cache does not show yet (writtenHooks).
	key := client.ObjectKeyFromObject(obj)
	read := slices.Clone(obj.Status.Hooks)
	known := r.written.overlay(key, read)
	previous := map[string]hookv1.HookStatus{}
	for _, hs := range known {
		previous[hs.Target] = hs
	}

	var (
		hooks    []hookv1.HookStatus
		created  []int64
		failures []targetFailure
		// stop is set by a rate limit or a deferral by the token's
		// pacing: the remaining targets wait too.
		stop     bool
		deferred *ghclient.PacingDeferredError
	)
	// fail records err for a target; a deferral is no failure.
	fail := func(target string, err error) string {
		if errors.As(err, &deferred) {
			stop = true
			return ""
		}
		f := newTargetFailure(target, err)
		failures = append(failures, f)
		stop = f.err.Kind == ghclient.RateLimited
		return f.err.Error()
	}
	for _, target := range obj.Targets() {
		hs, ok := previous[target]
		if !ok {
			hs = hookv1.HookStatus{Target: target}
		}
		delete(previous, target)
		if !stop {
			made, err := r.syncTargetHook(ctx, obj, gh, target, desired, &hs)
			if err != nil {
				if msg := fail(target, err); msg != "" {
					hs.LastError = msg
				}
			}
			if made {
				created = append(created, hs.ID)
			}
		}
		hooks = append(hooks, hs)
	}
	for _, hs := range known {
		if _, dropped := previous[hs.Target]; !dropped {
			continue
		}
		if hs.ID != 0 && !stop {
			if err := r.deleteDroppedHook(ctx, obj, gh, hs); err != nil {
				if msg := fail(hs.Target, err); msg != "" {
					hs.LastError = msg
				}
				hooks = append(hooks, hs)
			}
			continue
		}
		if hs.ID != 0 {
			hooks = append(hooks, hs) // removed once the rate limit resets
		}
	}
	setHooks(obj, hooks)
	r.written.remember(key, read, hooks)

	if len(failures) > 0 {
		return created, summarizeFailures(obj, sec, failures)
	}
	if deferred != nil {
		return created, deferred
	}
	return created, nil
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

// syncTargetHook brings one target's hook in line with desired and records
// it in hs. The hook ID is never dropped on an error other than 404.
func (r *GitHubIntegrationReconciler) syncTargetHook(ctx context.Context, obj *hookv1.GitHubIntegration, gh *ghclient.Client,
	target string, desired desiredHook, hs *hookv1.HookStatus) (bool, error) {
	svc, err := hookService(gh, target)
	if err != nil {
		return false, err
	}
	return r.syncHook(ctx, obj, svc, desired, hs)
}

// hookService is the client's hook service of target; a target the
// credentials cannot serve stalls.
func hookService(gh *ghclient.Client, target string) (ghclient.HookService, error) {
	svc, err := gh.Hooks(target)
	switch {
	case errors.Is(err, ghclient.ErrNeedsAppCredentials):
		return nil, stalledError(hookv1.ReasonInvalidSecret, fmt.Sprintf(
			"%s: %v: set the keys %q, %q and %q of the Secret", target, err, appIDKey, installationIDKey, privateKeyKey))
	case err != nil:
		return nil, stalledError(hookv1.ReasonInvalid, err.Error())
	}
	return svc, nil
}

// syncHook reads the hook (a conditional request: free when unchanged),
// finds or creates it when it is missing, and corrects whatever differs.
// It says whether it created the hook.
func (r *GitHubIntegrationReconciler) syncHook(ctx context.Context, obj *hookv1.GitHubIntegration, svc ghclient.HookService,
	desired desiredHook, hs *hookv1.HookStatus) (bool, error) {
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
			return false, err
		}
	}

	adopted := false
	if current == nil {
		existing, err := findHookByURL(ctx, svc, desired.url)
		if err != nil {
			return false, err
		}
		if existing == nil {
			sent := r.now()
			created, err := svc.Create(ctx, &gogithub.Hook{
				Name:   gogithub.String("web"),
				Config: desired.config(),
				Events: desired.events,
				Active: gogithub.Bool(desired.active),
			})
			if err != nil {
				return false, err
			}
			recordHook(hs, created, desired.fingerprint)
			startCheckpoint(hs, created, sent)
			if lostID != 0 {
				log.Info("Recreated hook deleted on GitHub", "oldID", lostID, "id", created.GetID())
				r.normal(obj, hookv1.EventHookRecreated, "Create", fmt.Sprintf(
					"Hook %d on %s was deleted on GitHub: registered hook %d", lostID, svc.Target(), created.GetID()))
			} else {
				log.Info("Created hook", "id", created.GetID())
				r.normal(obj, hookv1.EventHookCreated, "Create", fmt.Sprintf("Registered hook %d on %s", created.GetID(), svc.Target()))
			}
			return true, nil
		}
		current, adopted = existing, true
		// GitHub never shows the secret: an adopted hook gets ours.
		hs.SecretFingerprint = ""
	}

	changes := hookChanges(current, desired, hs.SecretFingerprint != desired.fingerprint, svc.Abilities())
	if len(changes) > 0 {
		updated, err := editHook(ctx, svc, current, desired, changes)
		if err != nil {
			return false, err
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
	return false, nil
}

// deleteDroppedHook removes the hook of a target dropped from spec.
func (r *GitHubIntegrationReconciler) deleteDroppedHook(ctx context.Context, obj *hookv1.GitHubIntegration, gh *ghclient.Client, hs hookv1.HookStatus) error {
	svc, err := hookService(gh, hs.Target)
	if err != nil {
		return err
	}
	return r.deleteHook(ctx, obj, svc, hs.ID)
}
