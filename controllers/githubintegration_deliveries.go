package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	gogithub "github.com/google/go-github/v60/github"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	ghclient "github.com/hookwarden/hookwarden/internal/github"
	"github.com/hookwarden/hookwarden/internal/metrics"
)

const (
	// DefaultRedeliveryWindow is how long GitHub keeps a delivery
	// redeliverable.
	DefaultRedeliveryWindow = 3 * 24 * time.Hour
	// maxRedeliveriesPerPass bounds the redeliveries one reconcile
	// requests (they are mutations, paced at one per second per token);
	// the rest follow in the next passes, a few seconds apart.
	maxRedeliveriesPerPass = 100
	// checkpointLag keeps the checkpoint this far behind the time of the
	// check: an attempt GitHub is still making (it waits up to 10 s for an
	// answer) is logged with the time it started.
	checkpointLag = 15 * time.Second
	// maxHealthRecheck bounds the wait before the pass that follows a ping
	// or a pass cut short by maxRedeliveriesPerPass.
	maxHealthRecheck = time.Minute
	// moreRedeliveriesRecheck is the wait before the next pass when
	// redeliveries are left over.
	moreRedeliveriesRecheck = time.Second
	// pingEvent is GitHub's ping; failed pings are never redelivered (a
	// new ping is sent when the receiver's health is in question).
	pingEvent = "ping"
)

// deliveryGroup is what the log shows of one delivery GUID.
type deliveryGroup struct {
	guid   string
	event  string
	first  time.Time
	newest *gogithub.HookDelivery
	ok     bool
}

// hookRecovery is what one hook's check found and did.
type hookRecovery struct {
	redelivered int
	pinged      bool
	// more: candidates left over because the pass's budget ran out.
	more bool
}

// reconcileDeliveries recovers deliveries the receiver did not accept:
// GitHub never retries them. For each hook it reads the delivery log back
// to the hook's checkpoint (status.hooks[].deliveriesCheckedTime) and
// redelivers each GUID none of whose attempts succeeded, while its first
// attempt is within GitHub's redelivery window, at most once per interval,
// and only while the receiver is healthy: when the hook's newest attempt
// failed, a ping is sent first and redelivery waits for a later pass that
// sees a success. Failures here never change Ready: they are logged and
// retried on the next pass. The hooks this reconcile created are left to
// their first pass, one interval later: GitHub attempted nothing on them
// before their creation, where their checkpoint is (startCheckpoint), and
// what it attempted since, the creation's ping among them, may still be
// under way; reading their logs now would cost a request per new hook and
// find nothing to redeliver. It returns when the next pass is wanted
// sooner than the interval (zero when it is not).
func (r *GitHubIntegrationReconciler) reconcileDeliveries(ctx context.Context, obj *hookv1.GitHubIntegration, gh *ghclient.Client, created []int64) time.Duration {
	if gh == nil || !obj.IsActive() || !gh.RateLimitedUntil().IsZero() {
		return 0
	}
	log := ctrl.LoggerFrom(ctx)
	key := client.ObjectKeyFromObject(obj)
	now := r.now()
	interval := obj.GetInterval()
	r.redeliveries.prune(key, now, interval)

	budget := maxRedeliveriesPerPass
	var recheck time.Duration
	var counts []string
	total := 0
	for i := range obj.Status.Hooks {
		hs := &obj.Status.Hooks[i]
		if hs.ID == 0 || hs.LastError != "" || slices.Contains(created, hs.ID) {
			continue
		}
		svc, err := gh.Hooks(hs.Target)
		if err != nil {
			continue
		}
		got, err := r.recoverHookDeliveries(ctx, key, svc, hs, now, interval, &budget)
		if got.redelivered > 0 {
			total += got.redelivered
			counts = append(counts, fmt.Sprintf("%s: %d", hs.Target, got.redelivered))
		}
		if got.pinged || got.more {
			wait := min(interval, maxHealthRecheck)
			if got.more {
				wait = moreRedeliveriesRecheck
			}
			recheck = minPositive(recheck, wait)
		}
		if err != nil {
			e := ghclient.Classify(err)
			log.Info("Could not check the hook's failed deliveries; retrying on the next pass", "target", hs.Target, "id", hs.ID, "error", e.Error())
			if e.Kind == ghclient.RateLimited {
				recheck = minPositive(recheck, max(time.Until(e.RetryAt), 0)+time.Second)
				break
			}
		}
	}
	if total > 0 {
		r.refreshRedeliveredCount(ctx, obj)
		obj.Status.Deliveries.Redelivered += int64(total)
		metrics.Redeliveries.WithLabelValues(obj.Namespace, obj.Name).Add(float64(total))
		log.Info("Requested redelivery of failed deliveries", "count", total, "hooks", strings.Join(counts, ", "))
		r.normal(obj, hookv1.EventRedeliveryRequested, "Redeliver", fmt.Sprintf(
			"Requested redelivery of %d failed deliveries (%s)", total, strings.Join(counts, ", ")))
	}
	return recheck
}

// refreshRedeliveredCount reads status.deliveries.redelivered from the API
// server before it is added to: the cached object may not show this
// reconciler's previous status write yet, and adding to a stale count would
// lose that write's redeliveries. Only the reconciler writes this field, and
// one object is never reconciled twice at once, so a fresh read is enough.
func (r *GitHubIntegrationReconciler) refreshRedeliveredCount(ctx context.Context, obj *hookv1.GitHubIntegration) {
	fresh := &hookv1.GitHubIntegration{}
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(obj), fresh); err != nil {
		ctrl.LoggerFrom(ctx).Info("Could not read the redelivery count; counting from the cached object", "error", err.Error())
		return
	}
	obj.Status.Deliveries.Redelivered = max(obj.Status.Deliveries.Redelivered, fresh.Status.Deliveries.Redelivered)
}

// recoverHookDeliveries checks one hook. It reads every attempt since the
// checkpoint and classifies them itself, as GitHub's own sample for
// automatic redelivery does: an attempt not answered 2xx is a failure
// unless another attempt of the same GUID succeeded. GitHub's status=failure
// filter cannot be used for this: it covers status codes 400-599 only, so
// the attempts GitHub could not connect for or that timed out (status_code
// 0), which is what an outage of the receiver produces, would never be seen.
// The read is one conditional request while fewer than a page of attempts
// were made since the last check, answered 304 at no rate-limit cost when
// there was none.
func (r *GitHubIntegrationReconciler) recoverHookDeliveries(ctx context.Context, key types.NamespacedName, svc ghclient.HookService,
	hs *hookv1.HookStatus, now time.Time, interval time.Duration, budget *int) (hookRecovery, error) {
	var out hookRecovery
	since := now.Add(-interval - checkpointLag)
	if hs.DeliveriesCheckedTime != nil {
		since = hs.DeliveriesCheckedTime.Time
	}
	checkpoint := now.Add(-checkpointLag)

	all, err := svc.ListDeliveries(ctx, hs.ID, since)
	if err != nil {
		return out, err
	}
	healthy := len(all) > 0 && isSuccess(all[0].GetStatusCode())
	window := r.redeliveryWindow()
	var due []*deliveryGroup
	for _, g := range groupDeliveries(all, since) {
		if g.ok || g.event == pingEvent || !now.Before(g.first.Add(window)) {
			continue // delivered, a ping, or too old: nothing to do
		}
		if g.first.Before(checkpoint) {
			checkpoint = g.first // keep it in view until it is delivered
		}
		if r.redeliveredRecently(key, hs.ID, g, now, interval) {
			continue
		}
		due = append(due, g)
	}
	setCheckpoint(hs, since, checkpoint)
	if len(due) == 0 {
		return out, nil
	}
	if !healthy && svc.Abilities().Ping {
		// The receiver failed the newest attempt: redelivering now would
		// most likely fail again. A ping shows when it is back. (A hook
		// that cannot be pinged, a GitHub App's, is redelivered to
		// straight away: nothing else would show that the receiver is
		// back.)
		if r.redeliveries.pingDue(key, hs.ID, now, interval) {
			if err := svc.Ping(ctx, hs.ID); err != nil {
				return out, err
			}
			out.pinged = true
		}
		return out, nil
	}
	for _, g := range due {
		if *budget == 0 {
			out.more = true
			break
		}
		err := svc.Redeliver(ctx, hs.ID, g.newest.GetID())
		switch {
		case err == nil:
		case ghclient.IsNotFound(err) || ghclient.Classify(err).Kind == ghclient.Invalid:
			continue // gone from the log, or too old for GitHub
		default:
			return out, err
		}
		*budget--
		out.redelivered++
		r.redeliveries.requested(key, hs.ID, g.guid, now)
	}
	return out, nil
}

// groupDeliveries groups attempts by GUID; attempts older than since are
// ignored. Groups come oldest first, so the oldest failures are redelivered
// first (they leave GitHub's window first).
func groupDeliveries(attempts []*gogithub.HookDelivery, since time.Time) []*deliveryGroup {
	byGUID := map[string]*deliveryGroup{}
	var groups []*deliveryGroup
	for _, d := range attempts {
		t := d.GetDeliveredAt().Time
		if t.Before(since) {
			continue
		}
		g := byGUID[d.GetGUID()]
		if g == nil {
			g = &deliveryGroup{guid: d.GetGUID(), event: d.GetEvent(), first: t, newest: d}
			byGUID[g.guid] = g
			groups = append(groups, g)
		}
		if t.Before(g.first) {
			g.first = t
		}
		if d.GetID() > g.newest.GetID() {
			g.newest = d
		}
		g.ok = g.ok || isSuccess(d.GetStatusCode())
	}
	slices.SortStableFunc(groups, func(a, b *deliveryGroup) int { return a.first.Compare(b.first) })
	return groups
}

// redeliveredRecently: a redelivery of the GUID was requested (by this
// process) or made (as the log shows, e.g. before a restart) less than an
// interval ago.
func (r *GitHubIntegrationReconciler) redeliveredRecently(key types.NamespacedName, hookID int64, g *deliveryGroup, now time.Time, interval time.Duration) bool {
	if g.newest.GetRedelivery() && now.Sub(g.newest.GetDeliveredAt().Time) < interval {
		return true
	}
	return r.redeliveries.recent(key, hookID, g.guid, now, interval)
}

// startCheckpoint sets the checkpoint of a hook just created at its
// creation: GitHub attempted nothing on it before, so its first pass reads
// its log back to there, however late within the jittered interval it
// comes. The time is GitHub's (created_at), the clock of the log's
// delivered_at; a hook without it gets the time its creation was sent,
// less checkpointLag for the skew between the two clocks.
func startCheckpoint(hs *hookv1.HookStatus, created *gogithub.Hook, sent time.Time) {
	at := created.GetCreatedAt().Time
	if at.IsZero() {
		at = sent.Add(-checkpointLag)
	}
	setCheckpoint(hs, at, at)
}

// setCheckpoint moves the hook's checkpoint forward, never back.
func setCheckpoint(hs *hookv1.HookStatus, since, checkpoint time.Time) {
	if checkpoint.Before(since) {
		checkpoint = since
	}
	t := metav1.NewTime(checkpoint.UTC().Truncate(time.Second))
	hs.DeliveriesCheckedTime = &t
}

func (r *GitHubIntegrationReconciler) redeliveryWindow() time.Duration {
	if r.RedeliveryWindow > 0 {
		return r.RedeliveryWindow
	}
	return DefaultRedeliveryWindow
}

func isSuccess(code int) bool { return code >= 200 && code < 300 }
