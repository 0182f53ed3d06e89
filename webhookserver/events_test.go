package webhookserver

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/hookwarden/hookwarden/internal/testenv"
	"github.com/hookwarden/hookwarden/internal/testfixtures"
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
