package v1alpha1

import "testing"

func TestParseReceiverPathIsTheInverseOfReceiverPath(t *testing.T) {
	for _, tc := range []struct{ namespace, name string }{
		{"team-a", "experiments"},
		{"default", "x"},
		{"a-very-long-namespace-name-0123456789", "web.hooks-1"},
	} {
		path := ReceiverPath(tc.namespace, tc.name)
		ns, name, ok := ParseReceiverPath(path)
		if !ok || ns != tc.namespace || name != tc.name {
			t.Errorf("ParseReceiverPath(%q) = %q, %q, %v", path, ns, name, ok)
		}
	}
	for _, path := range []string{
		"/",
		"/api/v1/integrations/team-a/webhook/github",
		"/api/v1/integrations//experiments/webhook/github",
		"/api/v1/integrations/team-a//webhook/github",
		"/api/v1/integrations/team-a/x/y/webhook/github",
		"/api/v1/integrations/team-a/experiments/webhook/github/",
		"/api/v1/integrations/team-a/experiments/webhook/gitlab",
		"/api/v2/integrations/team-a/experiments/webhook/github",
	} {
		if ns, name, ok := ParseReceiverPath(path); ok {
			t.Errorf("ParseReceiverPath(%q) = %q, %q: want no match", path, ns, name)
		}
	}
}
