package githubsim

import (
	"crypto/rand"
	"math/big"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// installationTokenTTL is how long GitHub's installation tokens live
// (WithInstallationTokenTTL changes it).
const installationTokenTTL = time.Hour

type installationTokenRequest struct {
	Repositories  []string          `json:"repositories"`
	RepositoryIDs []int64           `json:"repository_ids"`
	Permissions   map[string]string `json:"permissions"`
}

type installationTokenJSON struct {
	Token               string            `json:"token"`
	ExpiresAt           string            `json:"expires_at"`
	Permissions         map[string]string `json:"permissions"`
	RepositorySelection string            `json:"repository_selection"`
}

// createInstallationToken issues an installation access token ("ghs_...")
// valid for an hour, optionally narrowed to some repositories and
// permissions.
func (s *Server) createInstallationToken(c *call) *response {
	id, err := strconv.ParseInt(c.param("installation_id"), 10, 64)
	if err != nil {
		return notFound(c.docURL())
	}
	var req installationTokenRequest
	if resp := decodeBody(c, &req); resp != nil {
		return resp
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	inst, ok := s.installations[id]
	if !ok || inst.appID != c.principal.app.id {
		return notFound(c.docURL())
	}
	perms := clonePerms(inst.permissions)
	if len(req.Permissions) > 0 {
		for k, wanted := range req.Permissions {
			if !permits(perms[k], wanted) {
				return validationFailed(c.docURL(), fieldError{Resource: "Installation", Field: "permissions", Code: "custom",
					Message: "The permissions requested are not granted to this installation."})
			}
		}
		perms = clonePerms(req.Permissions)
	}
	access := slices.Clone(inst.access)
	selection := "all"
	if len(inst.access) != 1 || strings.Contains(inst.access[0], "/") {
		selection = "selected"
	}
	if len(req.Repositories) > 0 {
		probe := &Token{Access: inst.access}
		access = nil
		for _, name := range req.Repositories {
			full := inst.account + "/" + name
			if _, exists := s.repos[strings.ToLower(full)]; !exists || !probe.canReachRepo(full) {
				return validationFailed(c.docURL(), fieldError{Resource: "Installation", Field: "repositories", Code: "custom",
					Message: "There is at least one repository that does not exist or is not accessible to the parent installation."})
			}
			access = append(access, full)
		}
		selection = "selected"
	}
	app := s.apps[inst.appID]
	t := &Token{
		Value: "ghs_" + randomToken(36), Kind: InstallationToken, Login: app.slug + "[bot]",
		UserID: app.id, Permissions: perms, Access: access,
		ExpiresAt: s.now().Add(s.opts.installationTokenTTL).Truncate(time.Second), InstallationID: inst.id,
	}
	s.tokens[t.Value] = t
	return jsonResponse(http.StatusCreated, installationTokenJSON{
		Token: t.Value, ExpiresAt: timestamp(t.ExpiresAt), Permissions: perms, RepositorySelection: selection,
	})
}

const tokenAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func randomToken(n int) string {
	var b strings.Builder
	limit := big.NewInt(int64(len(tokenAlphabet)))
	for range n {
		i, err := rand.Int(rand.Reader, limit)
		if err != nil {
			panic("githubsim: read random: " + err.Error())
		}
		b.WriteByte(tokenAlphabet[i.Int64()])
	}
	return b.String()
}
