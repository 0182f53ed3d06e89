package controllers

import (
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	"github.com/hookwarden/hookwarden/internal/metrics"
)

// The three conditions follow kstatus: Ready summarises, Reconciling is True
// while hookwarden works towards the spec, Stalled is True when only the user
// can unblock it. Reconciling and Stalled are removed when they no longer
// apply, so tools that read kstatus see Current once Ready is True.

// kstatusConditions is the part of an object's status the three conditions
// live in, shared by GitHubIntegrations and GitHubIssues, and the object's
// generation.
type kstatusConditions struct {
	status     *hookv1.ReconcileStatus
	generation int64
}

func integrationConditions(obj *hookv1.GitHubIntegration) kstatusConditions {
	return kstatusConditions{&obj.Status.ReconcileStatus, obj.Generation}
}

func (k kstatusConditions) set(condType string, status metav1.ConditionStatus, reason, message string) {
	apimeta.SetStatusCondition(&k.status.Conditions, metav1.Condition{
		Type:               condType,
		Status:             status,
		Reason:             reason,
		Message:            truncateMessage(message),
		ObservedGeneration: k.generation,
	})
}

// ready: the object matches the spec; the generation is handled.
func (k kstatusConditions) ready(reason, message string) {
	k.set(hookv1.ConditionReady, metav1.ConditionTrue, reason, message)
	apimeta.RemoveStatusCondition(&k.status.Conditions, hookv1.ConditionReconciling)
	apimeta.RemoveStatusCondition(&k.status.Conditions, hookv1.ConditionStalled)
	k.status.ObservedGeneration = k.generation
}

// reconciling: not there yet, and retrying (or waiting) will get there.
func (k kstatusConditions) reconciling(reason, message string) {
	k.set(hookv1.ConditionReady, metav1.ConditionFalse, reason, message)
	k.set(hookv1.ConditionReconciling, metav1.ConditionTrue, hookv1.ReasonProgressing, message)
	apimeta.RemoveStatusCondition(&k.status.Conditions, hookv1.ConditionStalled)
}

// stalled: the spec, the Secret or GitHub's answer needs the user; the
// generation is handled as far as it can be.
func (k kstatusConditions) stalled(reason, message string) {
	k.set(hookv1.ConditionReady, metav1.ConditionFalse, reason, message)
	k.set(hookv1.ConditionStalled, metav1.ConditionTrue, reason, message)
	apimeta.RemoveStatusCondition(&k.status.Conditions, hookv1.ConditionReconciling)
	k.status.ObservedGeneration = k.generation
}

func setCondition(obj *hookv1.GitHubIntegration, condType string, status metav1.ConditionStatus, reason, message string) {
	integrationConditions(obj).set(condType, status, reason, message)
}

// markReady: every hook matches the spec; the generation is handled.
func markReady(obj *hookv1.GitHubIntegration, reason, message string) {
	integrationConditions(obj).ready(reason, message)
}

// markReconciling: not there yet, and retrying (or waiting) will get there.
func markReconciling(obj *hookv1.GitHubIntegration, reason, message string) {
	integrationConditions(obj).reconciling(reason, message)
}

// markSuspended keeps Ready's status (the hooks stay as they were last
// seen) and says why nothing is checked.
func markSuspended(obj *hookv1.GitHubIntegration) {
	integrationConditions(obj).suspended("Reconciliation is suspended (spec.suspend): no GitHub call is made; the receiver keeps receiving")
}

// suspended keeps Ready's status (what is on GitHub stays as last seen)
// and says why nothing is checked.
func (k kstatusConditions) suspended(message string) {
	status := metav1.ConditionFalse
	if c := apimeta.FindStatusCondition(k.status.Conditions, hookv1.ConditionReady); c != nil && c.Status == metav1.ConditionTrue {
		status = metav1.ConditionTrue
	}
	k.set(hookv1.ConditionReady, status, hookv1.ReasonSuspended, message)
	apimeta.RemoveStatusCondition(&k.status.Conditions, hookv1.ConditionReconciling)
	apimeta.RemoveStatusCondition(&k.status.Conditions, hookv1.ConditionStalled)
	k.status.ObservedGeneration = k.generation
}

// maxConditionMessage is the API's limit on a condition message.
const maxConditionMessage = 32768

func truncateMessage(m string) string {
	if len(m) <= maxConditionMessage {
		return m
	}
	return m[:maxConditionMessage-3] + "..."
}

// stepError is a failed reconcile step with the reason and message users
// see in Ready.
type stepError struct {
	reason  string
	message string
	// stalled: retrying cannot help until the user changes something.
	stalled bool
	// retryOnInterval: a stalled error the user may fix outside the
	// cluster (on GitHub), so it is checked again every interval.
	retryOnInterval bool
	// retryAfter: a stalled error whose fix no watch reports (a Secret
	// created later), so it is checked again after this wait.
	retryAfter time.Duration
	// retryAt: a known wait (rate limit reset).
	retryAt time.Time
	err     error
}

func (e *stepError) Error() string { return e.message }
func (e *stepError) Unwrap() error { return e.err }

// stalledError is a user-fixable error.
func stalledError(reason, message string) *stepError {
	return &stepError{reason: reason, message: message, stalled: true}
}

// exportConditions publishes the integration's conditions as
// hookwarden_integration_condition series; a condition it no longer has
// loses its series.
func exportConditions(obj *hookv1.GitHubIntegration) {
	present := map[string]string{}
	for _, c := range obj.Status.Conditions {
		present[c.Type] = string(c.Status)
	}
	for _, t := range []string{hookv1.ConditionReady, hookv1.ConditionReconciling, hookv1.ConditionStalled} {
		metrics.SetCondition(obj.Namespace, obj.Name, t, present[t])
	}
}

// isReady reports whether Ready is True for the current generation.
func isReady(conditions []metav1.Condition, generation int64) bool {
	c := apimeta.FindStatusCondition(conditions, hookv1.ConditionReady)
	return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == generation
}
