package webhookserver

import (
	"context"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
)

// queued is an answered delivery waiting to be recorded.
type queued struct {
	key types.NamespacedName
	rec *record
}

// startWorkers starts the queue workers and the status recorder. The
// returned function stops them after recording everything queued.
func (s *Server) startWorkers(ctx context.Context) (stop func()) {
	work, stopQueue := context.WithCancel(context.WithoutCancel(ctx))
	var workers sync.WaitGroup
	for range recordWorkers {
		workers.Go(func() { s.drainQueue(work) })
	}
	flush, stopFlush := context.WithCancel(context.WithoutCancel(ctx))
	var flusher sync.WaitGroup
	flusher.Go(func() { s.recorder.run(flush) })
	return func() {
		stopQueue()
		workers.Wait()
		stopFlush()
		flusher.Wait()
	}
}

// enqueue hands a record to the workers; false when the queue is full.
func (s *Server) enqueue(key types.NamespacedName, rec *record) bool {
	select {
	case s.queue <- queued{key: key, rec: rec}:
		return true
	default:
		return false
	}
}

// drainQueue records queued deliveries until ctx ends, then what is left.
//
// After each wake-up it records everything queued and then pauses for
// recordBatchPause before it waits on the queue again: deliveries answered
// meanwhile are recorded in one batch instead of each waking a worker (a
// wake-up and a goroutine switch per delivery, on the receiver's core). The
// pause delays recording by at most that long, against a status flush
// interval of seconds, and the queue's bound is unchanged: a delivery that
// finds it full is still answered 503.
func (s *Server) drainQueue(ctx context.Context) {
	pause := time.NewTimer(recordBatchPause)
	defer pause.Stop()
	for {
		select {
		case q := <-s.queue:
			s.recordDelivery(q)
		case <-ctx.Done():
			s.recordQueued()
			return
		}
		s.recordQueued()
		pause.Reset(recordBatchPause)
		select {
		case <-pause.C:
		case <-ctx.Done():
			s.recordQueued()
			return
		}
	}
}

// recordQueued records every delivery waiting in the queue.
func (s *Server) recordQueued() {
	for {
		select {
		case q := <-s.queue:
			s.recordDelivery(q)
		default:
			return
		}
	}
}

// recordDelivery adds a delivery to its integration's pending status and
// emits a PullRequestLinked Event when a pull request gains a link key.
func (s *Server) recordDelivery(q queued) {
	if s.opts.BeforeRecord != nil {
		s.opts.BeforeRecord()
	}
	if pr := q.rec.pullRequest; pr != nil && pr.LinkKey != "" && s.linkAppears(q.key, pr) {
		s.emitLinked(q.key, pr)
	}
	s.recorder.add(q.key, q.rec)
	if q.rec.delivery == &q.rec.status {
		// From newRecord (duplicates are not): the delta kept no
		// pointer into it.
		releaseRecord(q.rec)
	}
}

// linkAppears reports whether neither the pending status nor the status
// last seen links the pull request to the same key.
func (s *Server) linkAppears(key types.NamespacedName, pr *hookv1.PullRequestStatus) bool {
	k := itemKey{pr.Repository, pr.Number}
	if linked, ok := s.recorder.pendingPullRequest(key, k); ok {
		return linked != pr.LinkKey
	}
	linked, _ := s.store.linkedKey(key, k)
	return linked != pr.LinkKey
}

func (s *Server) emitLinked(key types.NamespacedName, pr *hookv1.PullRequestStatus) {
	in, _, ok := s.store.lookup(key)
	if !ok || s.events == nil {
		return
	}
	obj := &hookv1.GitHubIntegration{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name, UID: in.uid}}
	obj.SetGroupVersionKind(hookv1.GroupVersion.WithKind("GitHubIntegration"))
	s.events.Eventf(obj, nil, corev1.EventTypeNormal, EventReasonPullRequestLinked, "Link",
		"Pull request %s#%d links %s %q", pr.Repository, pr.Number, in.pullRequestKey, pr.LinkKey)
}
