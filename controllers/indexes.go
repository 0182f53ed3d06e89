package controllers

import (
	"context"
	"fmt"

	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
)

// SecretRefNameField indexes GitHubIntegrations by the name of the Secret
// their spec.secretRef names, so a change of that Secret finds them without
// a list of every integration.
const SecretRefNameField = "spec.secretRef.name"

// SecretRefName is the index function of SecretRefNameField.
func SecretRefName(obj client.Object) []string {
	gi, ok := obj.(*hookv1.GitHubIntegration)
	if !ok || gi.Spec.SecretRef.Name == "" {
		return nil
	}
	return []string{gi.Spec.SecretRef.Name}
}

// setupIndexes registers the field indexes the controllers of this package
// list by.
func setupIndexes(ctx context.Context, indexer client.FieldIndexer) error {
	if err := indexer.IndexField(ctx, &hookv1.GitHubIntegration{}, SecretRefNameField, SecretRefName); err != nil {
		return fmt.Errorf("index GitHubIntegrations by %s: %w", SecretRefNameField, err)
	}
	return nil
}

// integrationsOfSecret lists, for a watch's map function, the
// GitHubIntegrations whose spec.secretRef names secret, through the field
// index. A map function returns no error: a failure is logged and maps to
// none.
func integrationsOfSecret(ctx context.Context, c client.Reader, secret client.Object) []hookv1.GitHubIntegration {
	var list hookv1.GitHubIntegrationList
	if err := c.List(ctx, &list, client.InNamespace(secret.GetNamespace()),
		client.MatchingFields{SecretRefNameField: secret.GetName()}); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Failed to list the GitHubIntegrations of a Secret", "secret", klog.KObj(secret))
		return nil
	}
	return list.Items
}
