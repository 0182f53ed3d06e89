package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// IssueDeletionPolicy says what happens to the issue on GitHub when the
// GitHubIssue is deleted.
// +kubebuilder:validation:Enum=Close;Orphan
type IssueDeletionPolicy string

const (
	// IssueDeletionPolicyClose closes the issue on GitHub.
	IssueDeletionPolicyClose IssueDeletionPolicy = "Close"
	// IssueDeletionPolicyOrphan leaves the issue as it is.
	IssueDeletionPolicyOrphan IssueDeletionPolicy = "Orphan"
)

// IntegrationReference names a GitHubIntegration in the same namespace.
type IntegrationReference struct {
	// Name of the GitHubIntegration whose credentials are used.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// GitHubIssueSpec declares an issue kept on GitHub.
// +kubebuilder:validation:XValidation:rule="!has(self.listLinkedPullRequests) || !self.listLinkedPullRequests || (has(self.experimentKey) && size(self.experimentKey) > 0)",message="spec.listLinkedPullRequests needs spec.experimentKey"
type GitHubIssueSpec struct {
	// IntegrationRef names the GitHubIntegration, in the same namespace,
	// whose token is used.
	// +required
	IntegrationRef IntegrationReference `json:"integrationRef"`

	// Repository "owner/name"; must be one of the integration's repositories.
	// +required
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,37}[A-Za-z0-9])?/[A-Za-z0-9._-]{1,100}$`
	// +kubebuilder:validation:MaxLength=140
	Repository string `json:"repository"`

	// Title of the issue.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	Title string `json:"title"`

	// Body of the issue, in Markdown.
	// +optional
	// +kubebuilder:validation:MaxLength=65536
	Body string `json:"body,omitempty"`

	// Labels on the issue.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=100
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=50
	Labels []string `json:"labels,omitempty"`

	// State of the issue: open or closed.
	// +optional
	// +kubebuilder:default=open
	// +kubebuilder:validation:Enum=open;closed
	State string `json:"state,omitempty"`

	// DeletionPolicy: Close closes the issue when this object is deleted;
	// Orphan leaves it.
	// +optional
	// +kubebuilder:default=Close
	DeletionPolicy IssueDeletionPolicy `json:"deletionPolicy,omitempty"`

	// ExperimentKey links pull requests to this issue: those whose body
	// carries the integration's spec.links.pullRequestKey line with this
	// value, as the receiver recorded them, are listed in
	// status.pullRequests.
	// +optional
	// +kubebuilder:validation:MaxLength=200
	ExperimentKey string `json:"experimentKey,omitempty"`

	// ListLinkedPullRequests: when true, a section of the issue body between
	// two hidden markers lists the linked pull requests on GitHub, updated
	// at most once a minute. Needs experimentKey.
	// +optional
	ListLinkedPullRequests bool `json:"listLinkedPullRequests,omitempty"`
}

// LinkedPullRequest is a pull request linked to a GitHubIssue by its
// experiment key.
type LinkedPullRequest struct {
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
	// +optional
	State string `json:"state,omitempty"`
}

// GitHubIssueStatus is what hookwarden observed of the issue.
type GitHubIssueStatus struct {
	ReconcileStatus `json:",inline"`
	// Number of the issue on GitHub.
	// +optional
	Number int64 `json:"number,omitempty"`
	// URL of the issue on GitHub.
	// +optional
	URL string `json:"url,omitempty"`
	// State of the issue as last seen on GitHub (or in the newest issues
	// delivery the receiver recorded for it).
	// +optional
	State string `json:"state,omitempty"`
	// Title of the issue as last seen on GitHub (or in the newest issues
	// delivery).
	// +optional
	Title string `json:"title,omitempty"`
	// PullRequests linked by spec.experimentKey, as the receiver recorded
	// them in the integration's status.pullRequests; at most 50.
	// +optional
	// +kubebuilder:validation:MaxItems=50
	PullRequests []LinkedPullRequest `json:"pullRequests,omitempty"`
	// LinkedPullRequestsTime is when the section of the issue body listing
	// the linked pull requests was last written to GitHub.
	// +optional
	LinkedPullRequestsTime *metav1.Time `json:"linkedPullRequestsTime,omitempty"`
}

// GitHubIssue declares an issue on GitHub: created once, kept as declared,
// closed when this object is deleted.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=ghissue,categories=hookwarden
// +kubebuilder:printcolumn:name="Repository",type=string,JSONPath=`.spec.repository`
// +kubebuilder:printcolumn:name="Number",type=integer,JSONPath=`.status.number`
// +kubebuilder:printcolumn:name="State",type=string,JSONPath=`.status.state`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type GitHubIssue struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec declares the issue.
	// +required
	Spec GitHubIssueSpec `json:"spec"`

	// Status is what hookwarden observed.
	// +optional
	Status GitHubIssueStatus `json:"status,omitempty"`
}

// GitHubIssueList is a list of GitHubIssues.
//
// +kubebuilder:object:root=true
type GitHubIssueList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []GitHubIssue `json:"items"`
}
