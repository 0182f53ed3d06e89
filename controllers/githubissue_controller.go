package controllers

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
)

// IssueControllerName names the GitHubIssue controller in logs, metrics and
// Events.
const IssueControllerName = "githubissue"

// IntegrationRefNameField indexes GitHubIssues by the integration their
// spec.integrationRef names, so a change of that integration finds them
// without a list of every GitHubIssue.
const IntegrationRefNameField = "spec.integrationRef.name"

// +kubebuilder:rbac:groups=integrations.hookwarden.io,resources=githubissues,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=integrations.hookwarden.io,resources=githubissues/status,verbs=get;patch
// +kubebuilder:rbac:groups=integrations.hookwarden.io,resources=githubissues/finalizers,verbs=update

// SetupWithManager registers the GitHubIssue reconciler with mgr and the
// field index it lists by. The GitHubIntegration index it maps Secrets
// with is registered by the GitHubIntegration reconciler's setup.
func (r *GitHubIssueReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager, opts controller.Options) error {
	if err := mgr.GetFieldIndexer().IndexField(ctx, &hookv1.GitHubIssue{}, IntegrationRefNameField, IntegrationRefName); err != nil {
		return fmt.Errorf("index GitHubIssues by %s: %w", IntegrationRefNameField, err)
	}
	return r.builder(mgr, opts).Complete(r)
}

// IntegrationRefName is the index function of IntegrationRefNameField.
func IntegrationRefName(obj client.Object) []string {
	is, ok := obj.(*hookv1.GitHubIssue)
	if !ok || is.Spec.IntegrationRef.Name == "" {
		return nil
	}
	return []string{is.Spec.IntegrationRef.Name}
}

// builder wires the watches: GitHubIssues on spec, annotation or deletion
// changes; every change of a GitHubIntegration, status included (the
// receiver records there the issues deliveries and the linked pull
// requests a GitHubIssue shows), mapped to the GitHubIssues that use it;
// and the metadata of Secrets, mapped through the integrations that
// reference them, so that a missing Secret is noticed when it appears.
func (r *GitHubIssueReconciler) builder(mgr ctrl.Manager, opts controller.Options) *builder.Builder {
	return ctrl.NewControllerManagedBy(mgr).
		Named(IssueControllerName).
		For(&hookv1.GitHubIssue{}, builder.WithPredicates(specOrAnnotationChanged())).
		Watches(&hookv1.GitHubIntegration{}, handler.EnqueueRequestsFromMapFunc(r.issuesOfIntegration)).
		WatchesMetadata(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.issuesOfSecret)).
		WithOptions(opts)
}

// issuesOfIntegration maps an integration to the GitHubIssues that name it.
func (r *GitHubIssueReconciler) issuesOfIntegration(ctx context.Context, gi client.Object) []reconcile.Request {
	var list hookv1.GitHubIssueList
	if err := r.List(ctx, &list, client.InNamespace(gi.GetNamespace()),
		client.MatchingFields{IntegrationRefNameField: gi.GetName()}); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Failed to list the GitHubIssues of a GitHubIntegration", "githubIntegration", klog.KObj(gi))
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for _, is := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: is.Namespace, Name: is.Name}})
	}
	return reqs
}

// issuesOfSecret maps a Secret to the GitHubIssues of the integrations
// that reference it.
func (r *GitHubIssueReconciler) issuesOfSecret(ctx context.Context, secret client.Object) []reconcile.Request {
	integrations := integrationsOfSecret(ctx, r, secret)
	var reqs []reconcile.Request
	for i := range integrations {
		reqs = append(reqs, r.issuesOfIntegration(ctx, &integrations[i])...)
	}
	return reqs
}

// Reconcile keeps one GitHubIssue's issue on GitHub as declared and writes
// what it saw to status.
func (r *GitHubIssueReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	obj := &hookv1.GitHubIssue{}
	if err := r.Get(ctx, req.NamespacedName, obj); err != nil {
		if apierrors.IsNotFound(err) {
			r.synced.forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}

	// The status as last written: the deferred patch writes the
	// difference, and a write right after creation moves it on.
	written := obj.DeepCopy()
	gone := false
	defer writeStatusOnReturn(&gone, &retErr, func() error {
		return r.patchIssueStatus(ctx, obj, written)
	})

	if !obj.DeletionTimestamp.IsZero() {
		result, gone, retErr = r.reconcileIssueDelete(ctx, obj)
		return result, retErr
	}
	if _, err := addFinalizer(ctx, r.Client, r.APIReader, obj); err != nil {
		return ctrl.Result{}, err
	}

	gi, err := r.integrationOf(ctx, obj)
	if err != nil {
		return r.handleIssueFailure(ctx, obj, gi, nil, err)
	}
	linkPullRequests(obj, gi)
	if gi.Spec.Suspend {
		// The integration's spec.suspend pauses every GitHub call of its
		// token, this issue's too; deletion still closes the issue.
		issueConditions(obj).suspended(fmt.Sprintf(
			"GitHubIntegration %q is suspended (spec.suspend): no GitHub call is made for this issue", gi.Name))
		return ctrl.Result{}, nil
	}
	mark, due := r.syncDue(obj)
	if !due {
		copyLiveState(obj, gi, mark.at)
		return ctrl.Result{RequeueAfter: time.Until(mark.due)}, nil
	}

	svc, sec, err := r.issueService(ctx, obj, gi)
	if err != nil {
		return r.handleIssueFailure(ctx, obj, gi, sec, err)
	}
	is, err := r.ensureIssue(ctx, obj, written, svc)
	if err != nil {
		return r.handleIssueFailure(ctx, obj, gi, sec, err)
	}
	next, err := r.keepIssue(ctx, obj, gi, svc, is)
	if err != nil {
		return r.handleIssueFailure(ctx, obj, gi, sec, err)
	}
	markIssueReady(obj)
	return ctrl.Result{RequeueAfter: next}, nil
}
