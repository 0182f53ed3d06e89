package scheme

import (
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// countingMapper counts the questions RESTMapping is asked.
type countingMapper struct {
	*meta.DefaultRESTMapper
	asked int
}

func (c *countingMapper) RESTMapping(gk schema.GroupKind, versions ...string) (*meta.RESTMapping, error) {
	c.asked++
	return c.DefaultRESTMapper.RESTMapping(gk, versions...)
}

func TestRememberMappingsAsksOnceForWhatItFound(t *testing.T) {
	integrations := schema.GroupVersionKind{Group: "hookwarden.io", Version: "v1alpha1", Kind: "GitHubIntegration"}
	secrets := schema.GroupVersionKind{Version: "v1", Kind: "Secret"}
	d := &countingMapper{DefaultRESTMapper: meta.NewDefaultRESTMapper([]schema.GroupVersion{integrations.GroupVersion()})}
	d.Add(integrations, meta.RESTScopeNamespace)
	m := RememberMappings(d)

	for range 3 {
		got, err := m.RESTMapping(integrations.GroupKind(), integrations.Version)
		if err != nil {
			t.Fatal(err)
		}
		if got.Resource.Resource != "githubintegrations" || got.Scope.Name() != meta.RESTScopeNameNamespace {
			t.Fatalf("mapping %+v, want githubintegrations, namespaced", got)
		}
		// What a caller does with its answer is not the next one's.
		got.Resource.Resource = "changed"
	}
	if d.asked != 1 {
		t.Errorf("the mapper behind was asked %d times for one kind and version, want 1", d.asked)
	}
	// Another list of versions is another question.
	if _, err := m.RESTMapping(integrations.GroupKind()); err != nil {
		t.Fatal(err)
	}
	if d.asked != 2 {
		t.Errorf("the mapper behind was asked %d times after a question without versions, want 2", d.asked)
	}

	// A kind not found is asked again, and found once it is served.
	for range 2 {
		if _, err := m.RESTMapping(secrets.GroupKind(), secrets.Version); !meta.IsNoMatchError(err) {
			t.Fatalf("a kind not served: error %v, want a no-match error", err)
		}
	}
	if d.asked != 4 {
		t.Errorf("the mapper behind was asked %d times after two questions about a kind it did not know, want 4", d.asked)
	}
	d.Add(secrets, meta.RESTScopeNamespace)
	got, err := m.RESTMapping(secrets.GroupKind(), secrets.Version)
	if err != nil || got.Resource.Resource != "secrets" {
		t.Fatalf("a kind served later: %+v, %v; want secrets", got, err)
	}
}
