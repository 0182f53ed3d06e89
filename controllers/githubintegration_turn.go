package controllers

import (
	"context"
	"errors"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	ghclient "github.com/hookwarden/hookwarden/internal/github"
)

// awaitFirstTurn is the first step of an integration that has registered
// nothing yet (no finalizer, no hook in status): every target's hook will
// need a change on GitHub (a creation, or the secret of a hook adopted by
// its payload URL), so before writing anything it asks the token's pacing
// for the turn of that first change, with reads only (the referenced
// Secret, straight from the API server). When the turn is further away
// than a reconcile waits, the slot is kept and the reconcile ends there,
// Reconciling "waiting for its turn"; the integration's finalizer, the
// label and protection of its Secret and its applied Secret are written
// when it comes back, shortly before its slot.
//
// Why: after a start with many new integrations, each token's slots are
// booked only as fast as the first reconciles reach them. With the writes
// first, those reconciles (four API writes each) took most of the
// convergence time at 1,000 integrations, so each token's turns were
// handed out late; with reads first, every token's queue is set up within
// the first pass and its changes follow one a second.
//
// Anything unusual (a missing or invalid Secret, no payload URL, no
// target, a client that cannot be made) goes the usual way at once, so
// that its error shows without waiting. The hook is still never created
// before the finalizer is on the object: this step makes no change on
// GitHub, and the reconcile that does passes ensureFinalizer first.
func (r *GitHubIntegrationReconciler) awaitFirstTurn(ctx context.Context, obj *hookv1.GitHubIntegration, key string) (time.Time, bool) {
	if obj.Spec.Suspend || controllerutil.ContainsFinalizer(obj, hookv1.Finalizer) || len(obj.Status.Hooks) > 0 ||
		len(obj.Targets()) == 0 || obj.PayloadURL(r.PublicURL) == "" {
		return time.Time{}, false
	}
	_, sec, err := r.checkSecret(ctx, obj, false)
	if err != nil {
		return time.Time{}, false
	}
	gh, err := r.githubClient(obj, sec)
	if err != nil {
		return time.Time{}, false
	}
	r.rememberToken(obj, sec.creds)
	var deferred *ghclient.PacingDeferredError
	if err := gh.ReserveMutation(ghclient.DeferPacing(ctx, key, pacingMaxWait)); errors.As(err, &deferred) {
		return deferred.At, true
	}
	return time.Time{}, false
}
