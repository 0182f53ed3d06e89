package v1alpha1

import (
	"encoding/json"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Each field of GitHubIntegrationStatus has one writer, the reconciler or
// the receiver. Each writer writes with server-side apply, under its own
// field manager, its part of the status and nothing else: the API server
// records which writer owns which field (metadata.managedFields), and
// neither writer's apply can remove or overwrite the other's fields.
const (
	// ReconcilerFieldManager is the field manager of the reconciler's
	// status writes.
	ReconcilerFieldManager = "hookwarden-reconciler"
	// ReceiverFieldManager is the field manager of the receiver's status
	// writes.
	ReceiverFieldManager = "hookwarden-receiver"
)

// StatusPart is the part of the status one writer owns: the JSON names of
// its fields, a counter of status.deliveries as "deliveries.<name>".
type StatusPart []string

// The two writers' parts. TestStatusPartsCoverTheStatus checks that every
// status field is in exactly one.
var (
	// ReconcilerPart is what the reconciler saw and did on GitHub.
	ReconcilerPart = StatusPart{"observedGeneration", "conditions", "lastHandledReconcileAt", "target", "hookCount", "payloadURL", "hooks",
		"webhookSecret", "deliveries.redelivered"}
	// ReceiverPart is what the receiver answered.
	ReceiverPart = StatusPart{"lastDelivery", "deliveries.received", "deliveries.processed", "deliveries.ignored",
		"deliveries.rejected", "deliveries.duplicates", "eventCounts", "lastRejection", "pullRequests", "issues",
		"receivers"}
)

// Of returns the fields of st in the part, as JSON values.
func (p StatusPart) Of(st *GitHubIntegrationStatus) (map[string]any, error) {
	raw, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	var all map[string]any
	if err := json.Unmarshal(raw, &all); err != nil {
		return nil, err
	}
	out := map[string]any{}
	deliveries, _ := all["deliveries"].(map[string]any)
	for _, f := range p {
		if counter, ok := strings.CutPrefix(f, "deliveries."); ok {
			sub, _ := out["deliveries"].(map[string]any)
			if sub == nil {
				sub = map[string]any{}
				out["deliveries"] = sub
			}
			if v, ok := deliveries[counter]; ok {
				sub[counter] = v
			}
			continue
		}
		if v, ok := all[f]; ok {
			out[f] = v
		}
	}
	return out, nil
}

// Apply is a server-side apply request for the status of the
// GitHubIntegration namespace/name holding only the part's fields of st.
// A non-empty resourceVersion makes the write conditional on it.
func (p StatusPart) Apply(namespace, name, resourceVersion string, st *GitHubIntegrationStatus) (*unstructured.Unstructured, error) {
	status, err := p.Of(st)
	if err != nil {
		return nil, fmt.Errorf("status of GitHubIntegration %s/%s: %w", namespace, name, err)
	}
	u := &unstructured.Unstructured{Object: map[string]any{"status": status}}
	u.SetGroupVersionKind(GroupVersion.WithKind("GitHubIntegration"))
	u.SetNamespace(namespace)
	u.SetName(name)
	u.SetResourceVersion(resourceVersion)
	return u, nil
}
