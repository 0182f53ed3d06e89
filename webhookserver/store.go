package webhookserver

import (
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
	// acked is the fingerprint status.receivers shows for each replica.
	acked map[string]string
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
		pullRequestKey: obj.GetPullRequestKey(),
		issueLabel:     obj.Spec.Links.IssueLabel,
		secretName:     obj.Spec.SecretRef.Name,
		secretKey:      obj.GetWebhookSecretKey(),
		linked:         map[itemKey]string{},
		acked:          map[string]string{},
	}
	for _, rs := range obj.Status.Receivers {
		in.acked[rs.Name] = rs.SecretFingerprint
	}
	for _, e := range obj.GetEvents() {
		if e == "*" {
			in.allEvents = true
		}
		in.events[e] = true
	}
	for _, pr := range obj.Status.PullRequests {
		in.linked[itemKey{pr.Repository, pr.Number}] = pr.LinkKey
	}
	return in
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
	// mirrorNamespace, in the split layout, is where the mirrors are: each
	// integration reads its mirror only.
	mirrorNamespace string
}

func newStore(mirrorNamespace string) *store {
	return &store{
		mirrorNamespace: mirrorNamespace,
		integrations:    map[types.NamespacedName]*integration{},
		secrets:         map[types.NamespacedName]*secretState{},
		referrers:       map[types.NamespacedName]map[types.NamespacedName]bool{},
	}
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
	if st := s.secrets[key]; st != nil {
		ws = st.secrets
	}
	return in, ws, true
}

// has reports whether the integration namespace/name is known.
func (s *store) has(namespace, name string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, ok := s.integrations[types.NamespacedName{Namespace: namespace, Name: name}]
	return ok
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
	if s.mirrorNamespace != "" {
		return []types.NamespacedName{{Namespace: s.mirrorNamespace, Name: webhooksecret.MirrorName(in.uid)}}
	}
	return []types.NamespacedName{
		{Namespace: in.key.Namespace, Name: in.secretName},
		{Namespace: in.key.Namespace, Name: webhooksecret.AppliedName(in.key.Name)},
		{Namespace: in.key.Namespace, Name: webhooksecret.PreviousName(in.key.Name)},
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
