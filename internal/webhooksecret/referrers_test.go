package webhooksecret

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
)

func TestSecretRefNameIndex(t *testing.T) {
	gi := &hookv1.GitHubIntegration{Spec: hookv1.GitHubIntegrationSpec{SecretRef: hookv1.SecretReference{Name: "github-experiments"}}}
	if got := SecretRefName(gi); !slices.Equal(got, []string{"github-experiments"}) {
		t.Errorf("SecretRefName = %v, want [github-experiments]", got)
	}
	if got := SecretRefName(&hookv1.GitHubIntegration{}); got != nil {
		t.Errorf("an integration without a Secret is indexed under %v", got)
	}
	if got := SecretRefName(&corev1.Secret{}); got != nil {
		t.Errorf("a Secret is indexed under %v", got)
	}
}

// TestSecretRefIndexHoldsOneValuePerIntegration: the index of
// spec.secretRef.name holds "namespace/name" only (what a List in one
// namespace looks up), not also the all-namespaces value IndexField adds:
// one set per integration instead of two.
func TestSecretRefIndexHoldsOneValuePerIntegration(t *testing.T) {
	indexer := toolscache.NewIndexer(toolscache.MetaNamespaceKeyFunc, SecretRefIndexers())
	for _, gi := range []*hookv1.GitHubIntegration{
		{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "one"}, Spec: hookv1.GitHubIntegrationSpec{SecretRef: hookv1.SecretReference{Name: "github"}}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "two"}, Spec: hookv1.GitHubIntegrationSpec{SecretRef: hookv1.SecretReference{Name: "github"}}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "team-b", Name: "one"}, Spec: hookv1.GitHubIntegrationSpec{SecretRef: hookv1.SecretReference{Name: "github"}}},
	} {
		if err := indexer.Add(gi); err != nil {
			t.Fatal(err)
		}
	}
	index := fieldIndexName(SecretRefNameField)
	values := indexer.ListIndexFuncValues(index)
	slices.Sort(values)
	if want := []string{"team-a/github", "team-b/github"}; !slices.Equal(values, want) {
		t.Fatalf("index values %v, want %v", values, want)
	}
	objs, err := indexer.ByIndex(index, "team-a/github")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, obj := range objs {
		names = append(names, obj.(*hookv1.GitHubIntegration).Name)
	}
	slices.Sort(names)
	if want := []string{"one", "two"}; !slices.Equal(names, want) {
		t.Fatalf("integrations of team-a/github %v, want %v", names, want)
	}
}
