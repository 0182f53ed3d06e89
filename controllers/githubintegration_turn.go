package controllers

import (
	"context"
	"errors"
	"time"

	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
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
//
// It returns the turn to come back for, and true, when the turn is further
// away than a reconcile waits; otherwise, when it read it, the Secret, for
// the reconcile to go on with instead of reading it again.
func (r *GitHubIntegrationReconciler) awaitFirstTurn(ctx context.Context, obj *hookv1.GitHubIntegration, key string) (pacingTurn, bool, *corev1.Secret) {
	if obj.Spec.Suspend || controllerutil.ContainsFinalizer(obj, hookv1.Finalizer) || len(obj.Status.Hooks) > 0 ||
		len(obj.Targets()) == 0 || obj.PayloadURL(r.PublicURL) == "" {
		return pacingTurn{}, false, nil
	}
	// Read into a copy: a reconcile that ends here writes no status of it.
	source, sec, err := r.checkSecret(ctx, obj.DeepCopy(), false, nil)
	if err != nil {
		return pacingTurn{}, false, nil
	}
	gh, err := r.githubClient(obj, sec)
	if err != nil {
		return pacingTurn{}, false, nil
	}
	r.rememberToken(obj, sec.creds)
	var deferred *ghclient.PacingDeferredError
	if err := gh.ReserveMutation(ghclient.DeferPacing(ctx, key, pacingMaxWait)); errors.As(err, &deferred) {
		return turnOf(deferred), true, nil
	}
	return pacingTurn{}, false, source
}

// waitForFirstTurn ends the first reconcile of a new integration whose
// token's turn is at. When that turn is less than QuietTurnWait away and
// the integration has no status yet, nothing is written: its status is
// written once, when it comes back for its turn and registers its hooks,
// instead of twice. Otherwise it says in status that it waits
// (waitForPacing), so that no new integration goes without a status for
// longer than QuietTurnWait.
//
// Why: after a start, or when many integrations are applied at once, most
// of them wait seconds for their turn, and a status write of a
// GitHubIntegration costs the API server several times a read (measured
// in make bench-scale: docs/performance.md). Those writes slowed down the
// returns for the turns that they announced.
func (r *GitHubIntegrationReconciler) waitForFirstTurn(ctx context.Context, obj *hookv1.GitHubIntegration, turn pacingTurn) ctrl.Result {
	quiet := r.QuietTurnWait
	if quiet == 0 {
		quiet = DefaultQuietTurnWait
	}
	if len(obj.Status.Conditions) == 0 && time.Until(turn.at) < quiet {
		ctrl.LoggerFrom(ctx).V(1).Info("Waiting for the token's pacing to register hooks", "slot", turn.at)
		return pacingResult(turn)
	}
	return waitForPacing(ctx, obj, turn)
}
