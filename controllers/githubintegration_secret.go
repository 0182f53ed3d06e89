package controllers

import (
	"bytes"
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	"github.com/hookwarden/hookwarden/internal/webhooksecret"
)

// reconcileSecret reads the referenced Secret on every reconcile (Secrets
// are not cached), generates a new webhook secret when the schedule of
// secretRotation.interval says so, and prepares a rotation when the user's
// secret differs from the one the hooks carry: the secret they carry is
// kept as the previous one, accepted until the grace period ends, before
// any hook is changed. reconcileHooks then pushes the new secret and
// finishRotation records it as applied. known, when not nil, is the
// referenced Secret as this reconcile already read it; first says that this
// reconcile added the finalizer (see labelledSecretMayExist).
func (r *GitHubIntegrationReconciler) reconcileSecret(ctx context.Context, obj *hookv1.GitHubIntegration, known *corev1.Secret, first bool) (*integrationSecret, error) {
	source, sec, err := r.readSecret(ctx, obj, obj.Spec.SecretRotation.Interval.Duration > 0, known)
	if err != nil {
		return nil, err
	}
	if err := r.protectSecret(ctx, obj, source); err != nil {
		return nil, err
	}
	sec.terminating = !source.DeletionTimestamp.IsZero()
	var applied *corev1.Secret
	if !first || r.labelledSecretMayExist(ctx, obj.Namespace, webhooksecret.AppliedName(obj.Name)) {
		if applied, err = r.getOwnedSecret(ctx, obj, webhooksecret.AppliedName(obj.Name)); err != nil {
			return nil, err
		}
	}
	now := r.now()
	if applied != nil && r.scheduledRotationDue(obj, sec, applied, now) {
		if sec, err = r.generateWebhookSecret(ctx, obj, source, sec); err != nil {
			return nil, err
		}
	}
	created := false
	if applied == nil {
		// First registration (or an integration from before rotation
		// existed): the hooks get the user's secret from the start.
		applied, err = r.writeAppliedSecret(ctx, obj, nil, sec.webhookSecret, now)
		if first && apierrors.IsAlreadyExists(err) {
			// Left by an earlier integration of this name so recently
			// that the cache did not show it: taken over as if read.
			applied, err = r.getOwnedSecret(ctx, obj, webhooksecret.AppliedName(obj.Name))
			if err == nil && applied == nil {
				err = fmt.Errorf("applied Secret %q was there a moment ago and is gone: reconciling again", webhooksecret.AppliedName(obj.Name))
			}
		} else {
			created = err == nil
		}
		if err != nil {
			return nil, err
		}
	}
	sec.applied = applied
	// A new integration whose applied Secret this reconcile created finds
	// nothing of an earlier one: no previous Secret either, unless the
	// cache shows one.
	sec.noPrevious = first && created && !sec.rotating() &&
		!r.labelledSecretMayExist(ctx, obj.Namespace, webhooksecret.PreviousName(obj.Name))
	if sec.rotating() {
		started, err := r.keepPreviousSecret(ctx, obj, webhooksecret.Value(applied), now)
		if err != nil {
			return nil, err
		}
		if !started.IsZero() {
			sec.settle = max(started.Add(r.secretPropagationDelay()).Sub(now), 0)
		}
		sec.rotationStarted = started
	}
	if err := r.syncMirror(ctx, obj, sec); err != nil {
		return nil, err
	}
	if sec.rotating() && r.mirrored() && r.ReceiverService != "" {
		// Known, not guessed: the receivers say which secret they loaded.
		if sec.settle, err = r.awaitReceivers(ctx, obj, sec, now); err != nil {
			return nil, err
		}
	}
	r.rememberToken(obj, sec.creds)
	return sec, nil
}

// labelledSecretMayExist reports whether the cache of labelled Secrets'
// metadata (which the Secret watch fills) may hold namespace/name; any
// answer but "not found" says it may.
//
// Used for a new integration's owned Secrets (first: this reconcile added
// the finalizer, so no reconcile of it got as far as writing one): only an
// earlier integration of the same name may have left one behind, long
// enough ago to be in the cache, labelled as every owned Secret is from its
// creation. So a new integration spares the reads of Secrets that do not
// exist. When the guess is wrong (one left a moment ago, which the cache
// does not show yet), creating the applied Secret fails with "already
// exists", and it is read and taken over then; the previous Secret is read
// whenever the applied one was not created by this reconcile.
func (r *GitHubIntegrationReconciler) labelledSecretMayExist(ctx context.Context, namespace, name string) bool {
	if r.labelledSecrets == nil {
		return true
	}
	meta := secretMetadata(namespace, name)
	return !apierrors.IsNotFound(r.labelledSecrets.Get(ctx, client.ObjectKeyFromObject(meta), meta))
}

// scheduledRotationDue: with secretRotation.interval > 0, no rotation in
// progress (the hooks carry the user's secret) and the applied secret at
// least one interval old. A rotation in progress is finished first, so a
// restart never rotates twice.
func (r *GitHubIntegrationReconciler) scheduledRotationDue(obj *hookv1.GitHubIntegration, sec *integrationSecret, applied *corev1.Secret, now time.Time) bool {
	interval := obj.Spec.SecretRotation.Interval.Duration
	if interval <= 0 || !bytes.Equal(webhooksecret.Value(applied), []byte(sec.webhookSecret)) {
		return false
	}
	rotated, ok := webhooksecret.Time(applied, webhooksecret.RotatedAnnotation)
	return !ok || !now.Before(rotated.Add(interval))
}

// keepPreviousSecret writes the secret the hooks carry into
// <name>-previous-webhook-secret with an expiry of now + gracePeriod and the
// time the rotation started, and returns that start, from which the hooks
// wait for the receivers to learn the new secret (zero for a Secret written
// before the start was recorded, which has waited long enough). It is
// idempotent: when the Secret already holds that secret its expiry and start
// are kept, so a reconcile repeated mid-rotation (after a restart, or woken
// by this very write, by a Secret change or an annotation) neither extends
// the grace period nor cuts the wait short.
func (r *GitHubIntegrationReconciler) keepPreviousSecret(ctx context.Context, obj *hookv1.GitHubIntegration, carried []byte, now time.Time) (time.Time, error) {
	name := webhooksecret.PreviousName(obj.Name)
	previous, err := r.getOwnedSecret(ctx, obj, name)
	if err != nil {
		return time.Time{}, err
	}
	if previous != nil && bytes.Equal(webhooksecret.Value(previous), carried) {
		if _, ok := webhooksecret.Time(previous, webhooksecret.ExpiresAnnotation); ok {
			started, _ := webhooksecret.Time(previous, webhooksecret.SupersededAnnotation)
			return started, nil
		}
	}
	expires := now.Add(obj.GetGracePeriod())
	desired := r.owned(obj, webhooksecret.NewPrevious(obj.Namespace, obj.Name, carried, expires, now))
	if err := r.writeOwnedSecret(ctx, previous, desired); err != nil {
		return time.Time{}, err
	}
	ctrl.LoggerFrom(ctx).Info("Kept the previous webhook secret for the grace period", "secret", name, "expires", expires.UTC().Format(time.RFC3339))
	return now, nil
}

// secretPropagationDelay is how long the rotation waits, after a change of
// the user's secret was first seen, before the hooks get it: every replica's
// receiver learns the new secret through its watch within that time, so no
// delivery signed with it is refused.
func (r *GitHubIntegrationReconciler) secretPropagationDelay() time.Duration {
	if r.SecretPropagationDelay > 0 {
		return r.SecretPropagationDelay
	}
	return DefaultSecretPropagationDelay
}

// finishRotation runs once every hook matches the spec. When every hook
// carries the user's secret and the hooks carried another one, that secret
// becomes the applied one (SecretRotated). In the steady state it removes
// the previous secret once its grace period is over. It fills
// status.webhookSecret from the owned Secrets, and returns when the next
// reconcile is needed for the end of the grace period or the next scheduled
// rotation (zero when neither is pending).
func (r *GitHubIntegrationReconciler) finishRotation(ctx context.Context, obj *hookv1.GitHubIntegration, sec *integrationSecret) (time.Duration, error) {
	now := r.now()
	if sec.rotating() && everyHookCarries(obj, sec.fingerprint) {
		oldFingerprint := webhooksecret.Fingerprint(webhooksecret.Value(sec.applied), string(obj.UID))
		applied, err := r.writeAppliedSecret(ctx, obj, sec.applied, sec.webhookSecret, now)
		if err != nil {
			return 0, err
		}
		sec.applied = applied
		expires := "the end of the grace period"
		if previous, err := r.getOwnedSecret(ctx, obj, webhooksecret.PreviousName(obj.Name)); err == nil && previous != nil {
			if t, ok := webhooksecret.Time(previous, webhooksecret.ExpiresAnnotation); ok {
				expires = t.UTC().Format(time.RFC3339)
			}
		}
		ctrl.LoggerFrom(ctx).Info("Rotated the webhook secret", "from", oldFingerprint, "to", sec.fingerprint, "previousExpires", expires)
		r.normal(obj, hookv1.EventSecretRotated, "Rotate", fmt.Sprintf(
			"Every hook (%d) carries the new webhook secret %s; the previous secret %s is accepted until %s",
			len(obj.Status.Hooks), sec.fingerprint, oldFingerprint, expires))
	}

	status := obj.Status.WebhookSecret
	if status == nil {
		status = &hookv1.WebhookSecretStatus{Fingerprint: sec.fingerprint}
		obj.Status.WebhookSecret = status
	}
	var wake time.Duration
	if t, ok := webhooksecret.Time(sec.applied, webhooksecret.RotatedAnnotation); ok {
		status.RotatedTime = &metav1.Time{Time: t}
		if interval := obj.Spec.SecretRotation.Interval.Duration; interval > 0 {
			wake = max(t.Add(interval).Sub(now), 0) + time.Second
		}
	}
	if sec.noPrevious {
		status.PreviousExpiresTime = nil
		return wake, nil
	}
	previous, err := r.getOwnedSecret(ctx, obj, webhooksecret.PreviousName(obj.Name))
	if err != nil || previous == nil {
		status.PreviousExpiresTime = nil
		return wake, err
	}
	expires, ok := webhooksecret.Time(previous, webhooksecret.ExpiresAnnotation)
	if ok && now.Before(expires) {
		status.PreviousExpiresTime = &metav1.Time{Time: expires}
		return minPositive(wake, expires.Sub(now)+time.Second), nil
	}
	if sec.rotating() {
		// The grace period ended before every hook got the new secret:
		// keep the Secret (the receiver no longer accepts it) until then.
		status.PreviousExpiresTime = &metav1.Time{Time: expires}
		return wake, nil
	}
	if err := r.Delete(ctx, previous, client.Preconditions{UID: &previous.UID}); client.IgnoreNotFound(err) != nil {
		return 0, fmt.Errorf("delete Secret %q: %w", previous.Name, err)
	}
	ctrl.LoggerFrom(ctx).Info("Removed the previous webhook secret: its grace period is over", "secret", previous.Name)
	status.PreviousExpiresTime = nil
	return wake, nil
}

// everyHookCarries reports whether every hook in status was sent the secret
// with this fingerprint.
func everyHookCarries(obj *hookv1.GitHubIntegration, fingerprint string) bool {
	for _, hs := range obj.Status.Hooks {
		if hs.SecretFingerprint != fingerprint {
			return false
		}
	}
	return true
}

// writeAppliedSecret records value as the secret the hooks carry, rotated
// at now.
func (r *GitHubIntegrationReconciler) writeAppliedSecret(ctx context.Context, obj *hookv1.GitHubIntegration, current *corev1.Secret, value string, now time.Time) (*corev1.Secret, error) {
	desired := r.owned(obj, webhooksecret.NewApplied(obj.Namespace, obj.Name, []byte(value), now))
	if err := r.writeOwnedSecret(ctx, current, desired); err != nil {
		return nil, err
	}
	return desired, nil
}
