package controllers

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	"github.com/hookwarden/hookwarden/internal/metrics"
)

// DefaultLinkedPullRequestsInterval is how often, at most, the section of an
// issue body that lists its linked pull requests is rewritten on GitHub.
const DefaultLinkedPullRequestsInterval = time.Minute

// GitHubIssueReconciler reconciles GitHubIssue objects: it creates each
// issue once with the referenced integration's token, keeps it as declared,
// and closes or leaves it when the object goes.
type GitHubIssueReconciler struct {
	// Deps: Client reads GitHubIssues and GitHubIntegrations (cached) and
	// patches GitHubIssues; APIReader reads the integration's Secret, and a
	// GitHubIssue before looking for its issue by marker; Recorder emits
	// Events on the GitHubIssues.
	Deps
	// LinkedPullRequestsInterval spaces the rewrites of an issue's linked
	// pull requests section; DefaultLinkedPullRequestsInterval when zero
	// (tests shorten it).
	LinkedPullRequestsInterval time.Duration

	// synced remembers, per GitHubIssue, when its issue was last compared
	// with GitHub, so that a reconcile woken by the integration's status
	// (a delivery) only copies what the receiver recorded.
	synced syncMemo
}

// syncMemo is the in-memory record of the last GitHub sync of each
// GitHubIssue; entries go with their objects, so it stays bounded.
type syncMemo struct {
	mu      sync.Mutex
	entries map[types.NamespacedName]syncMark
}

type syncMark struct {
	uid        types.UID
	generation int64
	// at is when the issue was last read from GitHub.
	at time.Time
	// due is when the next GitHub sync is due: the resync interval, or
	// sooner when a linked pull requests section waits for its turn.
	due time.Time
	// links is the linked pull requests section the sync wrote or found.
	links string
}

func (m *syncMemo) get(key types.NamespacedName) (syncMark, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mark, ok := m.entries[key]
	return mark, ok
}

func (m *syncMemo) put(key types.NamespacedName, mark syncMark) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.entries == nil {
		m.entries = map[types.NamespacedName]syncMark{}
	}
	m.entries[key] = mark
}

func (m *syncMemo) forget(key types.NamespacedName) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.entries, key)
}

func (r *GitHubIssueReconciler) linksInterval() time.Duration {
	if r.LinkedPullRequestsInterval > 0 {
		return r.LinkedPullRequestsInterval
	}
	return DefaultLinkedPullRequestsInterval
}

// markIssueReady: the issue on GitHub is as declared.
func markIssueReady(obj *hookv1.GitHubIssue) {
	issueConditions(obj).ready(hookv1.ReasonSucceeded,
		fmt.Sprintf("Issue #%d of %s is kept as declared", obj.Status.Number, obj.Spec.Repository))
	apimeta.RemoveStatusCondition(&obj.Status.Conditions, hookv1.ConditionRateLimited)
}

func issueConditions(obj *hookv1.GitHubIssue) kstatusConditions {
	return kstatusConditions{&obj.Status.ReconcileStatus, obj.Generation}
}

// patchIssueStatus writes the status when it differs from the one last
// written. The GitHubIssue's status has one writer, this controller, so a
// merge patch cannot undo anyone else's field.
func (r *GitHubIssueReconciler) patchIssueStatus(ctx context.Context, obj, written *hookv1.GitHubIssue) error {
	if equality.Semantic.DeepEqual(obj.Status, written.Status) {
		return nil
	}
	metrics.StatusWrites.WithLabelValues("githubissue").Inc()
	if err := r.Status().Patch(ctx, obj, client.MergeFrom(written)); err != nil {
		return client.IgnoreNotFound(fmt.Errorf("patch status: %w", err))
	}
	written.Status = *obj.Status.DeepCopy()
	return nil
}

// warn emits a Warning Event.
func (r *GitHubIssueReconciler) warn(obj *hookv1.GitHubIssue, reason, message string) {
	r.Recorder.Eventf(obj, nil, corev1.EventTypeWarning, reason, "Reconcile", "%s", message)
}

// normal emits a Normal Event.
func (r *GitHubIssueReconciler) normal(obj *hookv1.GitHubIssue, reason, action, message string) {
	r.Recorder.Eventf(obj, nil, corev1.EventTypeNormal, reason, action, "%s", message)
}
