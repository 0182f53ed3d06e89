package controllers

import (
	"context"
	"fmt"

	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
)

// SecretRefNameField indexes GitHubIntegrations by the name of the Secret
// their spec.secretRef names, so a change of that Secret finds them without
// a list of every integration.
const SecretRefNameField = "spec.secretRef.name"

// SecretRefName is the Secret name spec.secretRef names, the value of
// SecretRefNameField.
func SecretRefName(obj client.Object) []string {
	gi, ok := obj.(*hookv1.GitHubIntegration)
	if !ok || gi.Spec.SecretRef.Name == "" {
		return nil
	}
	return []string{gi.Spec.SecretRef.Name}
}

// fieldIndexName is the name under which controller-runtime's cache looks
// up the index of a field when a List asks MatchingFields (its
// internal.FieldIndexName, not exported).
func fieldIndexName(field string) string { return "field:" + field }

// secretRefIndexers index GitHubIntegrations by "namespace/secret name", the
// value controller-runtime's cache looks up for a List in one namespace
// with MatchingFields{SecretRefNameField: name}. Registered with
// IndexField, the index would also hold a second value per integration for
// Lists across all namespaces, which hookwarden never makes: a set and a
// map entry more per integration, and an index rewritten on every update
// of an integration (client-go skips the rewrite only for one unchanged
// value). Every List by this index must therefore name its namespace.
func secretRefIndexers() toolscache.Indexers {
	return toolscache.Indexers{fieldIndexName(SecretRefNameField): func(obj any) ([]string, error) {
		gi, ok := obj.(*hookv1.GitHubIntegration)
		if !ok {
			return nil, fmt.Errorf("index %s: object of type %T is not a GitHubIntegration", SecretRefNameField, obj)
		}
		names := SecretRefName(gi)
		for i, name := range names {
			names[i] = gi.Namespace + "/" + name
		}
		return names, nil
	}}
}

// setupIndexes registers the indexes the controllers of this package list
// by.
func setupIndexes(ctx context.Context, c cache.Cache) error {
	informer, err := c.GetInformer(ctx, &hookv1.GitHubIntegration{}, cache.BlockUntilSynced(false))
	if err != nil {
		return fmt.Errorf("index GitHubIntegrations by %s: %w", SecretRefNameField, err)
	}
	if err := informer.AddIndexers(secretRefIndexers()); err != nil {
		return fmt.Errorf("index GitHubIntegrations by %s: %w", SecretRefNameField, err)
	}
	return nil
}

// integrationsOfSecret lists, for a watch's map function, the
// GitHubIntegrations whose spec.secretRef names secret, through the field
// index (in the Secret's namespace: the index holds no other form). A map function returns no error: a failure is logged and maps to
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
