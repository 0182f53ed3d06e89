// Package v1alpha1 contains the hookwarden API: GitHubIntegration, which
// declares GitHub webhooks and the receiver that validates their deliveries,
// and GitHubIssue, which declares an issue kept on GitHub.
//
// +kubebuilder:object:generate=true
// +groupName=integrations.hookwarden.io
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version of the hookwarden API.
	GroupVersion = schema.GroupVersion{Group: "integrations.hookwarden.io", Version: "v1alpha1"}

	// SchemeBuilder registers the hookwarden types with a runtime.Scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds the hookwarden types to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion,
		&GitHubIntegration{}, &GitHubIntegrationList{},
		&GitHubIssue{}, &GitHubIssueList{},
	)
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
