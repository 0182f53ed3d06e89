// Package v1alpha1 contains the hookwarden API: GitHubIntegration, which
// declares GitHub webhooks and the receiver that validates their deliveries,
// and GitHubIssue, which declares an issue kept on GitHub.
//
// +kubebuilder:object:generate=true
// +groupName=integrations.hookwarden.io
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of the hookwarden API.
	GroupVersion = schema.GroupVersion{Group: "integrations.hookwarden.io", Version: "v1alpha1"}

	// SchemeBuilder registers the hookwarden types with a runtime.Scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the hookwarden types to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
