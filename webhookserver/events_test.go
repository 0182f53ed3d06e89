package webhookserver

import (
	"os"
	"path/filepath"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/hookwarden/hookwarden/internal/delivery"
	"github.com/hookwarden/hookwarden/internal/testenv"
)

// TestEventCountsMaxItems: the CRD refuses a status.eventCounts longer than
// what the receiver writes.
func TestEventCountsMaxItems(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "crd", "bases", "integrations.hookwarden.io_githubintegrations.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var crd struct {
		Spec struct {
			Versions []struct {
				Schema struct {
					OpenAPIV3Schema struct {
						Properties struct {
							Status struct {
								Properties map[string]struct {
									MaxItems *int `json:"maxItems"`
								} `json:"properties"`
							} `json:"status"`
						} `json:"properties"`
					} `json:"openAPIV3Schema"`
				} `json:"schema"`
			} `json:"versions"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(raw, &crd); err != nil {
		t.Fatal(err)
	}
	for _, v := range crd.Spec.Versions {
		got := v.Schema.OpenAPIV3Schema.Properties.Status.Properties["eventCounts"].MaxItems
		if got == nil || *got != maxEventCounts {
			t.Errorf("status.eventCounts maxItems = %v, want %d (run make manifests)", got, maxEventCounts)
		}
	}
}

// TestEveryGitHubEventFitsEventCounts: status.eventCounts can hold a count
// for every event GitHub publishes.
func TestEveryGitHubEventFitsEventCounts(t *testing.T) {
	if n := len(delivery.KnownEvents()); n > maxEventCounts {
		t.Errorf("GitHub publishes %d events, more than the %d status.eventCounts holds", n, maxEventCounts)
	}
}
