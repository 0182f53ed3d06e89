package webhookserver

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	"github.com/hookwarden/hookwarden/internal/delivery"
	"github.com/hookwarden/hookwarden/internal/webhooksecret"
)

// watch registers the informer handlers that keep the store current.
func (s *Server) watch(ctx context.Context) error {
	integrations, err := s.cache.GetInformer(ctx, &hookv1.GitHubIntegration{})
	if err != nil {
		return fmt.Errorf("receiver: watch GitHubIntegrations: %w", err)
	}
	if _, err := integrations.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { s.onIntegration(obj) },
		UpdateFunc: func(_, obj any) { s.onIntegration(obj) },
		DeleteFunc: s.onIntegrationDeleted,
	}); err != nil {
		return fmt.Errorf("receiver: watch GitHubIntegrations: %w", err)
	}

	// The split layout's cache holds only the mirrors, whole; otherwise
	// Secrets are watched through their metadata and read when they change.
	var secretObj client.Object = &corev1.Secret{}
	if s.opts.MirrorNamespace == "" {
		secretMeta := &metav1.PartialObjectMetadata{}
		secretMeta.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
		secretObj = secretMeta
	}
	secretsInformer, err := s.cache.GetInformer(ctx, secretObj)
	if err != nil {
		return fmt.Errorf("receiver: watch Secret metadata: %w", err)
	}
	if _, err := secretsInformer.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc: s.onSecret,
		UpdateFunc: func(old, obj any) {
			if o, n := metaOf(old), metaOf(obj); o == nil || n == nil || o.GetResourceVersion() != n.GetResourceVersion() {
				s.onSecret(obj)
			}
		},
		DeleteFunc: s.onSecret,
	}); err != nil {
		return fmt.Errorf("receiver: watch Secret metadata: %w", err)
	}
	return nil
}

func (s *Server) onIntegration(obj any) {
	gi, ok := obj.(*hookv1.GitHubIntegration)
	if !ok {
		return
	}
	if s.store.upsert(newIntegration(gi)) {
		s.secretQ.Add(client.ObjectKeyFromObject(gi))
	}
}

func (s *Server) onIntegrationDeleted(obj any) {
	if tomb, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	if m := metaOf(obj); m != nil {
		s.store.remove(types.NamespacedName{Namespace: m.GetNamespace(), Name: m.GetName()})
		receiverMetrics.forget(m.GetNamespace(), m.GetName())
	}
}

// onSecret re-reads the webhook secrets of the integrations that use the
// Secret. Other Secrets are ignored and nothing of them is kept.
func (s *Server) onSecret(obj any) {
	if tomb, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	m := metaOf(obj)
	if m == nil {
		return
	}
	keys, err := referrersOf(context.Background(), s.cache, s.store, s.opts.MirrorNamespace, m)
	if err != nil {
		s.log.Error(err, "Failed to find the integrations that read a Secret", "secret", types.NamespacedName{Namespace: m.GetNamespace(), Name: m.GetName()}.String())
	}
	for _, key := range keys {
		s.secretQ.Add(key)
	}
}

// referrersOf returns the integrations whose webhook secrets live in the
// Secret: in the split layout, the integration a mirror in mirrorNamespace
// names, if known with that UID; otherwise those whose spec.secretRef
// names it, from the reconciler's index on the cache the two share in one
// process (webhooksecret.SecretRefNameField: the receiver keeps no map of
// its own), and the integration it is an owned Secret of, if known.
func referrersOf(ctx context.Context, integrations client.Reader, st *store, mirrorNamespace string, secret metav1.Object) ([]types.NamespacedName, error) {
	if mirrorNamespace != "" {
		key, uid, ok := webhooksecret.MirrorIntegration(secret)
		if ok && secret.GetNamespace() == mirrorNamespace && st.hasUID(key, uid) {
			return []types.NamespacedName{key}, nil
		}
		return nil, nil
	}
	keys, err := webhooksecret.ReferencingKeys(ctx, integrations, secret.GetNamespace(), secret.GetName())
	if name, ok := webhooksecret.IntegrationOf(secret.GetName()); ok {
		key := types.NamespacedName{Namespace: secret.GetNamespace(), Name: name}
		if st.has(key.Namespace, key.Name) && !slices.Contains(keys, key) {
			keys = append(keys, key)
		}
	}
	return keys, err
}

func metaOf(obj any) metav1.Object {
	m, _ := obj.(metav1.Object)
	return m
}

// loadAllSecrets returns once the webhook secrets of every integration
// known at start were read (or their read failed and was queued again), so
// the receiver is ready only when it can validate their deliveries. The
// secret queue reads them: the informer's initial list has already queued
// each integration (onIntegration), and reading them here as well would
// read every Secret twice at each start.
func (s *Server) loadAllSecrets(ctx context.Context) {
	keys := s.store.keys()
	pending := newPendingLoads(keys)
	s.pending.Store(pending)
	for _, key := range keys {
		s.secretQ.Add(key)
	}
	go s.runSecretWorkers(ctx)
	select {
	case <-pending.done:
	case <-ctx.Done():
	}
	s.pending.Store(nil)
}

// pendingLoads are the integrations known at start whose webhook secrets
// were not read yet.
type pendingLoads struct {
	mu   sync.Mutex
	keys map[types.NamespacedName]struct{}
	done chan struct{}
}

func newPendingLoads(keys []types.NamespacedName) *pendingLoads {
	p := &pendingLoads{keys: make(map[types.NamespacedName]struct{}, len(keys)), done: make(chan struct{})}
	for _, key := range keys {
		p.keys[key] = struct{}{}
	}
	if len(p.keys) == 0 {
		close(p.done)
	}
	return p
}

// read notes that key's secrets were read, or their read was tried.
func (p *pendingLoads) read(key types.NamespacedName) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.keys[key]; !ok {
		return
	}
	delete(p.keys, key)
	if len(p.keys) == 0 {
		close(p.done)
	}
}

// runSecretWorkers re-reads secrets as integrations and Secrets change.
func (s *Server) runSecretWorkers(ctx context.Context) {
	go func() {
		<-ctx.Done()
		s.secretQ.ShutDown()
	}()
	var wg sync.WaitGroup
	for range secretWorkers {
		wg.Go(func() {
			for {
				key, shutdown := s.secretQ.Get()
				if shutdown {
					return
				}
				if err := s.refreshSecrets(ctx, key); err != nil {
					s.secretQ.AddRateLimited(key)
				} else {
					s.secretQ.Forget(key)
				}
				if p := s.pending.Load(); p != nil {
					p.read(key)
				}
				s.secretQ.Done(key)
			}
		})
	}
	wg.Wait()
}

// refreshSecrets reads and stores one integration's webhook secrets.
func (s *Server) refreshSecrets(ctx context.Context, key types.NamespacedName) error {
	in, known, ok := s.store.forRead(key)
	if !ok {
		return nil
	}
	var l webhooksecret.Loaded
	var err error
	if s.opts.MirrorNamespace != "" {
		l, err = webhooksecret.LoadMirror(ctx, s.cache, s.opts.MirrorNamespace, in.uid)
	} else {
		l, err = webhooksecret.Load(ctx, s.apiReader, in.key.Namespace, in.key.Name, in.uid, in.secretName, in.secretKey,
			&webhooksecret.Cache{Version: s.cachedVersion(ctx, in.key.Namespace), Patches: s.opts.SecretPatches}, known.loaded())
	}
	if err != nil {
		s.log.Error(err, "Failed to read the webhook secret; retrying", "integration", key.String())
		return err
	}
	st := secretStateOf(l)
	st.logProblem(s.log, key.String())
	s.store.setSecretsRead(in, st)
	s.acknowledge(in, l)
	return nil
}

// cachedVersion answers from the cache of the labelled Secrets' metadata
// that watch fills (webhooksecret.CachedVersion): an owned Secret missing
// there is not read, and the watch reports it when it comes (onSecret loads
// its integration again); a Secret there at the version read before is not
// read again. Any answer of the cache but "not found" means it may exist.
func (s *Server) cachedVersion(ctx context.Context, namespace string) webhooksecret.CachedVersion {
	return func(name string) (uint64, bool) {
		m := &metav1.PartialObjectMetadata{}
		m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
		switch err := s.cache.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, m); {
		case apierrors.IsNotFound(err):
			return 0, false
		case err != nil:
			return 0, true
		}
		return webhooksecret.ParseVersion(m.ResourceVersion), true
	}
}

// acknowledge writes, in the split layout, that this replica loaded the
// secret a rotation is about to send to GitHub (the mirror's current secret
// differs from the applied one): the reconciler waits for every ready
// replica's entry in status.receivers before it sends it. Outside
// rotations, and once status shows the entry, nothing is written, so
// thousands of idle integrations cost no writes.
func (s *Server) acknowledge(in *integration, l webhooksecret.Loaded) {
	if s.opts.MirrorNamespace == "" || s.opts.ReplicaName == "" || l.Current == nil || l.Applied == nil {
		return
	}
	fingerprint := webhooksecret.Fingerprint(l.Current, string(in.uid))
	if in.acked[s.opts.ReplicaName] == fingerprint {
		return
	}
	s.recorder.acknowledge(in.key, hookv1.ReceiverStatus{Name: s.opts.ReplicaName, SecretFingerprint: fingerprint,
		LoadedTime: &metav1.Time{Time: time.Now()}})
}

// secretState is the webhook secrets of one integration, as last read.
type secretState struct {
	secrets delivery.Secrets
	// problem says why no secret is usable, so that every delivery is
	// answered 503; never a value.
	problem string
	// degraded says what is wrong with the integration's Secret while the
	// applied secret (or the previous one, until it expires) is still
	// accepted; never a value.
	degraded string
	// versions are those of the Secrets read: the next read takes from
	// here what did not change.
	versions webhooksecret.Versions
}

// loaded is what st was made of, for the next read; nil for nil.
func (st *secretState) loaded() *webhooksecret.Loaded {
	if st == nil {
		return nil
	}
	return &webhooksecret.Loaded{Current: st.secrets.Current, CurrentProblem: cmp.Or(st.problem, st.degraded),
		Applied: st.secrets.Applied, Previous: st.secrets.Previous, PreviousExpires: st.secrets.PreviousExpires,
		Versions: st.versions}
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

// secretStateOf turns an integration's webhook secrets, read by
// webhooksecret.Load or LoadMirror, into what the receiver accepts. A missing or unusable current secret is
// reported, not returned as an error: in degraded while the applied or
// previous secret is still accepted, in problem when nothing is.
//
// Accepting the applied secret is what makes a change of the user's Secret
// safe before the reconciler has pushed it to GitHub, even while the
// operator's reconciler is down: the hooks keep signing with the applied
// secret until they carry the new one. For the same reason a bad edit of the
// user's Secret (a secret too short, a key renamed, the Secret deleted by
// mistake) does not stop deliveries: the reconciler never pushes an invalid
// secret, so the hooks still sign with the applied one.
func secretStateOf(l webhooksecret.Loaded) *secretState {
	st := &secretState{secrets: delivery.Secrets{Current: l.Current, Applied: l.Applied, Previous: l.Previous,
		PreviousExpires: l.PreviousExpires}, versions: l.Versions}
	switch {
	case l.CurrentProblem == "":
	case st.secrets.Usable(time.Now()):
		st.degraded = l.CurrentProblem
	default:
		st.problem = l.CurrentProblem
	}
	return st
}
