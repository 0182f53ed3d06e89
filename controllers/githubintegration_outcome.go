package controllers

import (
	"context"
	"errors"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	ghclient "github.com/hookwarden/hookwarden/internal/github"
)

// handleFailure turns a failed step into conditions and a result:
// user-fixable errors stall, rate limits wait for the reset, the rest is
// returned for the workqueue's backoff.
func (r *GitHubIntegrationReconciler) handleFailure(ctx context.Context, obj *hookv1.GitHubIntegration, err error) (ctrl.Result, error) {
	return handleStepFailure(ctx, integrationConditions(obj), func(reason, message string) { r.warn(obj, reason, message) },
		obj.GetInterval(), err)
}

// handleStepFailure is handleFailure for any object with kstatus
// conditions: warn emits the Warning Event, interval is how often a
// stalled object is checked again when the fix may happen on GitHub.
func handleStepFailure(ctx context.Context, k kstatusConditions, warn func(reason, message string), interval time.Duration, err error) (ctrl.Result, error) {
	var failure *stepError
	if !errors.As(err, &failure) {
		// A Kubernetes API error or similar: retried with backoff.
		k.reconciling(hookv1.ReasonProgressing, err.Error())
		return ctrl.Result{}, err
	}
	warn(failure.reason, failure.message)
	switch {
	case failure.stalled:
		k.stalled(failure.reason, failure.message)
		if failure.retryOnInterval {
			// The fix may happen on GitHub, where no watch sees it.
			return ctrl.Result{RequeueAfter: jittered(interval)}, nil
		}
		if failure.retryAfter > 0 {
			return ctrl.Result{RequeueAfter: jittered(failure.retryAfter)}, nil
		}
		return ctrl.Result{}, nil
	case !failure.retryAt.IsZero():
		k.reconciling(failure.reason, failure.message)
		ctrl.LoggerFrom(ctx).Info("Waiting for GitHub's rate limit to reset", "until", failure.retryAt)
		return ctrl.Result{RequeueAfter: max(time.Until(failure.retryAt), 0) + time.Second}, nil
	default:
		k.reconciling(failure.reason, failure.message)
		return ctrl.Result{}, failure
	}
}

// How a reconcile waits for its token's pacing of mutations (at most one a
// second per token, as GitHub asks). A worker that waited for its slot
// in the GitHub client would sit idle while other tokens' integrations
// queue behind it: with many tokens, convergence would be bound by the
// number of workers rather than by GitHub. So a change that would wait
// longer than pacingMaxWait is deferred instead: the client keeps the
// slot, the reconcile ends and comes back shortly before it, when the
// client says (PacingDeferredError.Back: the token's lead, learned from
// the time its earlier holders took for their reads of the Secrets and of
// GitHub; the client lets the holder of a slot wait up to twice
// pacingMaxWait for it), and its change then goes in that slot: a holder
// late for its slot would move every later slot of its token. It comes
// back at the workqueue's normal priority: during the first pass after a
// start every integration is queued at the low priority of the initial
// list, and a kept slot must not wait behind that backlog.
const pacingMaxWait = 500 * time.Millisecond

// pacingMessage is the Reconciling message of an integration whose change
// waits for its token's turn; the same every time, so that waiting again
// writes no status.
const pacingMessage = "Waiting for its turn to change hooks: hookwarden makes at most one change a second on GitHub with one token"

// pacingTurn is the slot the token's pacing kept for a deferred change, and
// when to come back for it (ghclient.PacingDeferredError).
type pacingTurn struct{ at, back time.Time }

func turnOf(d *ghclient.PacingDeferredError) pacingTurn { return pacingTurn{at: d.At, back: d.Back} }

// waitForPacing ends a reconcile whose change the token's pacing deferred:
// Reconciling, no error and no backoff, back shortly before its slot.
func waitForPacing(ctx context.Context, obj *hookv1.GitHubIntegration, turn pacingTurn) ctrl.Result {
	markReconciling(obj, hookv1.ReasonProgressing, pacingMessage)
	ctrl.LoggerFrom(ctx).V(1).Info("Waiting for the token's pacing to change hooks", "slot", turn.at)
	return pacingResult(turn)
}

// pacingResult brings a reconcile back when its token's pacing said, shortly
// before its slot.
func pacingResult(turn pacingTurn) ctrl.Result {
	return ctrl.Result{RequeueAfter: max(time.Until(turn.back), 10*time.Millisecond), Priority: ptr.To(0)}
}

// warn emits a Warning Event.
func (r *GitHubIntegrationReconciler) warn(obj *hookv1.GitHubIntegration, reason, message string) {
	r.Recorder.Eventf(obj, nil, corev1.EventTypeWarning, reason, "Reconcile", "%s", message)
}

// normal emits a Normal Event.
func (r *GitHubIntegrationReconciler) normal(obj *hookv1.GitHubIntegration, reason, action, message string) {
	r.Recorder.Eventf(obj, nil, corev1.EventTypeNormal, reason, action, "%s", message)
}

// jittered spreads drift checks of many integrations over time.
func jittered(d time.Duration) time.Duration {
	return wait.Jitter(d, 0.1)
}

func minPositive(a, b time.Duration) time.Duration {
	if a <= 0 {
		return b
	}
	return min(a, b)
}
