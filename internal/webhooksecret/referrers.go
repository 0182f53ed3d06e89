package webhooksecret

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
)

// SecretRefNameField indexes GitHubIntegrations by the name of the Secret
// their spec.secretRef names, so a change of that Secret finds them without
// a list of every integration. The reconciler registers the index
// (SecretRefIndexers) on the cache it shares with the receiver of the same
// process, and both find an integration's readers through it
// (Referencing).
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

// SecretRefIndexers index GitHubIntegrations by "namespace/secret name", the
// value controller-runtime's cache looks up for a List in one namespace
// with MatchingFields{SecretRefNameField: name}. Registered with
// IndexField, the index would also hold a second value per integration for
// Lists across all namespaces, which hookwarden never makes: a set and a
// map entry more per integration, and an index rewritten on every update
// of an integration (client-go skips the rewrite only for one unchanged
// value). Every List by this index must therefore name its namespace.
func SecretRefIndexers() toolscache.Indexers {
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

// IndexSecretRefs registers SecretRefIndexers on c's GitHubIntegration
// informer. The reconciler does, in SetupWithManager; in the one-process
// layout the receiver reads the same index through the shared cache.
func IndexSecretRefs(ctx context.Context, c cache.Cache) error {
	informer, err := c.GetInformer(ctx, &hookv1.GitHubIntegration{}, cache.BlockUntilSynced(false))
	if err != nil {
		return fmt.Errorf("index GitHubIntegrations by %s: %w", SecretRefNameField, err)
	}
	if err := informer.AddIndexers(SecretRefIndexers()); err != nil {
		return fmt.Errorf("index GitHubIntegrations by %s: %w", SecretRefNameField, err)
	}
	return nil
}

// Referencing lists the integrations whose spec.secretRef names the Secret
// namespace/name, through the index of SecretRefNameField, whatever their
// deletionPolicy, being deleted or not.
func Referencing(ctx context.Context, c client.Reader, namespace, name string, opts ...client.ListOption) ([]hookv1.GitHubIntegration, error) {
	var list hookv1.GitHubIntegrationList
	if err := c.List(ctx, &list, append([]client.ListOption{client.InNamespace(namespace), client.MatchingFields{SecretRefNameField: name}}, opts...)...); err != nil {
		return nil, fmt.Errorf("list the GitHubIntegrations of Secret %q: %w", name, err)
	}
	return list.Items, nil
}

// ReferencingKeys is Referencing's integrations by name, read from the
// cache without copying them.
func ReferencingKeys(ctx context.Context, c client.Reader, namespace, name string) ([]types.NamespacedName, error) {
	items, err := Referencing(ctx, c, namespace, name, client.UnsafeDisableDeepCopy)
	if err != nil {
		return nil, err
	}
	keys := make([]types.NamespacedName, len(items))
	for i := range items {
		keys[i] = client.ObjectKeyFromObject(&items[i])
	}
	return keys, nil
}
