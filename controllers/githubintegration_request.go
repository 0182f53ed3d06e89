package controllers

import (
	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
)

// handleReconcileRequest echoes the reconcile.hookwarden.io/requestedAt
// annotation in status: the reconcile running now is the one asked for (the
// predicate lets annotation changes through, so a new value starts one at
// once), and the status written at its end shows its outcome.
func handleReconcileRequest(obj *hookv1.GitHubIntegration) {
	if v, ok := obj.GetAnnotations()[hookv1.ReconcileRequestAnnotation]; ok {
		obj.Status.LastHandledReconcileAt = v
	}
}
