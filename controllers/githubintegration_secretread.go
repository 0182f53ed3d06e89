package controllers

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	ghclient "github.com/hookwarden/hookwarden/internal/github"
	"github.com/hookwarden/hookwarden/internal/webhooksecret"
)

// integrationSecret is what the referenced Secret provides.
type integrationSecret struct {
	// tokenKey names the key the token came from, for error messages.
	tokenKey string
	// secretName is the referenced Secret's name, for error messages.
	secretName string
	creds      ghclient.Credentials
	// webhookSecret signs deliveries; sent to GitHub only when a hook is
	// created or its fingerprint changed.
	webhookSecret string
	fingerprint   string
	// applied is the operator-owned Secret holding the secret the hooks
	// carry; nil in the deletion path, which does not rotate.
	applied *corev1.Secret
	// terminating: the referenced Secret is being deleted and kept only by
	// the protection finalizer.
	terminating bool
	// settle: a rotation started less than SecretPropagationDelay ago;
	// the hooks get the new secret once every receiver has read it, after
	// this wait.
	settle time.Duration
	// rotationStarted is when the rotation in progress started; zero when
	// none is, or for one started before the start was recorded.
	rotationStarted time.Time
	// waitingFor names the receivers a rotation waits for, in the split
	// layout.
	waitingFor []string
	// noPrevious: there is no previous Secret, known without reading it
	// (a new integration, not rotating; see labelledSecretMayExist).
	noPrevious bool
}

// credentials names the credentials in messages, never their value: the
// token's key, or the App and installation and their keys.
func (s *integrationSecret) credentials() string {
	if s.creds.IsApp() {
		return fmt.Sprintf("GitHub App %d, installation %d (keys %q, %q and %q of Secret %q)",
			s.creds.App.AppID, s.creds.App.InstallationID, appIDKey, installationIDKey, privateKeyKey, s.secretName)
	}
	return fmt.Sprintf("the token in key %q of Secret %q", s.tokenKey, s.secretName)
}

// rotating reports whether the hooks carry another secret than the user's.
func (s *integrationSecret) rotating() bool {
	return s.applied != nil && !bytes.Equal(webhooksecret.Value(s.applied), []byte(s.webhookSecret))
}

// readSecret reads and checks the referenced Secret. With generate, a
// missing or empty webhook secret key is filled with a generated secret
// (secretRotation.interval > 0: hookwarden manages the secret). known,
// when not nil, is the Secret as this reconcile already read it.
func (r *GitHubIntegrationReconciler) readSecret(ctx context.Context, obj *hookv1.GitHubIntegration, generate bool, known *corev1.Secret) (*corev1.Secret, *integrationSecret, error) {
	secret, sec, err := r.checkSecret(ctx, obj, generate, known)
	if err != nil && secret != nil {
		// Not usable yet, but referenced: labelled, it is in the caches,
		// and its fix wakes the integration.
		if lerr := r.claimSecret(ctx, secret, false); lerr != nil {
			return nil, nil, lerr
		}
	}
	if err != nil {
		return nil, nil, err
	}
	return secret, sec, nil
}

// checkSecret is readSecret without the label: on an error about the
// Secret's content it also returns the Secret read. known, when not nil,
// is used instead of reading the Secret.
func (r *GitHubIntegrationReconciler) checkSecret(ctx context.Context, obj *hookv1.GitHubIntegration, generate bool, known *corev1.Secret) (*corev1.Secret, *integrationSecret, error) {
	secret, sec, err := known, (*integrationSecret)(nil), error(nil)
	if known != nil {
		sec, err = readCredentials(known, obj, obj.GetTokenKey())
	} else {
		secret, sec, err = readToken(ctx, r.APIReader, obj)
	}
	if err != nil {
		return secret, nil, err
	}
	ref := obj.Spec.SecretRef
	webhookKey := obj.GetWebhookSecretKey()
	webhookSecret, ok := secret.Data[webhookKey]
	if generate && len(webhookSecret) == 0 {
		generated, err := r.generateWebhookSecret(ctx, obj, secret, sec)
		if err != nil {
			return nil, nil, err
		}
		return secret, generated, nil
	}
	if !ok {
		return secret, nil, stalledError(hookv1.ReasonInvalidSecret,
			fmt.Sprintf("Secret %q has no key %q: set it to a random string of at least %d characters", ref.Name, webhookKey, webhooksecret.MinWebhookSecretLength))
	}
	if err := webhooksecret.Validate(webhookKey, webhookSecret); err != nil {
		return secret, nil, stalledError(hookv1.ReasonInvalidSecret, fmt.Sprintf("Secret %q: %v", ref.Name, err))
	}
	sec.setWebhookSecret(obj, string(webhookSecret))
	return secret, sec, nil
}

// unwatchedSecretRetry is how often hookwarden looks again at a Secret no
// watch reports: a referenced Secret that does not exist yet, or a Secret of
// someone else's in the way of an owned one. hookwarden watches only the
// Secrets it labelled (webhooksecret.ReferencedLabel).
const unwatchedSecretRetry = 5 * time.Second

// readToken reads the Secret an integration references, straight from the
// API server, and the GitHub token in it: what every GitHub call of the
// integration, and of the GitHubIssues that use it, needs. When the token
// is missing or not valid it returns the Secret with the error.
func readToken(ctx context.Context, reader client.Reader, obj *hookv1.GitHubIntegration) (*corev1.Secret, *integrationSecret, error) {
	ref := obj.Spec.SecretRef
	tokenKey := obj.GetTokenKey()
	webhookKey := obj.GetWebhookSecretKey()

	var secret corev1.Secret
	if err := reader.Get(ctx, client.ObjectKey{Namespace: obj.Namespace, Name: ref.Name}, &secret); err != nil {
		if apierrors.IsNotFound(err) {
			notFound := stalledError(hookv1.ReasonSecretNotFound,
				fmt.Sprintf("Secret %q not found in namespace %q: create it with the keys %q and %q", ref.Name, obj.Namespace, tokenKey, webhookKey))
			notFound.retryAfter = unwatchedSecretRetry
			return nil, nil, notFound
		}
		return nil, nil, fmt.Errorf("get Secret %q: %w", ref.Name, err)
	}

	sec, err := readCredentials(&secret, obj, tokenKey)
	if err != nil {
		return &secret, nil, err
	}
	return &secret, sec, nil
}

// withCarriedSecretNote adds to a problem with the user's Secret (missing,
// or a key missing or invalid) what still works meanwhile: the hooks on
// GitHub keep the webhook secret they were given, kept in the applied
// Secret, which the receiver goes on accepting; nothing here deletes or
// overwrites it. Users who see Ready=False must know that deliveries are
// not being lost while they fix the Secret.
func (r *GitHubIntegrationReconciler) withCarriedSecretNote(ctx context.Context, obj *hookv1.GitHubIntegration, err error) error {
	var step *stepError
	if !errors.As(err, &step) || (step.reason != hookv1.ReasonSecretNotFound && step.reason != hookv1.ReasonInvalidSecret) {
		return err
	}
	applied, perr := r.peekOwnedSecret(ctx, obj, webhooksecret.AppliedName(obj.Name))
	if perr != nil || applied == nil || len(webhooksecret.Value(applied)) == 0 {
		return err
	}
	out := *step
	out.message += fmt.Sprintf("; meanwhile the hooks keep the webhook secret they carry (%s, kept in Secret %q) and deliveries signed with it are still accepted",
		webhooksecret.Fingerprint(webhooksecret.Value(applied), string(obj.UID)), applied.Name)
	return &out
}

// noteSecretTerminating adds to Ready that the referenced Secret is being
// deleted: it stays, and keeps working, while this integration needs its
// token; the way to part with it is to reference another Secret.
func noteSecretTerminating(obj *hookv1.GitHubIntegration) {
	c := apimeta.FindStatusCondition(obj.Status.Conditions, hookv1.ConditionReady)
	if c == nil {
		return
	}
	setCondition(obj, hookv1.ConditionReady, c.Status, c.Reason, fmt.Sprintf(
		"%s; Secret %q is being deleted: hookwarden keeps it (finalizer %s) and goes on using it while this integration may need its token to remove the hooks; to replace it, create a Secret under another name and set spec.secretRef.name to it",
		c.Message, obj.Spec.SecretRef.Name, hookv1.SecretProtectionFinalizer))
}

// setWebhookSecret records the secret and its fingerprint in status.
func (s *integrationSecret) setWebhookSecret(obj *hookv1.GitHubIntegration, value string) {
	s.webhookSecret = value
	s.fingerprint = webhooksecret.Fingerprint([]byte(value), string(obj.UID))
	if obj.Status.WebhookSecret == nil {
		obj.Status.WebhookSecret = &hookv1.WebhookSecretStatus{}
	}
	obj.Status.WebhookSecret.Fingerprint = s.fingerprint
}

// owned makes s, one of the operator-owned Secrets, controlled by the
// integration, so it goes with it.
func (r *GitHubIntegrationReconciler) owned(obj *hookv1.GitHubIntegration, s *corev1.Secret) *corev1.Secret {
	// The scheme always knows GitHubIntegration and the integration has a
	// UID: this cannot fail.
	_ = controllerutil.SetControllerReference(obj, s, r.Scheme)
	return s
}

// writeOwnedSecret creates desired, or turns current (read in this
// reconcile) into it with a merge patch guarded by current's
// resourceVersion: a patch, not an Update, so hookwarden needs no update
// permission on Secrets.
func (r *GitHubIntegrationReconciler) writeOwnedSecret(ctx context.Context, current, desired *corev1.Secret) error {
	if current == nil {
		if err := r.Create(ctx, desired); err != nil {
			return fmt.Errorf("create Secret %q: %w", desired.Name, err)
		}
		return nil
	}
	next := current.DeepCopy()
	next.Labels, next.Annotations, next.OwnerReferences = desired.Labels, desired.Annotations, desired.OwnerReferences
	next.Type, next.Data, next.StringData = desired.Type, desired.Data, nil
	if err := r.Patch(ctx, next, client.MergeFromWithOptions(current, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("update Secret %q: %w", desired.Name, err)
	}
	desired.ObjectMeta = next.ObjectMeta
	return nil
}

// getOwnedSecret reads one of the operator-owned Secrets; nil when it does
// not exist. One left behind by an earlier object of the same name (labelled
// as hookwarden's, its controller gone or never set) is adopted: deleting an
// integration and creating it again, as `kubectl replace --force` or Argo
// CD's Replace do, must not stall on the Secrets the garbage collector has
// not removed yet. Its content is kept: the hooks on GitHub may still carry
// that applied secret, so a different secret in the user's Secret goes
// through the usual rotation. A Secret of that name that is not hookwarden's
// is refused rather than overwritten or trusted.
func (r *GitHubIntegrationReconciler) getOwnedSecret(ctx context.Context, obj *hookv1.GitHubIntegration, name string) (*corev1.Secret, error) {
	s, err := r.peekOwnedSecret(ctx, obj, name)
	if err != nil || s == nil {
		return s, err
	}
	if !metav1.IsControlledBy(s, obj) {
		if s, err = r.adoptOwnedSecret(ctx, obj, s); err != nil {
			return nil, err
		}
	}
	// Written before the label existed: labelled now, so that the caches
	// see it.
	if err := r.claimSecret(ctx, s, false); err != nil {
		return nil, err
	}
	return s, nil
}

// peekOwnedSecret reads one of the operator-owned Secrets without writing
// anything: nil when it does not exist, an error when it exists but is
// neither this integration's nor adoptable by it.
func (r *GitHubIntegrationReconciler) peekOwnedSecret(ctx context.Context, obj *hookv1.GitHubIntegration, name string) (*corev1.Secret, error) {
	s := &corev1.Secret{}
	if err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: obj.Namespace, Name: name}, s); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("get Secret %q: %w", name, err)
	}
	if why := notAdoptable(s, obj); why != "" {
		inTheWay := stalledError(hookv1.ReasonInvalidSecret, fmt.Sprintf(
			"Secret %q exists but is not hookwarden's: it %s. hookwarden keeps this integration's webhook secrets under that name; delete or rename that Secret and the integration continues at once", name, why))
		inTheWay.retryAfter = unwatchedSecretRetry
		return nil, inTheWay
	}
	return s, nil
}

// notAdoptable says why s, found under the name of one of obj's owned
// Secrets, may not be used by obj; empty when it may: it is obj's, or it
// carries hookwarden's labels for obj's name and its controller, if any, is
// an earlier GitHubIntegration of that name (which no longer exists, since
// obj holds the name now).
func notAdoptable(s *corev1.Secret, obj *hookv1.GitHubIntegration) string {
	if metav1.IsControlledBy(s, obj) {
		return ""
	}
	if !webhooksecret.HasLabels(s, obj.Name) {
		return fmt.Sprintf("lacks the labels %s=%s and %s=%s of the Secrets hookwarden creates",
			webhooksecret.ManagedByLabel, webhooksecret.ManagedByValue, webhooksecret.IntegrationLabel, obj.Name)
	}
	ref := metav1.GetControllerOf(s)
	if ref == nil || isEarlierIntegration(*ref, obj) {
		return ""
	}
	return fmt.Sprintf("is controlled by %s %q", ref.Kind, ref.Name)
}

// isEarlierIntegration: ref names a GitHubIntegration of obj's name with
// another UID.
func isEarlierIntegration(ref metav1.OwnerReference, obj *hookv1.GitHubIntegration) bool {
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	return err == nil && gv.Group == hookv1.GroupVersion.Group && ref.Kind == "GitHubIntegration" &&
		ref.Name == obj.Name && ref.UID != obj.UID
}

// adoptOwnedSecret moves the controller reference of a Secret left by an
// earlier object of the same name to obj, with a metadata patch guarded by
// the resourceVersion read: the garbage collector may be deleting it at the
// same moment, and then the next reconcile creates it afresh.
func (r *GitHubIntegrationReconciler) adoptOwnedSecret(ctx context.Context, obj *hookv1.GitHubIntegration, s *corev1.Secret) (*corev1.Secret, error) {
	base := s.DeepCopy()
	var previousOwner types.UID
	refs := s.OwnerReferences[:0:0]
	for _, ref := range s.OwnerReferences {
		if isEarlierIntegration(ref, obj) {
			previousOwner = ref.UID
			continue
		}
		refs = append(refs, ref)
	}
	s.OwnerReferences = refs
	if err := controllerutil.SetControllerReference(obj, s, r.Scheme); err != nil {
		return nil, fmt.Errorf("adopt Secret %q: %w", s.Name, err)
	}
	if err := r.Patch(ctx, s, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		return nil, fmt.Errorf("adopt Secret %q: %w", s.Name, err)
	}
	ctrl.LoggerFrom(ctx).Info("Adopted a Secret left by an earlier GitHubIntegration of the same name", "secret", s.Name, "previousOwner", previousOwner)
	r.normal(obj, hookv1.EventSecretAdopted, "Adopt", fmt.Sprintf(
		"Adopted Secret %q, left by an earlier GitHubIntegration of the same name; its webhook secret is kept, since the hooks on GitHub may carry it", s.Name))
	return s, nil
}

func defaulted(v, def string) string {
	if v == "" {
		return def
	}
	return v
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
	key := obj.GetWebhookSecretKey()
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

// Secret keys of GitHub App authentication and of GitHub Enterprise
// Server's private CA.
const (
	appIDKey          = "app_id"
	installationIDKey = "installation_id"
	privateKeyKey     = "private_key"
	caKey             = "ca.crt"
)

// readCredentials reads the GitHub credentials of the Secret: the token
// key, or, without it, a GitHub App's keys; and the optional CA. Only the
// keys' names ever reach a message.
func readCredentials(secret *corev1.Secret, obj *hookv1.GitHubIntegration, tokenKey string) (*integrationSecret, error) {
	sec := &integrationSecret{tokenKey: tokenKey, secretName: secret.Name}
	sec.creds.CA = string(secret.Data[caKey])
	if token := secret.Data[tokenKey]; len(token) > 0 {
		sec.creds.Token = string(token)
		return sec, nil
	}
	if _, hasApp := secret.Data[appIDKey]; hasApp {
		app, err := readAppCredentials(secret)
		if err != nil {
			return nil, err
		}
		sec.creds.App = app
		return sec, nil
	}
	what := "has no key"
	if _, ok := secret.Data[tokenKey]; ok {
		what = "has an empty key"
	}
	return nil, stalledError(hookv1.ReasonInvalidSecret, fmt.Sprintf(
		"Secret %q %s %q: set it to a GitHub token with %s; or, for a GitHub App, set the keys %q, %q and %q instead",
		secret.Name, what, tokenKey, targetsAccess(obj), appIDKey, installationIDKey, privateKeyKey))
}

// readAppCredentials reads app_id, installation_id and private_key; whether
// the key is one GitHub accepts is checked when the client is made.
func readAppCredentials(secret *corev1.Secret) (ghclient.AppCredentials, error) {
	id := func(key, what string) (int64, error) {
		raw := strings.TrimSpace(string(secret.Data[key]))
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || n <= 0 {
			problem := "is missing"
			if _, ok := secret.Data[key]; ok {
				problem = "is not a positive number"
			}
			return 0, stalledError(hookv1.ReasonInvalidSecret, fmt.Sprintf(
				"Secret %q: key %q %s: set it to %s", secret.Name, key, problem, what))
		}
		return n, nil
	}
	appID, err := id(appIDKey, "the App's ID (the App's settings page shows it as \"App ID\")")
	if err != nil {
		return ghclient.AppCredentials{}, err
	}
	installationID, err := id(installationIDKey, "the ID of the App's installation on the account (the number at the end of the installation's settings URL)")
	if err != nil {
		return ghclient.AppCredentials{}, err
	}
	key := secret.Data[privateKeyKey]
	if len(key) == 0 {
		return ghclient.AppCredentials{}, stalledError(hookv1.ReasonInvalidSecret, fmt.Sprintf(
			"Secret %q: key %q is missing or empty: set it to the App's private key (the .pem file generated in the App's settings)", secret.Name, privateKeyKey))
	}
	return ghclient.AppCredentials{AppID: appID, InstallationID: installationID, PrivateKey: string(key)}, nil
}

// targetsAccess is what the credentials need for the integration's
// targets (the first target's kind: they are all of one kind).
func targetsAccess(obj *hookv1.GitHubIntegration) ghclient.Access {
	targets := obj.Targets()
	if len(targets) == 0 {
		return ghclient.RepositoryHookAccess
	}
	return ghclient.AccessFor(targets[0])
}

// generatedSecretBytes is the entropy of a webhook secret hookwarden
// generates (hex-encoded, so twice as many characters).
const generatedSecretBytes = 32
