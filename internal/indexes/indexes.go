// Package indexes registers the cache field indexes that the reconciler and
// the receiver share. They are registered once per manager, in main, because
// registering the same field twice fails.
package indexes

import (
	"context"
	"fmt"

	"sigs.k8s.io/controller-runtime/pkg/client"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
)

// SecretRefNameField indexes GitHubIntegrations by the name of the Secret
// their spec.secretRef names, so a change of that Secret finds them without a
// list of every integration.
const SecretRefNameField = "spec.secretRef.name"

// SecretRefName is the index function of SecretRefNameField.
func SecretRefName(obj client.Object) []string {
	gi, ok := obj.(*hookv1.GitHubIntegration)
	if !ok || gi.Spec.SecretRef.Name == "" {
		return nil
	}
	return []string{gi.Spec.SecretRef.Name}
}

// Setup registers every index on the manager's cache.
func Setup(ctx context.Context, indexer client.FieldIndexer) error {
	if err := indexer.IndexField(ctx, &hookv1.GitHubIntegration{}, SecretRefNameField, SecretRefName); err != nil {
		return fmt.Errorf("index GitHubIntegrations by %s: %w", SecretRefNameField, err)
	}
	return nil
}
