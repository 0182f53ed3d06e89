package github

import (
	"fmt"
	"strings"

	gogithub "github.com/google/go-github/v60/github"
)

// What the hook and issue services share: the access a token needs for an
// operation, the repository a service works on, and how a go-github call's
// result is handed back.

// Access is what credentials need for an operation, in the words of
// GitHub's token settings.
type Access struct {
	// ClassicScope is the scope of a classic personal access token.
	ClassicScope string
	// Permission is the fine-grained token or GitHub App permission.
	Permission string
	// Credentials, when set, replaces the hint: the operation needs these
	// credentials rather than a scope or permission.
	Credentials string
}

// String reads as a hint in an error message.
func (a Access) String() string {
	if a.Credentials != "" {
		return a.Credentials
	}
	return fmt.Sprintf("the %q scope for a classic token, or the %q permission for a fine-grained token or GitHub App", a.ClassicScope, a.Permission)
}

// repository is a repository's owner and name, parsed from "owner/name".
type repository struct{ owner, repo string }

// parseRepository parses "owner/name", saying what is wrong when it is not
// of that form.
func parseRepository(fullName string) (repository, error) {
	owner, repo, ok := strings.Cut(fullName, "/")
	if !ok || owner == "" || repo == "" || strings.Contains(repo, "/") {
		return repository{}, fmt.Errorf("repository %q is not of the form owner/name", fullName)
	}
	return repository{owner: owner, repo: repo}, nil
}

// fullName is "owner/name".
func (r repository) fullName() string { return r.owner + "/" + r.repo }

// listPageSize is the largest page GitHub serves.
const listPageSize = 100

// result drops the *gogithub.Response that go-github returns with a
// value: the transport already read what the client needs of it (rate
// limits, ETags).
func result[T any](v T, _ *gogithub.Response, err error) (T, error) { return v, err }

// errOf keeps only the error of a go-github call whose value is not used.
func errOf[T any](_ T, _ *gogithub.Response, err error) error { return err }
