package webhookserver

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	"github.com/hookwarden/hookwarden/internal/metrics"
)

const (
	// flushConcurrency bounds the integrations patched at once.
	flushConcurrency = 4
	// patchTimeout bounds one integration's patch, retries included.
	patchTimeout = 30 * time.Second
)

// conflictBackoff spaces the retries of a patch that lost an optimistic lock
// race with another replica or the reconciler.
var conflictBackoff = wait.Backoff{Steps: 8, Duration: 20 * time.Millisecond, Factor: 2, Jitter: 0.5, Cap: 2 * time.Second}

// statusRecorder coalesces what deliveries change in status and writes it at
// most once per integration per flush interval, with a merge patch guarded by
// the object's resourceVersion. On a conflict it reads the object again and
// re-applies the delta, so replicas recording the same integration add up
// exactly. It writes only the fields the receiver owns.
//
// Its writes, all integrations together, stay within a budget of writes
// per second (--status-write-rate): when more integrations have pending
// changes than the budget allows per flush interval, the ones that have
// waited longest are written first and the others keep accumulating, so
// each integration's effective interval becomes pending integrations /
// budget, and writes per delivery fall as the load grows.
type statusRecorder struct {
	// cache serves the first read of each patch; reader (the API server)
	// the re-reads after a conflict, when the cache is known to be stale.
	cache  client.Reader
	reader client.Reader
	writer client.StatusClient
	log    logr.Logger

	clock    clock.WithTicker
	interval time.Duration
	// budget holds the writes the recorder may send: it fills at the write
	// rate up to one flush interval's worth, so that an idle period does
	// not buy a burst later. Only the flush loop uses it.
	budget *rate.Limiter

	mu      sync.Mutex
	pending map[types.NamespacedName]*statusDelta
}

// newStatusRecorder returns a recorder that flushes every interval and
// sends at most writeRate writes per second on average.
func newStatusRecorder(cache, reader client.Reader, writer client.StatusClient, log logr.Logger,
	interval time.Duration, writeRate float64, clk clock.WithTicker) *statusRecorder {
	return &statusRecorder{cache: cache, reader: reader, writer: writer, log: log,
		clock: clk, interval: interval, budget: rate.NewLimiter(rate.Limit(writeRate), writeBurst(writeRate, interval)),
		pending: map[types.NamespacedName]*statusDelta{}}
}

// writeBurst is the most writes one flush may send: what the rate allows in
// one interval, rounded up so that the fraction is not lost at every flush,
// and at least one.
func writeBurst(writeRate float64, interval time.Duration) int {
	return int(max(1, min(math.Ceil(writeRate*interval.Seconds()), math.MaxInt32)))
}

// add accounts for one delivery of the integration key.
func (r *statusRecorder) add(key types.NamespacedName, rec *record) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pendingLocked(key).add(rec)
}

// acknowledge records that this replica loaded the webhook secret of a
// rotation, written with the next flush.
func (r *statusRecorder) acknowledge(key types.NamespacedName, ack hookv1.ReceiverStatus) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pendingLocked(key).ack = &ack
}

// pendingLocked is the delta of key not written yet, created when none is.
func (r *statusRecorder) pendingLocked(key types.NamespacedName) *statusDelta {
	d := r.pending[key]
	if d == nil {
		d = newStatusDelta(r.clock.Now())
		r.pending[key] = d
	}
	return d
}

// pendingPullRequest returns the link key of a pull request recorded but not
// written yet.
func (r *statusRecorder) pendingPullRequest(key types.NamespacedName, pr itemKey) (linkKey string, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if d := r.pending[key]; d != nil {
		if p, found := d.pullRequests[pr]; found {
			return p.LinkKey, true
		}
	}
	return "", false
}

// pendingCounters returns the counters not written yet, for tests.
func (r *statusRecorder) pendingCounters(key types.NamespacedName) hookv1.DeliveryCounters {
	r.mu.Lock()
	defer r.mu.Unlock()
	if d := r.pending[key]; d != nil {
		return d.counters
	}
	return hookv1.DeliveryCounters{}
}

// take removes and returns every pending delta.
func (r *statusRecorder) take() map[types.NamespacedName]*statusDelta {
	r.mu.Lock()
	defer r.mu.Unlock()
	taken := r.pending
	r.pending = make(map[types.NamespacedName]*statusDelta, len(taken))
	return taken
}

// takeOldest removes and returns at most n pending deltas: those carrying a
// rotation's acknowledgement first (a rotation waits for them), then the
// ones waiting longest. It also exports how far behind recording is.
func (r *statusRecorder) takeOldest(n int, now time.Time) map[types.NamespacedName]*statusDelta {
	r.mu.Lock()
	defer r.mu.Unlock()
	oldest := now
	for _, d := range r.pending {
		if d.since.Before(oldest) {
			oldest = d.since
		}
	}
	metrics.StatusPendingIntegrations.Set(float64(len(r.pending)))
	metrics.StatusPendingAge.Set(now.Sub(oldest).Seconds())
	if n >= len(r.pending) {
		taken := r.pending
		r.pending = make(map[types.NamespacedName]*statusDelta, len(taken))
		return taken
	}
	keys := make([]types.NamespacedName, 0, len(r.pending))
	for key := range r.pending {
		keys = append(keys, key)
	}
	slices.SortFunc(keys, func(a, b types.NamespacedName) int {
		da, db := r.pending[a], r.pending[b]
		switch {
		case (da.ack != nil) != (db.ack != nil):
			if da.ack != nil {
				return -1
			}
			return 1
		case !da.since.Equal(db.since):
			return da.since.Compare(db.since)
		}
		return compareStrings(a.String(), b.String())
	})
	taken := make(map[types.NamespacedName]*statusDelta, n)
	for _, key := range keys[:n] {
		taken[key] = r.pending[key]
		delete(r.pending, key)
	}
	return taken
}

// putBack returns a delta whose patch failed, to be written with the next.
func (r *statusRecorder) putBack(key types.NamespacedName, d *statusDelta) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if newer := r.pending[key]; newer != nil {
		newer.merge(d)
		return
	}
	r.pending[key] = d
}

// run flushes every interval, within the write budget, until ctx ends;
// then it writes everything pending whatever the budget, so that what was
// answered before a shutdown is not lost.
func (r *statusRecorder) run(ctx context.Context) {
	ticker := r.clock.NewTicker(r.interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), patchTimeout)
			r.flush(final, r.take())
			cancel()
			metrics.StatusPendingIntegrations.Set(0)
			metrics.StatusPendingAge.Set(0)
			return
		case <-ticker.C():
			r.flushDue(ctx)
		}
	}
}

// flushDue writes the pending deltas the budget allows now, oldest first,
// and charges the budget with every write sent, conflict retries included.
func (r *statusRecorder) flushDue(ctx context.Context) {
	now := r.clock.Now()
	allowed := int(max(0, r.budget.TokensAt(now)))
	taken := r.takeOldest(allowed, now)
	if len(taken) == 0 {
		return
	}
	writes := r.flush(ctx, taken)
	for writes > 0 {
		n := min(writes, r.budget.Burst())
		r.budget.ReserveN(now, n)
		writes -= n
	}
}

// flush patches the status of the integrations of taken and returns how
// many writes it sent.
func (r *statusRecorder) flush(ctx context.Context, taken map[types.NamespacedName]*statusDelta) int {
	var writes atomic.Int64
	var g errgroup.Group
	g.SetLimit(flushConcurrency)
	for key, d := range taken {
		g.Go(func() error {
			writes.Add(int64(r.flushOne(ctx, key, d)))
			return nil
		})
	}
	_ = g.Wait() // flushOne handles its own errors
	return int(writes.Load())
}

// flushOne writes d into the status of key and returns how many writes it
// sent; a delta it could not write goes back to pending.
func (r *statusRecorder) flushOne(ctx context.Context, key types.NamespacedName, d *statusDelta) (writes int) {
	ctx, cancel := context.WithTimeout(ctx, patchTimeout)
	defer cancel()
	writes, err := r.patch(ctx, key, d)
	switch {
	case err == nil:
	case apierrors.IsNotFound(err):
		// The integration is gone, and its status with it.
	default:
		metrics.StatusWriteFailures.WithLabelValues(metrics.WriterReceiver).Inc()
		r.putBack(key, d)
		r.log.Error(err, "Failed to record deliveries in status; retrying with the next flush", "integration", key.String())
	}
	return writes
}

// patch adds d to the integration's status: read, add, server-side apply
// of the receiver's part conditional on the resourceVersion read; on a
// conflict read again from the API server and retry. It returns how many
// writes it sent.
func (r *statusRecorder) patch(ctx context.Context, key types.NamespacedName, d *statusDelta) (writes int, _ error) {
	obj := &hookv1.GitHubIntegration{}
	if err := r.cache.Get(ctx, key, obj); err != nil {
		return 0, fmt.Errorf("get GitHubIntegration %s: %w", key, err)
	}
	first := true
	err := retry.RetryOnConflict(conflictBackoff, func() error {
		if !first {
			// The cache was stale: read the object the conflict is about.
			obj = &hookv1.GitHubIntegration{}
			if err := r.reader.Get(ctx, key, obj); err != nil {
				return fmt.Errorf("get GitHubIntegration %s: %w", key, err)
			}
		}
		first = false
		if err := ctx.Err(); err != nil {
			return err
		}
		d.applyTo(&obj.Status)
		// Only the receiver's part, under its own field manager, and only
		// over the object read: counters are added to what it holds.
		apply, err := hookv1.ReceiverPart.Apply(key.Namespace, key.Name, obj.ResourceVersion, &obj.Status)
		if err != nil {
			return err
		}
		metrics.StatusWrites.WithLabelValues(metrics.WriterReceiver).Inc()
		writes++
		return r.writer.Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(apply),
			client.FieldOwner(hookv1.ReceiverFieldManager), client.ForceOwnership)
	})
	if err != nil {
		return writes, fmt.Errorf("write status of GitHubIntegration %s: %w", key, err)
	}
	return writes, nil
}
