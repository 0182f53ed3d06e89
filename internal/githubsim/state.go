package githubsim

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ErrNotFound is returned by the Go API for unknown targets, hooks and
// deliveries.
var ErrNotFound = errors.New("not found")

type targetKind int

const (
	repoTarget targetKind = iota
	orgTarget
	appTarget
)

// hookOwner is what hooks hang off: a repository, an organization or an App.
type hookOwner struct {
	kind targetKind
	// name is the target as the Go API spells it: "owner/name", "org" or
	// AppTarget(id).
	name string
	id   int64
	// path is the API path of the hooks collection, without the base URL.
	path  string
	hooks []*hookState
}

type repoState struct {
	id       int64
	owner    *orgState
	name     string
	fullName string
	hooks    *hookOwner

	issues     []*issueState
	nextNumber int
	labels     map[string]*labelState // lower-case name
}

type orgState struct {
	id    int64
	login string
	hooks *hookOwner
}

// AppTarget names an App's webhook in the Go API (Hooks, TriggerEvent, ...).
func AppTarget(appID int64) string { return "app:" + strconv.FormatInt(appID, 10) }

// AddOrg registers an organization. Adding it twice is harmless.
func (s *Server) AddOrg(login string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addOrgLocked(login)
}

func (s *Server) addOrgLocked(login string) *orgState {
	key := strings.ToLower(login)
	if o, ok := s.orgs[key]; ok {
		return o
	}
	o := &orgState{id: s.nextID(&s.ids.owner), login: login}
	o.hooks = &hookOwner{kind: orgTarget, name: login, id: o.id, path: "/orgs/" + login + "/hooks"}
	s.orgs[key] = o
	return o
}

// AddRepo registers a repository "owner/name" (and its owner as an
// organization). Every repository is private: a token that cannot reach it
// gets 404. Adding it twice is harmless.
func (s *Server) AddRepo(fullName string) error {
	owner, name, ok := strings.Cut(fullName, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		return fmt.Errorf("repository %q is not of the form owner/name", fullName)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key := strings.ToLower(fullName)
	if _, ok := s.repos[key]; ok {
		return nil
	}
	o := s.addOrgLocked(owner)
	r := &repoState{id: s.nextID(&s.ids.repo), owner: o, name: name, fullName: o.login + "/" + name, labels: map[string]*labelState{}}
	r.hooks = &hookOwner{kind: repoTarget, name: r.fullName, id: r.id, path: "/repos/" + r.fullName + "/hooks"}
	s.repos[key] = r
	return nil
}

// RepoID returns the numeric ID of a repository.
func (s *Server) RepoID(fullName string) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.repos[strings.ToLower(fullName)]
	if !ok {
		return 0, fmt.Errorf("repository %q: %w", fullName, ErrNotFound)
	}
	return r.id, nil
}

// AddApp registers a GitHub App with the PEM-encoded RSA public key (PKIX
// or PKCS#1) that verifies its JWTs, or a PEM private key whose public half
// is used. events are the events the App's webhook is subscribed to.
func (s *Server) AddApp(appID int64, slug string, keyPEM []byte, events ...string) error {
	key, err := parseRSAPublicKey(keyPEM)
	if err != nil {
		return fmt.Errorf("app %d: %w", appID, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	app := &appState{id: appID, slug: slug, publicKey: key, events: slices.Clone(events)}
	owner := &hookOwner{kind: appTarget, name: AppTarget(appID), id: appID, path: "/app/hook"}
	now := s.now()
	app.hook = &hookState{
		owner: owner, id: appID, name: "web", active: true, events: slices.Clone(events),
		config: HookConfig{ContentType: "json", InsecureSSL: "0"}, created: now, updated: now,
	}
	owner.hooks = []*hookState{app.hook}
	s.apps[appID] = app
	return nil
}

// AddInstallation installs an App on an account (organization login) with
// permissions such as {PermRepositoryHooks: PermWrite}. Installation tokens
// reach the given repositories ("owner/name"), or every repository of the
// account when none is given.
func (s *Server) AddInstallation(appID, installationID int64, account string, permissions map[string]string, repos ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.apps[appID]; !ok {
		return fmt.Errorf("app %d: %w", appID, ErrNotFound)
	}
	access := slices.Clone(repos)
	if len(access) == 0 {
		access = []string{account}
	}
	s.installations[installationID] = &installationState{
		id: installationID, appID: appID, account: account, permissions: clonePerms(permissions), access: access,
	}
	return nil
}

// parseRSAPublicKey reads the RSA public key of an App from a PEM private
// or public key, PKCS#1, PKCS#8 or PKIX.
func parseRSAPublicKey(data []byte) (*rsa.PublicKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block in key")
	}
	var key any
	var err error
	switch block.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PUBLIC KEY":
		key, err = x509.ParsePKCS1PublicKey(block.Bytes)
	case "PUBLIC KEY":
		key, err = x509.ParsePKIXPublicKey(block.Bytes)
	default:
		return nil, fmt.Errorf("unsupported PEM block %q", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", block.Type, err)
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return &k.PublicKey, nil
	case *rsa.PublicKey:
		return k, nil
	}
	return nil, fmt.Errorf("%s is not RSA", block.Type)
}

// ownerLocked resolves a Go API target to its hook owner.
func (s *Server) ownerLocked(target string) (*hookOwner, error) {
	if rest, ok := strings.CutPrefix(target, "app:"); ok {
		id, err := strconv.ParseInt(rest, 10, 64)
		if err == nil {
			if app, ok := s.apps[id]; ok {
				return app.hook.owner, nil
			}
		}
	} else if strings.Contains(target, "/") {
		if r, ok := s.repos[strings.ToLower(target)]; ok {
			return r.hooks, nil
		}
	} else if o, ok := s.orgs[strings.ToLower(target)]; ok {
		return o.hooks, nil
	}
	return nil, fmt.Errorf("target %q: %w", target, ErrNotFound)
}

func (o *hookOwner) hook(id int64) *hookState {
	for _, h := range o.hooks {
		if h.id == id {
			return h
		}
	}
	return nil
}

func (o *hookOwner) remove(id int64) bool {
	for i, h := range o.hooks {
		if h.id == id {
			o.hooks = slices.Delete(o.hooks, i, i+1)
			return true
		}
	}
	return false
}

func timestamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
