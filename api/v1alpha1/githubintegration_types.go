package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Finalizer is set on every GitHubIntegration before its first GitHub call, so
// that its hooks are removed (or deliberately orphaned) before it goes away.
const Finalizer = "integrations.hookwarden.io/finalizer"

// SecretProtectionFinalizer is set on a Secret named by spec.secretRef while
// a GitHubIntegration with deletionPolicy Delete references it, as
// Kubernetes protects a PersistentVolumeClaim in use: the token it holds is
// needed to remove the hooks, so a Secret deleted together with its
// integration (kubectl delete -f, Argo CD pruning) stays until the hooks are
// gone. It is removed once no integration needs the Secret any more.
const SecretProtectionFinalizer = "integrations.hookwarden.io/secret-protection"

// ReconcileRequestAnnotation asks for a reconcile now, as Flux's
// reconcile.fluxcd.io/requestedAt does: any new value (by convention the
// current time) starts one at once, and the reconciler echoes the value it
// handled in status.lastHandledReconcileAt.
const ReconcileRequestAnnotation = "reconcile.hookwarden.io/requestedAt"

// ContentType is the encoding GitHub uses for deliveries.
// +kubebuilder:validation:Enum=json;form
type ContentType string

const (
	// ContentTypeJSON delivers the payload as the request body (application/json).
	ContentTypeJSON ContentType = "json"
	// ContentTypeForm delivers the payload in the "payload" field of an
	// application/x-www-form-urlencoded body.
	ContentTypeForm ContentType = "form"
)

// DeletionPolicy says what happens to the hooks on GitHub when the
// GitHubIntegration is deleted.
// +kubebuilder:validation:Enum=Delete;Orphan
type DeletionPolicy string

const (
	// DeletionPolicyDelete removes every hook from GitHub before the object goes.
	DeletionPolicyDelete DeletionPolicy = "Delete"
	// DeletionPolicyOrphan leaves the hooks on GitHub.
	DeletionPolicyOrphan DeletionPolicy = "Orphan"
)

// GitHubIntegrationSpec declares the webhooks hookwarden keeps on GitHub and
// how their deliveries are received.
// +kubebuilder:validation:XValidation:rule="[has(self.repositories), has(self.organization), has(self.app)].filter(x, x).size() == 1",message="set exactly one of spec.repositories, spec.organization or spec.app"
type GitHubIntegrationSpec struct {
	// Repositories, as "owner/name", each of which gets one repository hook.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=100
	// +kubebuilder:validation:items:Pattern=`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,37}[A-Za-z0-9])?/[A-Za-z0-9._-]{1,100}$`
	// +kubebuilder:validation:items:MaxLength=140
	Repositories []string `json:"repositories,omitempty"`

	// Organization gets one organization hook that receives the events of
	// all its repositories: one hook instead of one per repository, well
	// under GitHub's limit of 20 hooks per event. Needs a classic token with
	// admin:org_hook, or a fine-grained token or GitHub App installation
	// with the "Organization hooks: write" permission. Its deliveries are
	// recorded with the repository they come from. The name "app" is
	// refused: status.hooks[].target calls the App's webhook so.
	// +optional
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,37}[A-Za-z0-9])?$`
	// +kubebuilder:validation:MaxLength=39
	// +kubebuilder:validation:XValidation:rule="self.lowerAscii() != 'app'",message="spec.organization cannot be \"app\": status names the GitHub App's webhook so"
	Organization string `json:"organization,omitempty"`

	// App manages the webhook configuration of the GitHub App whose
	// credentials (app_id, installation_id, private_key) are in the Secret:
	// its url, content_type, secret and insecure_ssl, with drift correction,
	// rotation and the redelivery of failed deliveries. Its events and
	// active flag are set in the App's settings. GitHub's API cannot delete
	// an App's webhook: when the integration goes, the webhook is left as it
	// is, and an Event (HookLeft) says so.
	// +optional
	App *GitHubAppTarget `json:"app,omitempty"`

	// Events the hooks subscribe to; "*" subscribes to every event.
	// +optional
	// +listType=set
	// +kubebuilder:default={push,pull_request,issues}
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=100
	// +kubebuilder:validation:items:Pattern=`^(\*|[a-z_]+)$`
	// +kubebuilder:validation:items:MaxLength=64
	Events []string `json:"events,omitempty"`

	// SecretRef names the Secret, in the same namespace, that holds the
	// GitHub credentials and the webhook secret.
	// +required
	SecretRef SecretReference `json:"secretRef"`

	// GitHub selects the GitHub API server. Defaults to the operator's
	// --github-url (https://api.github.com/).
	// +optional
	GitHub *GitHubServer `json:"github,omitempty"`

	// PayloadURL is where GitHub sends deliveries. Defaults to the operator's
	// --public-url followed by the receiver path
	// /api/v1/integrations/{namespace}/{name}/webhook/github.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && (self.startsWith('https://') || self.startsWith('http://'))",message="payloadURL must be an absolute http(s) URL"
	PayloadURL string `json:"payloadURL,omitempty"`

	// ContentType of deliveries: json (application/json) or form
	// (application/x-www-form-urlencoded).
	// +optional
	// +kubebuilder:default=json
	ContentType ContentType `json:"contentType,omitempty"`

	// InsecureSSL disables GitHub's certificate verification when delivering.
	// Ready then carries the reason InsecureSSL as a warning.
	// +optional
	// +kubebuilder:default=false
	InsecureSSL bool `json:"insecureSSL,omitempty"`

	// Active hooks deliver events; inactive hooks are kept but silent.
	// +optional
	// +kubebuilder:default=true
	Active *bool `json:"active,omitempty"`

	// Interval between drift checks of the hooks on GitHub (jittered). A check
	// of an unchanged hook costs no rate limit.
	// +optional
	// +kubebuilder:default="10m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	Interval metav1.Duration `json:"interval,omitempty"`

	// Suspend stops every GitHub call for this integration; the receiver
	// keeps receiving.
	// +optional
	// +kubebuilder:default=false
	Suspend bool `json:"suspend,omitempty"`

	// DeletionPolicy: Delete removes the hooks from GitHub when this object is
	// deleted; Orphan leaves them. Switching a terminating object to Orphan
	// releases it at once.
	// +optional
	// +kubebuilder:default=Delete
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`

	// SecretRotation controls how webhook secrets are rotated.
	// +optional
	// +kubebuilder:default={}
	SecretRotation SecretRotation `json:"secretRotation,omitempty"`

	// Links controls which pull requests and issues are tracked in status.
	// +optional
	// +kubebuilder:default={}
	Links Links `json:"links,omitempty"`
}

// GitHubAppTarget selects the GitHub App's own webhook. It has no fields: the
// App is the one whose credentials are in the Secret.
type GitHubAppTarget struct{}

// SecretReference names a Secret in the integration's namespace and its keys.
type SecretReference struct {
	// Name of the Secret, in the same namespace as the GitHubIntegration.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Name string `json:"name"`

	// TokenKey is the key holding a GitHub token (a personal access token or
	// an installation token). Not needed when the Secret holds app_id,
	// installation_id and private_key for GitHub App authentication.
	// +optional
	// +kubebuilder:default=token
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	TokenKey string `json:"tokenKey,omitempty"`

	// WebhookSecretKey is the key holding the webhook secret: at least 16
	// characters, no leading or trailing whitespace.
	// +optional
	// +kubebuilder:default=webhook_secret
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	WebhookSecretKey string `json:"webhookSecretKey,omitempty"`
}

// GitHubServer selects the GitHub API server.
type GitHubServer struct {
	// URL of the GitHub REST API: https://api.github.com/ or, for GitHub
	// Enterprise Server, https://HOST/api/v3 (with or without the trailing
	// slash). A server behind a private CA is trusted through the Secret key
	// ca.crt (the CA's PEM certificate), in addition to the system roots.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && (self.startsWith('https://') || self.startsWith('http://'))",message="github.url must be an absolute http(s) URL"
	URL string `json:"url,omitempty"`
}

// SecretRotation controls webhook secret rotation.
type SecretRotation struct {
	// GracePeriod during which the previous webhook secret is still accepted
	// after a rotation.
	// +optional
	// +kubebuilder:default="1h"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	GracePeriod metav1.Duration `json:"gracePeriod,omitempty"`

	// Interval at which hookwarden generates a new webhook secret itself and
	// writes it to the referenced Secret. 0s (the default) leaves the secret
	// to the user.
	// +optional
	// +kubebuilder:default="0s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	Interval metav1.Duration `json:"interval,omitempty"`
}

// Links controls which pull requests and issues are tracked in status.
type Links struct {
	// PullRequestKey is the key of the line "<key>: <value>" in a pull
	// request's body that links the pull request (case-insensitive key).
	// +optional
	// +kubebuilder:default=experiment_key
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9_.-]+$`
	PullRequestKey string `json:"pullRequestKey,omitempty"`

	// IssueLabel: issues carrying this label are tracked in status.issues.
	// Empty tracks no issue.
	// +optional
	// +kubebuilder:validation:MaxLength=50
	IssueLabel string `json:"issueLabel,omitempty"`
}

// DeliveryResult is what the receiver did with a delivery.
// +kubebuilder:validation:Enum=processed;ignored;rejected
type DeliveryResult string

const (
	// DeliveryProcessed: a valid delivery of a subscribed, handled event.
	DeliveryProcessed DeliveryResult = "processed"
	// DeliveryIgnored: a valid delivery of an event not subscribed or not handled.
	DeliveryIgnored DeliveryResult = "ignored"
	// DeliveryRejected: the delivery failed validation (signature, headers, body).
	DeliveryRejected DeliveryResult = "rejected"
)

// GitHubIntegrationStatus is what hookwarden observed and did. It never holds
// a token or a secret value. Each field has one writer: the reconciler
// writes what it saw and did on GitHub (ReconcilerPart), the receiver
// what deliveries it answered (ReceiverPart), each with server-side apply
// under its own field manager (status_writers.go).
type GitHubIntegrationStatus struct {
	ReconcileStatus `json:",inline"`

	// Written by the reconciler. LastHandledReconcileAt is the value of the annotation
	// reconcile.hookwarden.io/requestedAt that the last reconcile handled: once it equals the
	// annotation, the reconcile asked for has run and the conditions show its outcome.
	// +optional
	LastHandledReconcileAt string `json:"lastHandledReconcileAt,omitempty"`

	// Written by the reconciler. Target summarises the targets for display: one repository, the first
	// with a count of the others, the organization, or "app".
	// +optional
	Target string `json:"target,omitempty"`

	// Written by the reconciler. HookCount is the number of hooks registered on GitHub.
	// +optional
	HookCount int32 `json:"hookCount,omitempty"`

	// Written by the reconciler. PayloadURL is the URL the hooks deliver to.
	// +optional
	PayloadURL string `json:"payloadURL,omitempty"`

	// Written by the reconciler. Hooks holds one entry per target.
	// +optional
	// +listType=map
	// +listMapKey=target
	Hooks []HookStatus `json:"hooks,omitempty"`

	// Written by the reconciler. WebhookSecret identifies the webhook secret in use without revealing it.
	// +optional
	WebhookSecret *WebhookSecretStatus `json:"webhookSecret,omitempty"`

	// Written by the receiver. LastDelivery is the newest delivery the receiver answered.
	// +optional
	LastDelivery *DeliveryStatus `json:"lastDelivery,omitempty"`

	// Written by the receiver. Deliveries counts what the receiver did.
	// +optional
	Deliveries DeliveryCounters `json:"deliveries,omitempty"`

	// Written by the receiver. EventCounts counts processed and ignored deliveries per event, for
	// the events GitHub publishes that spec.events subscribes to, and ping.
	// Deliveries of other event names are counted in deliveries only.
	// +optional
	// +listType=map
	// +listMapKey=event
	// +kubebuilder:validation:MaxItems=100
	EventCounts []EventCount `json:"eventCounts,omitempty"`

	// Written by the receiver. LastRejection is the newest delivery the receiver rejected.
	// +optional
	LastRejection *Rejection `json:"lastRejection,omitempty"`

	// Written by the receiver. PullRequests seen in deliveries, newest first, at most 50.
	// +optional
	// +kubebuilder:validation:MaxItems=50
	PullRequests []PullRequestStatus `json:"pullRequests,omitempty"`

	// Written by the receiver. Issues carrying spec.links.issueLabel seen in deliveries, newest first,
	// at most 50.
	// +optional
	// +kubebuilder:validation:MaxItems=50
	Issues []IssueStatus `json:"issues,omitempty"`

	// Written by the receiver, in the split layout only (--components=receiver). Receivers lists the
	// receiver replicas that loaded the webhook secret being rotated to: the reconciler sends it to
	// GitHub once every ready replica of the receiver Service is listed with its fingerprint. A
	// replica writes its entry only while a rotation is in progress, and drops the entries of
	// earlier rotations.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=100
	Receivers []ReceiverStatus `json:"receivers,omitempty"`
}

// ReceiverStatus is what one receiver replica loaded.
type ReceiverStatus struct {
	// Name of the replica: its Pod's name.
	Name string `json:"name"`
	// SecretFingerprint identifies the webhook secret the replica accepts as the integration's
	// current one (the fingerprint of status.webhookSecret).
	SecretFingerprint string `json:"secretFingerprint"`
	// LoadedTime is when the replica loaded it.
	// +optional
	LoadedTime *metav1.Time `json:"loadedTime,omitempty"`
}

// HookStatus is the hook of one target.
type HookStatus struct {
	// Target is the repository ("owner/name"), the organization, or "app".
	Target string `json:"target"`
	// ID of the hook on GitHub; 0 until it is created.
	// +optional
	ID int64 `json:"id,omitempty"`
	// Active as last seen on GitHub.
	// +optional
	Active bool `json:"active,omitempty"`
	// Events as last seen on GitHub, sorted.
	// +optional
	Events []string `json:"events,omitempty"`
	// LastSyncTime is when the hook was last seen matching the spec.
	// +optional
	LastSyncTime *metav1.Time `json:"lastSyncTime,omitempty"`
	// LastError is GitHub's message when this target last failed; empty when
	// the last attempt succeeded.
	// +optional
	LastError string `json:"lastError,omitempty"`
	// SecretFingerprint identifies the webhook secret last sent to this hook.
	// +optional
	SecretFingerprint string `json:"secretFingerprint,omitempty"`
	// DeliveriesCheckedTime is the checkpoint of the recovery of failed
	// deliveries: every delivery GitHub attempted before it has succeeded,
	// was redelivered until it did, or left GitHub's redelivery window. The
	// next check reads the hook's delivery log back to this time only.
	// +optional
	DeliveriesCheckedTime *metav1.Time `json:"deliveriesCheckedTime,omitempty"`
}

// WebhookSecretStatus identifies the webhook secret in use.
type WebhookSecretStatus struct {
	// Fingerprint is "hmac-sha256:" and the first 8 hex digits of an
	// HMAC-SHA256 of the secret keyed by the object's UID: it changes when the
	// secret changes and reveals nothing of it.
	// +optional
	Fingerprint string `json:"fingerprint,omitempty"`
	// RotatedTime is when the current secret was first pushed to the hooks.
	// +optional
	RotatedTime *metav1.Time `json:"rotatedTime,omitempty"`
	// PreviousExpiresTime is when the previous secret stops being accepted.
	// +optional
	PreviousExpiresTime *metav1.Time `json:"previousExpiresTime,omitempty"`
}

// DeliveryStatus describes one delivery.
type DeliveryStatus struct {
	// ID is the X-GitHub-Delivery GUID.
	ID string `json:"id"`
	// Event is the X-GitHub-Event name.
	Event string `json:"event"`
	// Action of the payload, when it has one.
	// +optional
	Action string `json:"action,omitempty"`
	// Target the delivery came from: the repository, organization or "app".
	// +optional
	Target string `json:"target,omitempty"`
	// Ref of a push.
	// +optional
	Ref string `json:"ref,omitempty"`
	// After is the head commit SHA of a push.
	// +optional
	After string `json:"after,omitempty"`
	// ReceivedTime is when the receiver answered.
	ReceivedTime metav1.Time `json:"receivedTime"`
	// Result of the delivery.
	Result DeliveryResult `json:"result"`
}

// DeliveryCounters count deliveries since the object was created.
type DeliveryCounters struct {
	// Received counts every delivery answered, duplicates included.
	// +optional
	Received int64 `json:"received,omitempty"`
	// Processed counts valid deliveries of subscribed, handled events.
	// +optional
	Processed int64 `json:"processed,omitempty"`
	// Ignored counts valid deliveries of events not subscribed or not handled.
	// +optional
	Ignored int64 `json:"ignored,omitempty"`
	// Rejected counts deliveries that failed validation.
	// +optional
	Rejected int64 `json:"rejected,omitempty"`
	// Duplicates counts deliveries already processed before (same hook and
	// delivery GUID).
	// +optional
	Duplicates int64 `json:"duplicates,omitempty"`
	// Redelivered counts redeliveries hookwarden requested for deliveries
	// that had failed. Written by the reconciler; the other counters by the
	// receiver.
	// +optional
	Redelivered int64 `json:"redelivered,omitempty"`
}

// EventCount counts the deliveries of one event.
type EventCount struct {
	// Event name.
	Event string `json:"event"`
	// Count of valid deliveries of this event.
	Count int64 `json:"count"`
	// LastTime one was received.
	// +optional
	LastTime *metav1.Time `json:"lastTime,omitempty"`
}

// Rejection describes a rejected delivery.
type Rejection struct {
	// Time it was rejected.
	Time metav1.Time `json:"time"`
	// Reason given to the sender, e.g. "invalid signature".
	Reason string `json:"reason"`
}

// PullRequestStatus is a pull request seen in a delivery.
type PullRequestStatus struct {
	// Repository "owner/name".
	Repository string `json:"repository"`
	// Number of the pull request.
	Number int64 `json:"number"`
	// Title of the pull request.
	// +optional
	Title string `json:"title,omitempty"`
	// URL of the pull request on GitHub.
	// +optional
	URL string `json:"url,omitempty"`
	// State: open, closed or merged.
	// +kubebuilder:validation:Enum=open;closed;merged
	State string `json:"state"`
	// LinkKey is the value of the spec.links.pullRequestKey line in the body.
	// +optional
	LinkKey string `json:"linkKey,omitempty"`
	// UpdatedTime is when hookwarden last recorded the pull request.
	UpdatedTime metav1.Time `json:"updatedTime"`
}

// IssueStatus is an issue seen in a delivery.
type IssueStatus struct {
	// Repository "owner/name".
	Repository string `json:"repository"`
	// Number of the issue.
	Number int64 `json:"number"`
	// Title of the issue.
	// +optional
	Title string `json:"title,omitempty"`
	// URL of the issue on GitHub.
	// +optional
	URL string `json:"url,omitempty"`
	// State: open or closed.
	// +kubebuilder:validation:Enum=open;closed
	State string `json:"state"`
	// UpdatedTime is when hookwarden last recorded the issue.
	UpdatedTime metav1.Time `json:"updatedTime"`
}

// GitHubIntegration declares GitHub webhooks: hookwarden registers one hook
// per target, keeps it as declared, rotates its secret, removes it when this
// object goes, and validates and records every delivery.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=ghi,categories=hookwarden
// +kubebuilder:printcolumn:name="Target",type=string,JSONPath=`.status.target`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Hooks",type=integer,JSONPath=`.status.hookCount`
// +kubebuilder:printcolumn:name="Last Delivery",type=date,JSONPath=`.status.lastDelivery.receivedTime`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`,priority=1
type GitHubIntegration struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec declares the hooks.
	// +required
	Spec GitHubIntegrationSpec `json:"spec"`

	// Status is what hookwarden observed.
	// +optional
	Status GitHubIntegrationStatus `json:"status,omitempty"`
}

// GitHubIntegrationList is a list of GitHubIntegrations.
//
// +kubebuilder:object:root=true
type GitHubIntegrationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []GitHubIntegration `json:"items"`
}
