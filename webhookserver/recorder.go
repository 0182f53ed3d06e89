package webhookserver

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
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
type statusRecorder struct {
	// cache serves the first read of each patch; reader (the API server)
	// the re-reads after a conflict, when the cache is known to be stale.
	cache  client.Reader
	reader client.Reader
	writer client.StatusClient
	log    logr.Logger

	mu      sync.Mutex
	pending map[types.NamespacedName]*statusDelta
}

func newStatusRecorder(cache, reader client.Reader, writer client.StatusClient, log logr.Logger) *statusRecorder {
	return &statusRecorder{cache: cache, reader: reader, writer: writer, log: log,
		pending: map[types.NamespacedName]*statusDelta{}}
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
		d = newStatusDelta()
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

// run flushes every interval until ctx ends, then once more so that what
// was answered before a shutdown is not lost.
func (r *statusRecorder) run(ctx context.Context, interval time.Duration) {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), patchTimeout)
			r.flush(final)
			cancel()
			return
		case <-ticker.C:
			r.flush(ctx)
		}
	}
}

// flush patches the status of every integration with pending changes.
func (r *statusRecorder) flush(ctx context.Context) {
	taken := r.take()
	if len(taken) == 0 {
		return
	}
	var g errgroup.Group
	g.SetLimit(flushConcurrency)
	for key, d := range taken {
		g.Go(func() error {
			r.flushOne(ctx, key, d)
			return nil
		})
	}
	_ = g.Wait() // flushOne handles its own errors
}

func (r *statusRecorder) flushOne(ctx context.Context, key types.NamespacedName, d *statusDelta) {
	ctx, cancel := context.WithTimeout(ctx, patchTimeout)
	defer cancel()
	err := r.patch(ctx, key, d)
	switch {
	case err == nil:
	case apierrors.IsNotFound(err):
		// The integration is gone, and its status with it.
	default:
		metrics.StatusWriteFailures.WithLabelValues(metrics.WriterReceiver).Inc()
		r.putBack(key, d)
		r.log.Error(err, "Failed to record deliveries in status; retrying with the next flush", "integration", key.String())
	}
}

// patch adds d to the integration's status: read, add, server-side apply
// of the receiver's part conditional on the resourceVersion read; on a
// conflict read again from the API server and retry.
func (r *statusRecorder) patch(ctx context.Context, key types.NamespacedName, d *statusDelta) error {
	obj := &hookv1.GitHubIntegration{}
	if err := r.cache.Get(ctx, key, obj); err != nil {
		return fmt.Errorf("get GitHubIntegration %s: %w", key, err)
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
		return r.writer.Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(apply),
			client.FieldOwner(hookv1.ReceiverFieldManager), client.ForceOwnership)
	})
	if err != nil {
		return fmt.Errorf("write status of GitHubIntegration %s: %w", key, err)
	}
	return nil
}
