package controllers

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ghclient "github.com/hookwarden/hookwarden/internal/github"
	"github.com/hookwarden/hookwarden/internal/webhooksecret"
)

// GitHubIntegrationReconciler reconciles GitHubIntegration objects.
type GitHubIntegrationReconciler struct {
	// Deps: Client reads and patches GitHubIntegrations (cached reads);
	// APIReader reads the referenced Secrets, which are not cached;
	// Recorder emits Events on the integrations.
	Deps
	// PublicURL is where GitHub reaches the receiver (--public-url); the
	// payload URL is PublicURL followed by the receiver path unless
	// spec.payloadURL is set.
	PublicURL string
	// RedeliveryWindow is how old a failed delivery may be and still be
	// redelivered: GitHub's window, DefaultRedeliveryWindow when zero
	// (tests shorten it).
	RedeliveryWindow time.Duration
	// SecretPropagationDelay is the wait between the start of a rotation
	// and the push of the new secret to GitHub, for every receiver to learn
	// it; DefaultSecretPropagationDelay when zero.
	SecretPropagationDelay time.Duration
	// MirrorNamespace, when set, is the operator's namespace, where the
	// receiver runs apart (--components) and reads each integration's
	// webhook secrets from a mirror Secret the reconciler keeps there.
	MirrorNamespace string
	// ReceiverService names the receiver Service in MirrorNamespace: a
	// rotation sends the new secret to GitHub once every ready endpoint of
	// it acknowledged loading it. Empty: the rotation waits
	// SecretPropagationDelay instead.
	ReceiverService string
	// QuietTurnWait is how long a new integration may wait for its
	// token's turn without saying so in status (see waitForFirstTurn);
	// DefaultQuietTurnWait when zero, and none when negative.
	QuietTurnWait time.Duration
	// SecretPatches, when the receiver runs in the same process, learns of
	// the label and finalizer claimSecret adds to a Secret, so that the
	// receiver does not read the Secret again for them.
	SecretPatches *webhooksecret.OwnPatches

	// tokens remembers the token each integration last used, so the
	// GitHub client of a token nobody uses any more is dropped.
	tokens tokenUsers
	// redeliveries remembers the redeliveries requested recently.
	redeliveries redeliveryLog
	// written remembers the hooks this process wrote until the cache
	// shows them.
	written writtenHooks
	// labelledSecrets is the manager's cache, read for the metadata of the
	// labelled Secrets its Secret watch holds (the client reads Secrets
	// from the API server); nil before SetupWithManager.
	labelledSecrets client.Reader
}

// DefaultQuietTurnWait is the default of
// GitHubIntegrationReconciler.QuietTurnWait.
const DefaultQuietTurnWait = 10 * time.Second

// DefaultSecretPropagationDelay is the default of
// GitHubIntegrationReconciler.SecretPropagationDelay.
const DefaultSecretPropagationDelay = 3 * time.Second

// tokenUsers counts which integrations use which token, so that the client
// of a token is dropped from the factory once no integration uses it (a
// token rotated in the Secret would otherwise keep its client, rate-limit
// state and ETag entries forever).
type tokenUsers struct {
	mu    sync.Mutex
	users map[types.NamespacedName]tokenUse
}

type tokenUse struct {
	apiURL string
	creds  ghclient.Credentials
}

// redeliveryLog remembers, per integration, the redeliveries and pings
// requested less than an interval ago: GitHub performs a redelivery after
// answering, so the log may not show it yet on the next pass. Entries older
// than the interval are pruned on every pass, so memory stays bounded.
type redeliveryLog struct {
	mu      sync.Mutex
	entries map[types.NamespacedName]map[redeliveryKey]time.Time
}

type redeliveryKey struct {
	hookID int64
	// guid is empty for a ping.
	guid string
}
