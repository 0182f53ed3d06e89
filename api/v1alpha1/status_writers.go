package v1alpha1

import (
	"encoding/json"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Each field of GitHubIntegrationStatus has one writer, the reconciler or
// the receiver. Each writer writes with server-side apply, under its own
// field manager, the part of the status below that is its own and nothing
// else: the API server records which writer owns which field
// (metadata.managedFields), and neither writer's apply can remove or
// overwrite the other's fields.
const (
	// ReconcilerFieldManager is the field manager of the reconciler's
	// status writes.
	ReconcilerFieldManager = "hookwarden-reconciler"
	// ReceiverFieldManager is the field manager of the receiver's status
	// writes.
	ReceiverFieldManager = "hookwarden-receiver"
)

// ReconcilerStatus is the part of GitHubIntegrationStatus the reconciler
// writes: what it saw and did on GitHub.
// +kubebuilder:object:generate=false
type ReconcilerStatus struct {
	ObservedGeneration int64                `json:"observedGeneration,omitempty"`
	Conditions         []metav1.Condition   `json:"conditions,omitempty"`
	Target             string               `json:"target,omitempty"`
	HookCount          int32                `json:"hookCount,omitempty"`
	PayloadURL         string               `json:"payloadURL,omitempty"`
	Hooks              []HookStatus         `json:"hooks,omitempty"`
	WebhookSecret      *WebhookSecretStatus `json:"webhookSecret,omitempty"`
	Deliveries         ReconcilerCounters   `json:"deliveries"`
}

// ReconcilerCounters are the delivery counters the reconciler writes.
// +kubebuilder:object:generate=false
type ReconcilerCounters struct {
	Redelivered int64 `json:"redelivered,omitempty"`
}

// ReceiverStatus is the part of GitHubIntegrationStatus the receiver
// writes: what deliveries it answered.
// +kubebuilder:object:generate=false
type ReceiverStatus struct {
	LastDelivery  *DeliveryStatus     `json:"lastDelivery,omitempty"`
	Deliveries    ReceiverCounters    `json:"deliveries"`
	EventCounts   []EventCount        `json:"eventCounts,omitempty"`
	LastRejection *Rejection          `json:"lastRejection,omitempty"`
	PullRequests  []PullRequestStatus `json:"pullRequests,omitempty"`
	Issues        []IssueStatus       `json:"issues,omitempty"`
}

// ReceiverCounters are the delivery counters the receiver writes.
// +kubebuilder:object:generate=false
type ReceiverCounters struct {
	Received   int64 `json:"received,omitempty"`
	Processed  int64 `json:"processed,omitempty"`
	Ignored    int64 `json:"ignored,omitempty"`
	Rejected   int64 `json:"rejected,omitempty"`
	Duplicates int64 `json:"duplicates,omitempty"`
}

// ReconcilerPart is the reconciler's part of s.
func (s *GitHubIntegrationStatus) ReconcilerPart() ReconcilerStatus {
	return ReconcilerStatus{
		ObservedGeneration: s.ObservedGeneration,
		Conditions:         s.Conditions,
		Target:             s.Target,
		HookCount:          s.HookCount,
		PayloadURL:         s.PayloadURL,
		Hooks:              s.Hooks,
		WebhookSecret:      s.WebhookSecret,
		Deliveries:         ReconcilerCounters{Redelivered: s.Deliveries.Redelivered},
	}
}

// ReceiverPart is the receiver's part of s.
func (s *GitHubIntegrationStatus) ReceiverPart() ReceiverStatus {
	c := s.Deliveries
	return ReceiverStatus{
		LastDelivery: s.LastDelivery,
		Deliveries: ReceiverCounters{Received: c.Received, Processed: c.Processed, Ignored: c.Ignored,
			Rejected: c.Rejected, Duplicates: c.Duplicates},
		EventCounts:   s.EventCounts,
		LastRejection: s.LastRejection,
		PullRequests:  s.PullRequests,
		Issues:        s.Issues,
	}
}

// StatusApply is a server-side apply request for the status of the
// GitHubIntegration namespace/name holding only part, one writer's part.
// A non-empty resourceVersion makes the write conditional on it.
func StatusApply(namespace, name, resourceVersion string, part any) (*unstructured.Unstructured, error) {
	raw, err := json.Marshal(part)
	if err != nil {
		return nil, fmt.Errorf("status of GitHubIntegration %s/%s: %w", namespace, name, err)
	}
	var status map[string]any
	if err := json.Unmarshal(raw, &status); err != nil {
		return nil, fmt.Errorf("status of GitHubIntegration %s/%s: %w", namespace, name, err)
	}
	u := &unstructured.Unstructured{Object: map[string]any{"status": status}}
	u.SetGroupVersionKind(GroupVersion.WithKind("GitHubIntegration"))
	u.SetNamespace(namespace)
	u.SetName(name)
	u.SetResourceVersion(resourceVersion)
	return u, nil
}
