package github

import (
	"strings"
	"testing"
)

// A repository is named "owner/name" wherever one is given, for hooks and
// for issues alike: anything else is refused with the same message, before
// any request.
func TestRepositoryNamesAreOwnerSlashName(t *testing.T) {
	c := tokenClient(t, NewFactory(), newSim(t), testToken)
	for _, name := range []string{"acme/", "/api", "acme/api/extra", "/"} {
		want := `repository "` + name + `" is not of the form owner/name`
		if _, err := c.Hooks(name); err == nil || err.Error() != want {
			t.Errorf("Hooks(%q): got error %v, want %q", name, err, want)
		}
		if _, err := c.RepositoryIssues(name); err == nil || err.Error() != want {
			t.Errorf("RepositoryIssues(%q): got error %v, want %q", name, err, want)
		}
	}
	if _, err := c.RepositoryIssues("acme"); err == nil || !strings.Contains(err.Error(), "owner/name") {
		t.Errorf(`RepositoryIssues("acme"): got error %v, want one that asks for owner/name`, err)
	}
	if hooks, err := c.Hooks("acme/api"); err != nil {
		t.Errorf(`Hooks("acme/api"): %v`, err)
	} else if got := hooks.Target(); got != "acme/api" {
		t.Errorf(`Hooks("acme/api"): target %q`, got)
	}
	if issues, err := c.RepositoryIssues("acme/api"); err != nil {
		t.Errorf(`RepositoryIssues("acme/api"): %v`, err)
	} else if got := issues.Repository(); got != "acme/api" {
		t.Errorf(`RepositoryIssues("acme/api"): repository %q`, got)
	}
}
