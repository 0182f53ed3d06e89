package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	"github.com/hookwarden/hookwarden/internal/webhooksecret"
)

// +kubebuilder:rbac:groups=discovery.k8s.io,resources=endpointslices,verbs=list

const (
	// receiverPoll is how often a rotation checks whether every receiver
	// has loaded the new secret: their acknowledgements are status writes,
	// which do not wake the reconciler. After receiverPatience it checks
	// every slowReceiverPoll: a receiver that takes that long is stuck, and
	// the condition says which.
	receiverPoll     = time.Second
	receiverPatience = 30 * time.Second
	slowReceiverPoll = 10 * time.Second
	// mirrorSweepInterval spaces the sweeps of mirrors whose integration
	// is gone.
	mirrorSweepInterval = 10 * time.Minute
)

// mirrored reports whether the receiver runs apart (the split layout) and
// reads the integration's webhook secrets from a mirror.
func (r *GitHubIntegrationReconciler) mirrored() bool { return r.MirrorNamespace != "" }

// syncMirror writes the integration's mirror in the operator's namespace
// from sec and the owned Secrets, when it differs: the current secret, the
// applied one and the previous one with its expiry; nothing else of the
// user's Secret.
func (r *GitHubIntegrationReconciler) syncMirror(ctx context.Context, obj *hookv1.GitHubIntegration, sec *integrationSecret) error {
	if !r.mirrored() {
		return nil
	}
	m := webhooksecret.Mirror{Integration: client.ObjectKeyFromObject(obj), UID: obj.UID,
		Current: []byte(sec.webhookSecret), Applied: webhooksecret.Value(sec.applied)}
	previous, err := r.getOwnedSecret(ctx, obj, webhooksecret.PreviousName(obj.Name))
	if err != nil {
		return err
	}
	if value, expires, ok := webhooksecret.Previous(previous); ok {
		m.Previous, m.PreviousExpires = value, expires
	}
	desired := webhooksecret.NewMirror(r.MirrorNamespace, m)
	current := &corev1.Secret{}
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(desired), current); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("get Secret %s/%s: %w", desired.Namespace, desired.Name, err)
	} else if err != nil {
		current = nil
	}
	if webhooksecret.SameMirror(current, desired) {
		return nil
	}
	if err := r.writeOwnedSecret(ctx, current, desired); err != nil {
		return err
	}
	ctrl.LoggerFrom(ctx).V(1).Info("Wrote the webhook secret mirror for the receivers", "secret", klogRef(desired))
	return nil
}

// deleteMirror removes the integration's mirror: owner references cannot
// cross namespaces, so the garbage collector would never do it.
func (r *GitHubIntegrationReconciler) deleteMirror(ctx context.Context, obj *hookv1.GitHubIntegration) error {
	if !r.mirrored() {
		return nil
	}
	s := &corev1.Secret{}
	s.Namespace, s.Name = r.MirrorNamespace, webhooksecret.MirrorName(obj.UID)
	if err := r.Delete(ctx, s); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("delete Secret %s/%s: %w", s.Namespace, s.Name, err)
	}
	return nil
}

// receiversPending names the ready receivers that have not acknowledged
// (status.receivers) loading the secret with this fingerprint. The ready
// receivers are the ready endpoints of the receiver Service
// (ReceiverService, in MirrorNamespace): a replica becomes ready only after
// it loaded every mirror, so one that turns ready after the mirror was
// written knows the new secret, and one listed here must say so itself.
// Without ReceiverService, nil: the rotation waits SecretPropagationDelay
// instead.
func (r *GitHubIntegrationReconciler) receiversPending(ctx context.Context, obj *hookv1.GitHubIntegration, fingerprint string) ([]string, error) {
	if !r.mirrored() || r.ReceiverService == "" {
		return nil, nil
	}
	var eps discoveryv1.EndpointSliceList
	if err := r.APIReader.List(ctx, &eps, client.InNamespace(r.MirrorNamespace),
		client.MatchingLabels{discoveryv1.LabelServiceName: r.ReceiverService}); err != nil {
		return nil, fmt.Errorf("list the endpoints of the receiver Service %s/%s: %w", r.MirrorNamespace, r.ReceiverService, err)
	}
	acked := map[string]bool{}
	for _, rs := range obj.Status.Receivers {
		if rs.SecretFingerprint == fingerprint {
			acked[rs.Name] = true
		}
	}
	var pending []string
	for _, es := range eps.Items {
		for _, ep := range es.Endpoints {
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			name := ""
			if ep.TargetRef != nil {
				name = ep.TargetRef.Name
			}
			if !acked[name] && !slices.Contains(pending, name) {
				pending = append(pending, name)
			}
		}
	}
	slices.Sort(pending)
	return pending, nil
}

// awaitReceivers is the rotation's wait before the new secret goes to
// GitHub in the split layout: until every ready receiver acknowledged it.
// It returns zero when none is pending, and otherwise when to check again.
func (r *GitHubIntegrationReconciler) awaitReceivers(ctx context.Context, obj *hookv1.GitHubIntegration, sec *integrationSecret, now time.Time) (time.Duration, error) {
	pending, err := r.receiversPending(ctx, obj, sec.fingerprint)
	if err != nil || len(pending) == 0 {
		return 0, err
	}
	sec.waitingFor = pending
	markReconciling(obj, hookv1.ReasonProgressing, fmt.Sprintf(
		"Webhook secret %s is sent to GitHub once every receiver has loaded it; waiting for %s",
		sec.fingerprint, strings.Join(pending, ", ")))
	if !sec.rotationStarted.IsZero() && now.Sub(sec.rotationStarted) > receiverPatience {
		return slowReceiverPoll, nil
	}
	return receiverPoll, nil
}

// mirrorSweeper deletes the mirrors whose integration no longer exists: one
// deleted while the reconciler was down, or whose deletion step failed
// after the finalizer went. It runs in the leader only.
type mirrorSweeper struct {
	r     *GitHubIntegrationReconciler
	cache cache.Cache
}

var _ manager.Runnable = mirrorSweeper{}

// Start sweeps once the cache is synced, then every mirrorSweepInterval.
func (s mirrorSweeper) Start(ctx context.Context) error {
	log := ctrl.LoggerFrom(ctx).WithName("mirror-sweeper")
	if !s.cache.WaitForCacheSync(ctx) {
		return nil
	}
	ticker := time.NewTicker(mirrorSweepInterval)
	defer ticker.Stop()
	for {
		if err := s.r.sweepMirrors(ctx); err != nil {
			log.Error(err, "Failed to sweep the webhook secret mirrors; retrying later")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
}

// sweepMirrors deletes every mirror in MirrorNamespace whose integration
// UID is not among the integrations in the cache.
func (r *GitHubIntegrationReconciler) sweepMirrors(ctx context.Context) error {
	var mirrors corev1.SecretList
	if err := r.APIReader.List(ctx, &mirrors, client.InNamespace(r.MirrorNamespace),
		client.MatchingLabelsSelector{Selector: webhooksecret.MirrorSelector()}); err != nil {
		return fmt.Errorf("list the webhook secret mirrors: %w", err)
	}
	if len(mirrors.Items) == 0 {
		return nil
	}
	var list hookv1.GitHubIntegrationList
	if err := r.List(ctx, &list); err != nil {
		return fmt.Errorf("list GitHubIntegrations: %w", err)
	}
	live := map[types.UID]bool{}
	for _, gi := range list.Items {
		live[gi.UID] = true
	}
	for i := range mirrors.Items {
		m := &mirrors.Items[i]
		key, uid, ok := webhooksecret.MirrorIntegration(m)
		if !ok || live[uid] {
			continue
		}
		if err := r.Delete(ctx, m, client.Preconditions{UID: &m.UID}); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("delete Secret %s/%s: %w", m.Namespace, m.Name, err)
		}
		ctrl.LoggerFrom(ctx).Info("Removed the webhook secret mirror of an integration that no longer exists",
			"secret", klogRef(m), "integration", key.String())
	}
	return nil
}

func klogRef(s *corev1.Secret) string { return s.Namespace + "/" + s.Name }
