// Package testfixtures gives tests access to the independent references that
// hookwarden is checked against: GitHub's OpenAPI description
// (@octokit/openapi), GitHub's example webhook payloads
// (@octokit/webhooks-examples) and Octokit's webhook signing implementation
// (@octokit/webhooks-methods). `make npm-deps` fetches them into a
// git-ignored cache; tests that need them must fail, not skip, when the cache
// is missing, so that a green run always means the references were consulted.
package testfixtures

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// NPMCacheEnv names the environment variable that points at the npm cache
// root (the directory holding node_modules). `make test` sets it.
const NPMCacheEnv = "HOOKWARDEN_NPM_CACHE"

const (
	openAPIFile  = "node_modules/@octokit/openapi/generated/api.github.com.json"
	examplesFile = "node_modules/@octokit/webhooks-examples/api.github.com/index.json"
	methodsDir   = "node_modules/@octokit/webhooks-methods"
)

// NPMCache returns the root of the npm cache: the directory named by
// HOOKWARDEN_NPM_CACHE, or else .cache/npm under the module root found by
// walking up from the working directory to go.mod.
func NPMCache() (string, error) {
	if dir := os.Getenv(NPMCacheEnv); dir != "" {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return "", fmt.Errorf("resolve %s=%q: %w", NPMCacheEnv, dir, err)
		}
		return checkCache(abs, NPMCacheEnv+"="+dir)
	}
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	return checkCache(filepath.Join(root, ".cache", "npm"), "the module's .cache/npm")
}

// OpenAPIPath returns the path of GitHub's OpenAPI description of
// api.github.com (the api.github.com.json file of @octokit/openapi).
func OpenAPIPath() (string, error) {
	return cachedFile(openAPIFile)
}

// ExamplesPath returns the path of the api.github.com index of
// @octokit/webhooks-examples.
func ExamplesPath() (string, error) {
	return cachedFile(examplesFile)
}

func cachedFile(rel string) (string, error) {
	cache, err := NPMCache()
	if err != nil {
		return "", err
	}
	path := filepath.Join(cache, filepath.FromSlash(rel))
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("npm test reference %s is missing (run `make npm-deps`): %w", rel, err)
	}
	return path, nil
}

func checkCache(dir, origin string) (string, error) {
	info, err := os.Stat(filepath.Join(dir, "node_modules"))
	if err != nil || !info.IsDir() {
		return "", fmt.Errorf("npm test references not found in %s (%s): run `make npm-deps`", dir, origin)
	}
	return dir, nil
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find module root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		} else if !errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("find module root: %w", err)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("find module root: no go.mod above the working directory; set %s or run `make npm-deps`", NPMCacheEnv)
		}
		dir = parent
	}
}
