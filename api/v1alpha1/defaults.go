package v1alpha1

import (
	"slices"
	"time"
)

// Defaults of the GitHubIntegration spec. The CRD applies them on admission
// (the +kubebuilder:default markers, which a test holds to these values);
// the getters below apply them too, for objects that reached the cache
// without them, so no other package keeps a default of its own.
const (
	// DefaultTokenKey is spec.secretRef.tokenKey's default.
	DefaultTokenKey = "token"
	// DefaultWebhookSecretKey is spec.secretRef.webhookSecretKey's default.
	DefaultWebhookSecretKey = "webhook_secret"
	// DefaultPullRequestKey is spec.links.pullRequestKey's default.
	DefaultPullRequestKey = "experiment_key"
	// DefaultInterval is spec.interval's default.
	DefaultInterval = 10 * time.Minute
	// DefaultGracePeriod is spec.secretRotation.gracePeriod's default.
	DefaultGracePeriod = time.Hour
)

// DefaultEvents is spec.events' default, sorted.
func DefaultEvents() []string { return []string{"issues", "pull_request", "push"} }

// GetEvents is spec.events, sorted and without repeats; the defaults when
// it is empty.
func (in *GitHubIntegration) GetEvents() []string {
	if len(in.Spec.Events) == 0 {
		return DefaultEvents()
	}
	events := slices.Clone(in.Spec.Events)
	slices.Sort(events)
	return slices.Compact(events)
}

// GetContentType is spec.contentType, or its default (json).
func (in *GitHubIntegration) GetContentType() ContentType {
	if in.Spec.ContentType == "" {
		return ContentTypeJSON
	}
	return in.Spec.ContentType
}

// GetTokenKey is spec.secretRef.tokenKey, or its default.
func (in *GitHubIntegration) GetTokenKey() string {
	return orDefault(in.Spec.SecretRef.TokenKey, DefaultTokenKey)
}

// GetWebhookSecretKey is spec.secretRef.webhookSecretKey, or its default.
func (in *GitHubIntegration) GetWebhookSecretKey() string {
	return orDefault(in.Spec.SecretRef.WebhookSecretKey, DefaultWebhookSecretKey)
}

// GetPullRequestKey is spec.links.pullRequestKey, or its default.
func (in *GitHubIntegration) GetPullRequestKey() string {
	return orDefault(in.Spec.Links.PullRequestKey, DefaultPullRequestKey)
}

// GetGracePeriod is spec.secretRotation.gracePeriod, or its default.
func (in *GitHubIntegration) GetGracePeriod() time.Duration {
	if d := in.Spec.SecretRotation.GracePeriod.Duration; d > 0 {
		return d
	}
	return DefaultGracePeriod
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// Defaults of the GitHubIssue spec, as the CRD's markers set them.
const (
	// DefaultIssueState is spec.state's default.
	DefaultIssueState = "open"
	// DefaultIssueDeletionPolicy is spec.deletionPolicy's default.
	DefaultIssueDeletionPolicy = IssueDeletionPolicyClose
)

// GetState is spec.state, or its default (open).
func (in *GitHubIssue) GetState() string {
	return orDefault(in.Spec.State, DefaultIssueState)
}

// GetDeletionPolicy is spec.deletionPolicy, or its default (Close).
func (in *GitHubIssue) GetDeletionPolicy() IssueDeletionPolicy {
	if in.Spec.DeletionPolicy == "" {
		return DefaultIssueDeletionPolicy
	}
	return in.Spec.DeletionPolicy
}
