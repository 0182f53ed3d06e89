package webhookserver

import (
	"slices"
	"sync"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	"github.com/hookwarden/hookwarden/internal/delivery"
	"github.com/hookwarden/hookwarden/internal/webhooksecret"
)

// integration is what the receiver needs of a GitHubIntegration, copied out
// of the informer so the request path reads a small immutable value.
type integration struct {
	key types.NamespacedName
	// name is key as "namespace/name", for log lines and metric labels.
	name      string
	uid       types.UID
	allEvents bool
	// events is spec.events: a short list, scanned (a map per
	// integration would cost more memory than it saves time).
	events         []string
	pullRequestKey string
	issueLabel     string
	secretName     string
	secretKey      string
	// linked holds the link keys status shows, to tell when one appears;
	// nil when there are none.
	linked map[itemKey]string
	// acked is the fingerprint status.receivers shows for each replica;
	// nil when there are none.
	acked map[string]string

	// secrets is the webhook secrets last read for the integration, nil
	// until they are read: the one field that changes, read and written
	// under the store's lock only (lookup hands out a copy). Kept here
	// rather than in a map of their own: a map entry per integration costs
	// more than the field.
	secrets *secretState
}

// defaultEvents is the events of every integration that names none, shared
// by all of them (it is never written to).
var defaultEvents = hookv1.DefaultEvents()

// subscribed reports whether the integration's spec.events lists event.
func (in *integration) subscribed(event string) bool {
	return in.allEvents || slices.Contains(in.events, event)
}

func newIntegration(obj *hookv1.GitHubIntegration) *integration {
	in := &integration{
		key:            client.ObjectKeyFromObject(obj),
		name:           client.ObjectKeyFromObject(obj).String(),
		uid:            obj.UID,
		events:         sharedEvents(obj.GetEvents()),
		pullRequestKey: obj.GetPullRequestKey(),
		issueLabel:     obj.Spec.Links.IssueLabel,
		secretName:     obj.Spec.SecretRef.Name,
		secretKey:      obj.GetWebhookSecretKey(),
	}
	in.allEvents = slices.Contains(in.events, "*")
	if len(obj.Status.Receivers) > 0 {
		in.acked = make(map[string]string, len(obj.Status.Receivers))
		for _, rs := range obj.Status.Receivers {
			in.acked[rs.Name] = rs.SecretFingerprint
		}
	}
	if len(obj.Status.PullRequests) > 0 {
		in.linked = make(map[itemKey]string, len(obj.Status.PullRequests))
		for _, pr := range obj.Status.PullRequests {
			in.linked[itemKey{pr.Repository, pr.Number}] = pr.LinkKey
		}
	}
	return in
}

// sharedEvents is events (a copy of spec.events, or the defaults) without
// spare room, or defaultEvents when it is the defaults.
func sharedEvents(events []string) []string {
	if slices.Equal(events, defaultEvents) {
		return defaultEvents
	}
	return slices.Clip(events)
}

// store holds the known integrations and their webhook secrets in memory:
// the request path never calls the API server. Only Secrets that an
// integration references are read, so memory does not grow with unrelated
// Secrets.
type store struct {
	mu           sync.RWMutex
	integrations map[types.NamespacedName]*integration
}

func newStore() *store {
	return &store{integrations: map[types.NamespacedName]*integration{}}
}

// lookup returns the integration and its secrets.
func (s *store) lookup(key types.NamespacedName) (*integration, delivery.Secrets, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	in, ok := s.integrations[key]
	if !ok {
		return nil, delivery.Secrets{}, false
	}
	var ws delivery.Secrets
	if in.secrets != nil {
		ws = in.secrets.secrets
	}
	return in, ws, true
}

// hasUID reports whether the integration key is known with that UID.
func (s *store) hasUID(key types.NamespacedName, uid types.UID) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	in := s.integrations[key]
	return in != nil && in.uid == uid
}

// has reports whether the integration namespace/name is known.
func (s *store) has(namespace, name string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, ok := s.integrations[types.NamespacedName{Namespace: namespace, Name: name}]
	return ok
}

// upsert stores an integration and reports whether its secrets must be
// (re)read: it is new or references another Secret or key. Until they are,
// the secrets read before stay.
func (s *store) upsert(in *integration) (secretChanged bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.integrations[in.key]
	changed := old == nil || !old.sameSource(in)
	if old != nil {
		in.secrets = old.secrets
		if changed && in.secrets != nil && in.secrets.versions != (webhooksecret.Versions{}) {
			// Still accepted until read again, but read from another
			// Secret, key or integration: the next read takes nothing
			// from them.
			st := *in.secrets
			st.versions = webhooksecret.Versions{}
			in.secrets = &st
		}
	}
	s.integrations[in.key] = in
	return changed
}

// sameSource reports whether in and o read their webhook secrets from the
// same Secret and key, as the same integration.
func (in *integration) sameSource(o *integration) bool {
	return in.secretName == o.secretName && in.secretKey == o.secretKey && in.uid == o.uid
}

// remove forgets an integration and its secrets.
func (s *store) remove(key types.NamespacedName) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.integrations, key)
}

// setSecretsRead stores the secrets read for from, an integration still
// known with the same Secret and key; otherwise they were read from what it
// no longer references, and the read its change queued replaces them.
func (s *store) setSecretsRead(from *integration, st *secretState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if in := s.integrations[from.key]; in != nil && in.sameSource(from) {
		in.secrets = st
	}
}

// forRead returns the integration and its secrets as last read, for the
// next read: secrets whose versions are those of its Secret and key.
func (s *store) forRead(key types.NamespacedName) (*integration, *secretState, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	in, ok := s.integrations[key]
	if !ok {
		return nil, nil, false
	}
	return in, in.secrets, true
}

// secretsOf is what the integration's webhook secrets were last read
// as; nil when they were not or the integration is not known.
func (s *store) secretsOf(key types.NamespacedName) *secretState {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if in := s.integrations[key]; in != nil {
		return in.secrets
	}
	return nil
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
