package webhookserver

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	"github.com/hookwarden/hookwarden/internal/secrets"
)

// Defaults of the spec fields the receiver reads, for objects created before
// the CRD defaulted them.
const (
	defaultWebhookSecretKey = "webhook_secret"
	defaultPullRequestKey   = "experiment_key"
)

// handledEvents are the events the receiver records beyond counting them.
var handledEvents = map[string]bool{"push": true, "pull_request": true, "issues": true}

// integration is what the receiver needs of a GitHubIntegration, copied out
// of the informer so the request path reads a small immutable value.
type integration struct {
	key types.NamespacedName
	// name is key as "namespace/name", for log lines and metric labels.
	name           string
	uid            types.UID
	allEvents      bool
	events         map[string]bool
	pullRequestKey string
	issueLabel     string
	secretName     string
	secretKey      string
	// linked holds the link keys status shows, to tell when one appears.
	linked map[itemKey]string
}

// subscribed reports whether the integration's spec.events lists event.
func (in *integration) subscribed(event string) bool {
	return in.allEvents || in.events[event]
}

func newIntegration(obj *hookv1.GitHubIntegration) *integration {
	in := &integration{
		key:            client.ObjectKeyFromObject(obj),
		name:           client.ObjectKeyFromObject(obj).String(),
		uid:            obj.UID,
		events:         map[string]bool{},
		pullRequestKey: obj.Spec.Links.PullRequestKey,
		issueLabel:     obj.Spec.Links.IssueLabel,
		secretName:     obj.Spec.SecretRef.Name,
		secretKey:      obj.Spec.SecretRef.WebhookSecretKey,
		linked:         map[itemKey]string{},
	}
	events := obj.Spec.Events
	if len(events) == 0 {
		events = []string{"push", "pull_request", "issues"}
	}
	for _, e := range events {
		if e == "*" {
			in.allEvents = true
		}
		in.events[e] = true
	}
	if in.pullRequestKey == "" {
		in.pullRequestKey = defaultPullRequestKey
	}
	if in.secretKey == "" {
		in.secretKey = defaultWebhookSecretKey
	}
	for _, pr := range obj.Status.PullRequests {
		in.linked[itemKey{pr.Repository, pr.Number}] = pr.LinkKey
	}
	return in
}

// secretState is the webhook secrets of one integration, as last read.
type secretState struct {
	secrets WebhookSecrets
	// problem says why no secret is usable, so that every delivery is
	// answered 503; never a value.
	problem string
	// degraded says what is wrong with the integration's Secret while the
	// applied secret (or the previous one, until it expires) is still
	// accepted; never a value.
	degraded string
}

// logProblem logs what is wrong with the integration's webhook secret, if
// anything, and what the receiver does meanwhile.
func (st *secretState) logProblem(log logr.Logger, integration string) {
	switch {
	case st.problem != "":
		log.Info("Webhook secret not usable: deliveries are answered 503 until it is fixed",
			"integration", integration, "problem", st.problem)
	case st.degraded != "" && len(st.secrets.Applied) > 0:
		log.Info("Webhook secret in the integration's Secret not usable: deliveries signed with the applied secret, "+
			"which the hooks on GitHub carry, are still accepted; fix the Secret to change it",
			"integration", integration, "problem", st.degraded)
	case st.degraded != "":
		log.Info("Webhook secret in the integration's Secret not usable: deliveries signed with the previous secret "+
			"are still accepted until it expires; fix the Secret before then",
			"integration", integration, "problem", st.degraded, "previousExpires", st.secrets.PreviousExpires)
	}
}

// store holds the known integrations and their webhook secrets in memory:
// the request path never calls the API server. Only Secrets that an
// integration references are read, so memory does not grow with unrelated
// Secrets.
type store struct {
	mu           sync.RWMutex
	integrations map[types.NamespacedName]*integration
	secrets      map[types.NamespacedName]*secretState
	// referrers maps a Secret to the integrations that read it.
	referrers map[types.NamespacedName]map[types.NamespacedName]bool
}

func newStore() *store {
	return &store{
		integrations: map[types.NamespacedName]*integration{},
		secrets:      map[types.NamespacedName]*secretState{},
		referrers:    map[types.NamespacedName]map[types.NamespacedName]bool{},
	}
}

// lookup returns the integration and its secrets.
func (s *store) lookup(key types.NamespacedName) (*integration, WebhookSecrets, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	in, ok := s.integrations[key]
	if !ok {
		return nil, WebhookSecrets{}, false
	}
	var ws WebhookSecrets
	if st := s.secrets[key]; st != nil {
		ws = st.secrets
	}
	return in, ws, true
}

// upsert stores an integration and reports whether its secrets must be
// (re)read: it is new or references another Secret or key.
func (s *store) upsert(in *integration) (secretChanged bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.integrations[in.key]
	if old != nil {
		s.unrefLocked(old)
	}
	s.integrations[in.key] = in
	s.refLocked(in)
	return old == nil || old.secretName != in.secretName || old.secretKey != in.secretKey || old.uid != in.uid
}

// remove forgets an integration and its secrets.
func (s *store) remove(key types.NamespacedName) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.integrations[key]; old != nil {
		s.unrefLocked(old)
	}
	delete(s.integrations, key)
	delete(s.secrets, key)
}

// setSecrets stores the secrets read for an integration still known.
func (s *store) setSecrets(key types.NamespacedName, st *secretState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.integrations[key]; ok {
		s.secrets[key] = st
	}
}

// linkedKey returns the link key status shows for a pull request.
func (s *store) linkedKey(key types.NamespacedName, pr itemKey) (string, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	in := s.integrations[key]
	if in == nil {
		return "", false
	}
	v, ok := in.linked[pr]
	return v, ok
}

// referrersOf returns the integrations whose secrets live in the Secret.
func (s *store) referrersOf(secret types.NamespacedName) []types.NamespacedName {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var keys []types.NamespacedName
	for k := range s.referrers[secret] {
		keys = append(keys, k)
	}
	return keys
}

// keys returns every known integration.
func (s *store) keys() []types.NamespacedName {
	s.mu.RLock()
	defer s.mu.RUnlock()
	keys := make([]types.NamespacedName, 0, len(s.integrations))
	for k := range s.integrations {
		keys = append(keys, k)
	}
	return keys
}

func (s *store) secretRefs(in *integration) []types.NamespacedName {
	return []types.NamespacedName{
		{Namespace: in.key.Namespace, Name: in.secretName},
		{Namespace: in.key.Namespace, Name: hookv1.AppliedWebhookSecretName(in.key.Name)},
		{Namespace: in.key.Namespace, Name: hookv1.PreviousWebhookSecretName(in.key.Name)},
	}
}

func (s *store) refLocked(in *integration) {
	for _, ref := range s.secretRefs(in) {
		if s.referrers[ref] == nil {
			s.referrers[ref] = map[types.NamespacedName]bool{}
		}
		s.referrers[ref][in.key] = true
	}
}

func (s *store) unrefLocked(in *integration) {
	for _, ref := range s.secretRefs(in) {
		delete(s.referrers[ref], in.key)
		if len(s.referrers[ref]) == 0 {
			delete(s.referrers, ref)
		}
	}
}

// readSecrets reads an integration's webhook secrets from the API server:
// the current one from its Secret, the one the hooks carry from the
// operator-owned <name>-applied-webhook-secret Secret, and the previous one,
// with its expiry, from the operator-owned <name>-previous-webhook-secret
// Secret. Only the secret bytes are kept. A missing or unusable current
// secret is reported, not returned as an error: in degraded while the
// applied or previous secret is still accepted, in problem when nothing is.
//
// Accepting the applied secret is what makes a change of the user's Secret
// safe before the reconciler has pushed it to GitHub, even while the
// operator's reconciler is down: the hooks keep signing with the applied
// secret until they carry the new one. For the same reason a bad edit of the
// user's Secret (a webhook secret too short, a key renamed, the Secret
// deleted by mistake) does not stop deliveries: the reconciler never pushes
// an invalid secret, so the hooks still sign with the applied one.
func readSecrets(ctx context.Context, reader client.Reader, in *integration) (*secretState, error) {
	st := &secretState{}
	var problem string
	current := &corev1.Secret{}
	err := reader.Get(ctx, types.NamespacedName{Namespace: in.key.Namespace, Name: in.secretName}, current)
	switch {
	case apierrors.IsNotFound(err):
		problem = fmt.Sprintf("Secret %q not found", in.secretName)
	case err != nil:
		return nil, fmt.Errorf("get Secret %s/%s: %w", in.key.Namespace, in.secretName, err)
	default:
		value, ok := current.Data[in.secretKey]
		if !ok {
			problem = fmt.Sprintf("Secret %q has no key %q", in.secretName, in.secretKey)
		} else if err := secrets.ValidateWebhookSecret(in.secretKey, value); err != nil {
			problem = fmt.Sprintf("Secret %q: %v", in.secretName, err)
		} else {
			st.secrets.Current = value
		}
	}

	appliedName := hookv1.AppliedWebhookSecretName(in.key.Name)
	applied := &corev1.Secret{}
	err = reader.Get(ctx, types.NamespacedName{Namespace: in.key.Namespace, Name: appliedName}, applied)
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return nil, fmt.Errorf("get Secret %s/%s: %w", in.key.Namespace, appliedName, err)
	default:
		if value := applied.Data[hookv1.AppliedWebhookSecretKey]; len(value) > 0 && !bytes.Equal(value, st.secrets.Current) {
			st.secrets.Applied = value
		}
	}

	previousName := hookv1.PreviousWebhookSecretName(in.key.Name)
	previous := &corev1.Secret{}
	err = reader.Get(ctx, types.NamespacedName{Namespace: in.key.Namespace, Name: previousName}, previous)
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return nil, fmt.Errorf("get Secret %s/%s: %w", in.key.Namespace, previousName, err)
	default:
		expires, perr := time.Parse(time.RFC3339, strings.TrimSpace(previous.Annotations[hookv1.ExpiresAnnotation]))
		value := previous.Data[hookv1.PreviousWebhookSecretKey]
		// Without a valid expiry the previous secret is not accepted: a
		// secret that never expires would defeat the rotation.
		if perr == nil && len(value) > 0 {
			st.secrets.Previous = value
			st.secrets.PreviousExpires = expires
		}
	}

	switch {
	case problem == "":
	case len(st.secrets.Applied) > 0 || len(st.secrets.Previous) > 0 && time.Now().Before(st.secrets.PreviousExpires):
		st.degraded = problem
	default:
		st.problem = problem
	}
	return st, nil
}
