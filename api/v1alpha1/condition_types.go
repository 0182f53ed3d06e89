package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// ReconcileStatus is the part of a status that kstatus reads (Argo CD, Flux,
// kpt): how far the object's reconciler got. GitHubIntegrationStatus and
// GitHubIssueStatus embed it, and each kind's reconciler writes it.
type ReconcileStatus struct {
	// Written by the reconciler. ObservedGeneration is the generation last fully handled.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Written by the reconciler. Conditions: Ready, Reconciling and Stalled.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// Condition types. Ready summarises the object; Reconciling and Stalled make
// it kstatus-compatible, so Argo CD, Flux and kpt read its health without
// custom code.
const (
	// ConditionReady is True when every target's hook is registered and kept
	// as declared.
	ConditionReady = "Ready"
	// ConditionReconciling is True while hookwarden is working towards the
	// declared state.
	ConditionReconciling = "Reconciling"
	// ConditionStalled is True when the spec, the Secret or GitHub's answer
	// needs a change by the user: retrying alone cannot succeed.
	ConditionStalled = "Stalled"
)

// Condition reasons.
const (
	// ReasonSucceeded: every hook is registered and matches the spec.
	ReasonSucceeded = "Succeeded"
	// ReasonProgressing: hooks are being created or corrected.
	ReasonProgressing = "Progressing"
	// ReasonSuspended: spec.suspend is true; no GitHub call is made.
	ReasonSuspended = "Suspended"
	// ReasonInsecureSSL: hooks are registered, but with certificate
	// verification disabled (spec.insecureSSL).
	ReasonInsecureSSL = "InsecureSSL"
	// ReasonSecretNotFound: the Secret named by spec.secretRef does not exist.
	ReasonSecretNotFound = "SecretNotFound"
	// ReasonInvalidSecret: a key of the Secret is missing or its value is
	// unusable (the message names the key and the rule, never the value).
	ReasonInvalidSecret = "InvalidSecret"
	// ReasonUnauthorized: GitHub refused the token (401) or its scopes (403).
	ReasonUnauthorized = "Unauthorized"
	// ReasonTargetNotFound: GitHub answered 404 for a target: it does not
	// exist or the token cannot see it.
	ReasonTargetNotFound = "TargetNotFound"
	// ReasonInvalid: GitHub rejected the hook (422) with the quoted message.
	ReasonInvalid = "Invalid"
	// ReasonRateLimited: GitHub's rate limit is spent; the message gives the
	// time it resets.
	ReasonRateLimited = "RateLimited"
	// ReasonGitHubUnavailable: GitHub could not be reached or answered 5xx;
	// hookwarden retries with backoff.
	ReasonGitHubUnavailable = "GitHubUnavailable"
	// ReasonDeleting: the object is being deleted and its hooks removed.
	ReasonDeleting = "Deleting"
	// ReasonPayloadURLUnset: spec.payloadURL is empty and the operator runs
	// without --public-url, so there is no URL to register.
	ReasonPayloadURLUnset = "PayloadURLUnset"
	// ReasonHookLimitReached: GitHub refused the hook because the target
	// already has 20 hooks for one of its events; an organization or App
	// target covers many repositories with one hook.
	ReasonHookLimitReached = "HookLimitReached"
	// ReasonUntrustedCertificate: the GitHub server's TLS certificate could
	// not be verified (GitHub Enterprise Server behind a private CA: put the
	// CA's certificate under the Secret key ca.crt).
	ReasonUntrustedCertificate = "UntrustedCertificate"
)

// Event reasons of the GitHubIntegration reconciler (Normal events; warnings
// use the condition reasons above).
const (
	// EventHookCreated: a hook was registered on GitHub.
	EventHookCreated = "HookCreated"
	// EventHookAdopted: an existing hook with the payload URL was taken over
	// instead of creating a second one.
	EventHookAdopted = "HookAdopted"
	// EventHookUpdated: a hook was corrected to match the spec.
	EventHookUpdated = "HookUpdated"
	// EventHookRecreated: a hook deleted on GitHub was registered again.
	EventHookRecreated = "HookRecreated"
	// EventHookDeleted: a hook was removed from GitHub.
	EventHookDeleted = "HookDeleted"
	// EventHookLeft: the object went and its GitHub App's webhook was
	// left as it is: GitHub's API cannot delete an App's webhook.
	EventHookLeft = "HookLeft"
	// EventHooksOrphaned: the object went with deletionPolicy Orphan and its
	// hooks were left on GitHub.
	EventHooksOrphaned = "HooksOrphaned"
	// EventSecretRotated: every hook carries the new webhook secret; the
	// previous one is accepted until the grace period ends.
	EventSecretRotated = "SecretRotated"
	// EventSecretGenerated: hookwarden wrote a new webhook secret into the
	// referenced Secret (secretRotation.interval > 0).
	EventSecretGenerated = "SecretGenerated"
	// EventSecretAdopted: an operator-owned Secret left by an earlier
	// GitHubIntegration of the same name was taken over.
	EventSecretAdopted = "SecretAdopted"
	// EventRedeliveryRequested: failed deliveries were redelivered.
	EventRedeliveryRequested = "RedeliveryRequested"
)

// GitHubIssue conditions and reasons. Ready, Reconciling and Stalled mean
// what they mean for integrations; RateLimited is True while GitHub's rate
// limit for the token holds the issue back, and its message gives the reset.
const (
	// ConditionRateLimited is True while the token's rate limit is spent.
	ConditionRateLimited = "RateLimited"
	// ReasonIntegrationNotFound: the GitHubIntegration named by
	// spec.integrationRef does not exist.
	ReasonIntegrationNotFound = "IntegrationNotFound"
	// ReasonRepositoryNotInIntegration: spec.repository is not one of the
	// integration's repositories.
	ReasonRepositoryNotInIntegration = "RepositoryNotInIntegration"
	// ReasonIssueNotFound: GitHub answered 404 for the repository or the
	// issue: it does not exist or the token cannot see it.
	ReasonIssueNotFound = "IssueNotFound"
)

// Event reasons of the GitHubIssue controller (Normal events; warnings use
// the condition reasons).
const (
	// EventIssueCreated: the issue was created on GitHub.
	EventIssueCreated = "IssueCreated"
	// EventIssueAdopted: an issue carrying this object's marker was found
	// on GitHub and taken over instead of creating a second one.
	EventIssueAdopted = "IssueAdopted"
	// EventIssueUpdated: the issue was corrected to match the spec.
	EventIssueUpdated = "IssueUpdated"
	// EventIssueClosed: the issue was closed because this object was
	// deleted (deletionPolicy Close).
	EventIssueClosed = "IssueClosed"
	// EventIssueOrphaned: the object went with deletionPolicy Orphan and
	// its issue was left on GitHub as it was.
	EventIssueOrphaned = "IssueOrphaned"
)
