package controllers

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	ghclient "github.com/hookwarden/hookwarden/internal/github"
	"github.com/hookwarden/hookwarden/internal/secrets"
)

// Secret keys of GitHub App authentication, recognised to give a clear
// message until App authentication is supported.
const (
	appIDKey          = "app_id"
	installationIDKey = "installation_id"
	privateKeyKey     = "private_key"
)

// DefaultSecretPropagationDelay is the default of
// GitHubIntegrationReconciler.SecretPropagationDelay.
const DefaultSecretPropagationDelay = 3 * time.Second

// generatedSecretBytes is the entropy of a webhook secret hookwarden
// generates (hex-encoded, so twice as many characters).
const generatedSecretBytes = 32

// integrationSecret is what the referenced Secret provides.
type integrationSecret struct {
	// tokenKey names the key the token came from, for error messages.
	tokenKey string
	creds    ghclient.Credentials
	// webhookSecret signs deliveries; sent to GitHub only when a hook is
	// created or its fingerprint changed.
	webhookSecret string
	fingerprint   string
	// applied is the operator-owned Secret holding the secret the hooks
	// carry; nil in the deletion path, which does not rotate.
	applied *corev1.Secret
	// settling: a rotation just started; the hooks get the new secret
	// after SecretPropagationDelay, once every receiver has read it.
	settling bool
}

// rotating reports whether the hooks carry another secret than the user's.
func (s *integrationSecret) rotating() bool {
	return s.applied != nil && !bytes.Equal(s.applied.Data[hookv1.AppliedWebhookSecretKey], []byte(s.webhookSecret))
}

// reconcileSecret reads the referenced Secret on every reconcile (Secrets
// are not cached), generates a new webhook secret when the schedule of
// secretRotation.interval says so, and prepares a rotation when the user's
// secret differs from the one the hooks carry: the secret they carry is
// kept as the previous one, accepted until the grace period ends, before
// any hook is changed. reconcileHooks then pushes the new secret and
// finishRotation records it as applied.
func (r *GitHubIntegrationReconciler) reconcileSecret(ctx context.Context, obj *hookv1.GitHubIntegration) (*integrationSecret, error) {
	source, sec, err := r.readSecret(ctx, obj, obj.Spec.SecretRotation.Interval.Duration > 0)
	if err != nil {
		return nil, err
	}
	applied, err := r.getOwnedSecret(ctx, obj, hookv1.AppliedWebhookSecretName(obj.Name))
	if err != nil {
		return nil, err
	}
	now := r.now()
	if applied != nil && r.scheduledRotationDue(obj, sec, applied, now) {
		if sec, err = r.generateWebhookSecret(ctx, obj, source, sec); err != nil {
			return nil, err
		}
	}
	if applied == nil {
		// First registration (or an integration from before rotation
		// existed): the hooks get the user's secret from the start.
		if applied, err = r.writeAppliedSecret(ctx, obj, nil, sec.webhookSecret, now); err != nil {
			return nil, err
		}
	}
	sec.applied = applied
	if sec.rotating() {
		wrote, err := r.keepPreviousSecret(ctx, obj, applied.Data[hookv1.AppliedWebhookSecretKey], now)
		if err != nil {
			return nil, err
		}
		sec.settling = wrote
	}
	r.rememberToken(obj, sec.creds)
	return sec, nil
}

// readSecret reads and checks the referenced Secret. With generate, a
// missing or empty webhook secret key is filled with a generated secret
// (secretRotation.interval > 0: hookwarden manages the secret).
func (r *GitHubIntegrationReconciler) readSecret(ctx context.Context, obj *hookv1.GitHubIntegration, generate bool) (*corev1.Secret, *integrationSecret, error) {
	ref := obj.Spec.SecretRef
	tokenKey := defaulted(ref.TokenKey, "token")
	webhookKey := webhookSecretKey(obj)

	var secret corev1.Secret
	if err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: obj.Namespace, Name: ref.Name}, &secret); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil, stalledError(hookv1.ReasonSecretNotFound,
				fmt.Sprintf("Secret %q not found in namespace %q: create it with the keys %q and %q", ref.Name, obj.Namespace, tokenKey, webhookKey))
		}
		return nil, nil, fmt.Errorf("get Secret %q: %w", ref.Name, err)
	}

	token, ok := secret.Data[tokenKey]
	if !ok || len(token) == 0 {
		if _, hasApp := secret.Data[appIDKey]; hasApp {
			return nil, nil, stalledError(hookv1.ReasonNotSupported,
				fmt.Sprintf("Secret %q holds GitHub App credentials (%s, %s, %s): App authentication is not supported yet; set key %q to a token",
					ref.Name, appIDKey, installationIDKey, privateKeyKey, tokenKey))
		}
		what := "has no key"
		if ok {
			what = "has an empty key"
		}
		return nil, nil, stalledError(hookv1.ReasonInvalidSecret,
			fmt.Sprintf("Secret %q %s %q: set it to a GitHub token with %s", ref.Name, what, tokenKey, ghclient.RepositoryHookAccess))
	}
	sec := &integrationSecret{tokenKey: tokenKey, creds: ghclient.Credentials{Token: string(token)}}

	webhookSecret, ok := secret.Data[webhookKey]
	if generate && len(webhookSecret) == 0 {
		generated, err := r.generateWebhookSecret(ctx, obj, &secret, sec)
		if err != nil {
			return nil, nil, err
		}
		return &secret, generated, nil
	}
	if !ok {
		return nil, nil, stalledError(hookv1.ReasonInvalidSecret,
			fmt.Sprintf("Secret %q has no key %q: set it to a random string of at least %d characters", ref.Name, webhookKey, secrets.MinWebhookSecretLength))
	}
	if err := secrets.ValidateWebhookSecret(webhookKey, webhookSecret); err != nil {
		return nil, nil, stalledError(hookv1.ReasonInvalidSecret, fmt.Sprintf("Secret %q: %v", ref.Name, err))
	}
	sec.setWebhookSecret(obj, string(webhookSecret))
	return &secret, sec, nil
}

// setWebhookSecret records the secret and its fingerprint in status.
func (s *integrationSecret) setWebhookSecret(obj *hookv1.GitHubIntegration, value string) {
	s.webhookSecret = value
	s.fingerprint = secrets.Fingerprint([]byte(value), string(obj.UID))
	if obj.Status.WebhookSecret == nil {
		obj.Status.WebhookSecret = &hookv1.WebhookSecretStatus{}
	}
	obj.Status.WebhookSecret.Fingerprint = s.fingerprint
}

// scheduledRotationDue: with secretRotation.interval > 0, no rotation in
// progress (the hooks carry the user's secret) and the applied secret at
// least one interval old. A rotation in progress is finished first, so a
// restart never rotates twice.
func (r *GitHubIntegrationReconciler) scheduledRotationDue(obj *hookv1.GitHubIntegration, sec *integrationSecret, applied *corev1.Secret, now time.Time) bool {
	interval := obj.Spec.SecretRotation.Interval.Duration
	if interval <= 0 || !bytes.Equal(applied.Data[hookv1.AppliedWebhookSecretKey], []byte(sec.webhookSecret)) {
		return false
	}
	rotated, ok := annotationTime(applied, hookv1.RotatedAnnotation)
	return !ok || !now.Before(rotated.Add(interval))
}

// generateWebhookSecret writes 32 random bytes (hex) into the webhook
// secret key of the referenced Secret, and nothing else: a merge patch of
// that one key, guarded by the resourceVersion read, so a concurrent edit
// by the user wins and is picked up by the next reconcile. Only called
// when secretRotation.interval > 0 asks hookwarden to manage the secret.
func (r *GitHubIntegrationReconciler) generateWebhookSecret(ctx context.Context, obj *hookv1.GitHubIntegration, source *corev1.Secret, sec *integrationSecret) (*integrationSecret, error) {
	raw := make([]byte, generatedSecretBytes)
	if _, err := rand.Read(raw); err != nil {
		return nil, fmt.Errorf("generate a webhook secret: %w", err)
	}
	value := hex.EncodeToString(raw)
	key := webhookSecretKey(obj)
	base := source.DeepCopy()
	if source.Data == nil {
		source.Data = map[string][]byte{}
	}
	source.Data[key] = []byte(value)
	if err := r.Patch(ctx, source, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		return nil, fmt.Errorf("write the generated webhook secret into key %q of Secret %q: %w", key, source.Name, err)
	}
	out := *sec
	out.setWebhookSecret(obj, value)
	ctrl.LoggerFrom(ctx).Info("Generated a new webhook secret", "secret", source.Name, "key", key, "fingerprint", out.fingerprint)
	r.normal(obj, hookv1.EventSecretGenerated, "Rotate", fmt.Sprintf(
		"Wrote a new webhook secret (%s) into key %q of Secret %q (secretRotation.interval %s)",
		out.fingerprint, key, source.Name, obj.Spec.SecretRotation.Interval.Duration))
	return &out, nil
}

// keepPreviousSecret writes the secret the hooks carry into
// <name>-previous-webhook-secret with an expiry of now + gracePeriod, and
// reports whether it wrote. It is idempotent: when the Secret already holds
// that secret its expiry is kept, so a reconcile repeated mid-rotation (or
// after a restart) never extends the grace period.
func (r *GitHubIntegrationReconciler) keepPreviousSecret(ctx context.Context, obj *hookv1.GitHubIntegration, carried []byte, now time.Time) (bool, error) {
	name := hookv1.PreviousWebhookSecretName(obj.Name)
	previous, err := r.getOwnedSecret(ctx, obj, name)
	if err != nil {
		return false, err
	}
	if previous != nil && bytes.Equal(previous.Data[hookv1.PreviousWebhookSecretKey], carried) {
		if _, ok := annotationTime(previous, hookv1.ExpiresAnnotation); ok {
			return false, nil
		}
	}
	expires := now.Add(gracePeriod(obj))
	desired := r.ownedSecret(obj, name, hookv1.PreviousWebhookSecretKey, carried,
		map[string]string{hookv1.ExpiresAnnotation: expires.UTC().Format(time.RFC3339)})
	if err := r.writeOwnedSecret(ctx, previous, desired); err != nil {
		return false, err
	}
	ctrl.LoggerFrom(ctx).Info("Kept the previous webhook secret for the grace period", "secret", name, "expires", expires.UTC().Format(time.RFC3339))
	return true, nil
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
		oldFingerprint := secrets.Fingerprint(sec.applied.Data[hookv1.AppliedWebhookSecretKey], string(obj.UID))
		applied, err := r.writeAppliedSecret(ctx, obj, sec.applied, sec.webhookSecret, now)
		if err != nil {
			return 0, err
		}
		sec.applied = applied
		expires := "the end of the grace period"
		if previous, err := r.getOwnedSecret(ctx, obj, hookv1.PreviousWebhookSecretName(obj.Name)); err == nil && previous != nil {
			if t, ok := annotationTime(previous, hookv1.ExpiresAnnotation); ok {
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
	if t, ok := annotationTime(sec.applied, hookv1.RotatedAnnotation); ok {
		status.RotatedTime = &metav1.Time{Time: t}
		if interval := obj.Spec.SecretRotation.Interval.Duration; interval > 0 {
			wake = max(t.Add(interval).Sub(now), 0) + time.Second
		}
	}
	previous, err := r.getOwnedSecret(ctx, obj, hookv1.PreviousWebhookSecretName(obj.Name))
	if err != nil || previous == nil {
		status.PreviousExpiresTime = nil
		return wake, err
	}
	expires, ok := annotationTime(previous, hookv1.ExpiresAnnotation)
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
	desired := r.ownedSecret(obj, hookv1.AppliedWebhookSecretName(obj.Name), hookv1.AppliedWebhookSecretKey, []byte(value),
		map[string]string{hookv1.RotatedAnnotation: now.UTC().Format(time.RFC3339)})
	if err := r.writeOwnedSecret(ctx, current, desired); err != nil {
		return nil, err
	}
	return desired, nil
}

// ownedSecret builds one of the operator-owned Secrets: labelled, owned by
// the integration (so it goes with it), one key.
func (r *GitHubIntegrationReconciler) ownedSecret(obj *hookv1.GitHubIntegration, name, key string, value []byte, annotations map[string]string) *corev1.Secret {
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Namespace:   obj.Namespace,
			Labels:      map[string]string{hookv1.ManagedByLabel: hookv1.ManagedByValue, hookv1.IntegrationLabel: obj.Name},
			Annotations: annotations,
		},
		Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{key: bytes.Clone(value)},
	}
	// The scheme always knows GitHubIntegration and the integration has a
	// UID: this cannot fail.
	_ = controllerutil.SetControllerReference(obj, s, r.Scheme)
	return s
}

// writeOwnedSecret creates desired, or replaces current (read in this
// reconcile) with it under current's resourceVersion.
func (r *GitHubIntegrationReconciler) writeOwnedSecret(ctx context.Context, current, desired *corev1.Secret) error {
	if current == nil {
		if err := r.Create(ctx, desired); err != nil {
			return fmt.Errorf("create Secret %q: %w", desired.Name, err)
		}
		return nil
	}
	desired.ResourceVersion = current.ResourceVersion
	desired.UID = current.UID
	if err := r.Update(ctx, desired); err != nil {
		return fmt.Errorf("update Secret %q: %w", desired.Name, err)
	}
	return nil
}

// getOwnedSecret reads one of the operator-owned Secrets; nil when it does
// not exist. A Secret of that name not controlled by the integration is
// refused rather than overwritten or trusted.
func (r *GitHubIntegrationReconciler) getOwnedSecret(ctx context.Context, obj *hookv1.GitHubIntegration, name string) (*corev1.Secret, error) {
	s := &corev1.Secret{}
	if err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: obj.Namespace, Name: name}, s); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("get Secret %q: %w", name, err)
	}
	if !metav1.IsControlledBy(s, obj) {
		return nil, stalledError(hookv1.ReasonInvalidSecret, fmt.Sprintf(
			"Secret %q exists but is not owned by this GitHubIntegration: hookwarden keeps its webhook secrets there; delete or rename it", name))
	}
	return s, nil
}

// annotationTime parses an RFC 3339 annotation of s.
func annotationTime(s *corev1.Secret, key string) (time.Time, bool) {
	if s == nil {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(s.Annotations[key]))
	return t, err == nil
}

// gracePeriod is spec.secretRotation.gracePeriod, 1h when unset.
func gracePeriod(obj *hookv1.GitHubIntegration) time.Duration {
	if d := obj.Spec.SecretRotation.GracePeriod.Duration; d > 0 {
		return d
	}
	return time.Hour
}

// webhookSecretKey is spec.secretRef.webhookSecretKey, webhook_secret when
// unset.
func webhookSecretKey(obj *hookv1.GitHubIntegration) string {
	return defaulted(obj.Spec.SecretRef.WebhookSecretKey, "webhook_secret")
}

func defaulted(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
