package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"net/url"
	"strings"
	"time"
)

const (
	receiverPathPrefix = "/api/v1/integrations/"
	receiverPathSuffix = "/webhook/github"
)

// ReceiverPath is the path under which the receiver accepts deliveries for
// the GitHubIntegration namespace/name. It depends only on the object's
// identity, so it never changes when a secret rotates.
func ReceiverPath(namespace, name string) string {
	return receiverPathPrefix + url.PathEscape(namespace) + "/" + url.PathEscape(name) + receiverPathSuffix
}

// ParseReceiverPath returns the namespace and name of a decoded receiver
// path, the inverse of ReceiverPath; ok is false for any other path.
func ParseReceiverPath(path string) (namespace, name string, ok bool) {
	rest, ok := strings.CutPrefix(path, receiverPathPrefix)
	if !ok {
		return "", "", false
	}
	if rest, ok = strings.CutSuffix(rest, receiverPathSuffix); !ok {
		return "", "", false
	}
	namespace, name, ok = strings.Cut(rest, "/")
	if !ok || namespace == "" || name == "" || strings.Contains(name, "/") {
		return "", "", false
	}
	return namespace, name, true
}

// ReceiverPath is the path under which the receiver accepts this
// integration's deliveries.
func (in *GitHubIntegration) ReceiverPath() string {
	return ReceiverPath(in.Namespace, in.Name)
}

// PayloadURL is where the hooks deliver: spec.payloadURL when set, otherwise
// publicURL followed by the receiver path.
func (in *GitHubIntegration) PayloadURL(publicURL string) string {
	if in.Spec.PayloadURL != "" {
		return in.Spec.PayloadURL
	}
	if publicURL == "" {
		return ""
	}
	return strings.TrimRight(publicURL, "/") + in.ReceiverPath()
}

// Targets lists the hook targets: repositories, the organization, or "app".
func (in *GitHubIntegration) Targets() []string {
	switch {
	case len(in.Spec.Repositories) > 0:
		return append([]string(nil), in.Spec.Repositories...)
	case in.Spec.Organization != "":
		return []string{in.Spec.Organization}
	case in.Spec.App != nil:
		return []string{"app"}
	}
	return nil
}

// IsActive reports whether the hooks should deliver (spec.active, default true).
func (in *GitHubIntegration) IsActive() bool {
	return in.Spec.Active == nil || *in.Spec.Active
}

// GetInterval is the drift check period, spec.interval or its default.
func (in *GitHubIntegration) GetInterval() time.Duration {
	if in.Spec.Interval.Duration <= 0 {
		return DefaultInterval
	}
	return in.Spec.Interval.Duration
}

// GetConditions returns the status conditions.
func (in *GitHubIntegration) GetConditions() []metav1.Condition { return in.Status.Conditions }

// SetConditions replaces the status conditions.
func (in *GitHubIntegration) SetConditions(c []metav1.Condition) { in.Status.Conditions = c }
