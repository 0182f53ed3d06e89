package webhookserver

import (
	"bytes"
	"cmp"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	"github.com/hookwarden/hookwarden/internal/webhooksecret"
)

func storedIntegration(namespace, name, secret string) *integration {
	return newIntegration(&hookv1.GitHubIntegration{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, UID: types.UID("uid-" + name)},
		Spec:       hookv1.GitHubIntegrationSpec{SecretRef: hookv1.SecretReference{Name: secret}},
	})
}

func sortedReferrers(s *store, namespace, name string) []types.NamespacedName {
	keys := s.referrersOf(types.NamespacedName{Namespace: namespace, Name: name})
	slices.SortFunc(keys, func(a, b types.NamespacedName) int {
		return cmp.Or(strings.Compare(a.Namespace, b.Namespace), strings.Compare(a.Name, b.Name))
	})
	return keys
}

// A change of a Secret re-reads the secrets of every integration that
// reads it: those that name it (several may share one), and the one whose
// applied or previous Secret it is; no other.
func TestSecretChangesReachTheIntegrationsThatReadThem(t *testing.T) {
	first, second, third := types.NamespacedName{Namespace: "team-a", Name: "first"},
		types.NamespacedName{Namespace: "team-a", Name: "second"}, types.NamespacedName{Namespace: "team-a", Name: "third"}
	s := newStore("")
	s.upsert(storedIntegration("team-a", "first", "shared"))
	s.upsert(storedIntegration("team-a", "second", "shared"))
	s.upsert(storedIntegration("team-a", "third", "own"))
	check := func(namespace, secret string, want ...types.NamespacedName) {
		t.Helper()
		if got := sortedReferrers(s, namespace, secret); !slices.Equal(got, want) {
			t.Errorf("a change of Secret %s/%s re-reads %v, want %v", namespace, secret, got, want)
		}
	}
	check("team-a", "shared", first, second)
	check("team-a", "own", third)
	check("team-a", webhooksecret.AppliedName("first"), first)
	check("team-a", webhooksecret.PreviousName("second"), second)
	check("team-b", webhooksecret.AppliedName("first"))
	check("team-b", "shared")
	check("team-a", "unrelated")

	s.upsert(storedIntegration("team-a", "second", "own")) // moves to another Secret
	check("team-a", "shared", first)
	check("team-a", "own", second, third)

	s.remove(first)
	check("team-a", "shared")
	check("team-a", webhooksecret.AppliedName("first"))

	// The split layout's receiver reads mirrors only.
	split := newStore("hookwarden-system")
	split.upsert(storedIntegration("team-a", "first", "shared"))
	if got := split.referrersOf(types.NamespacedName{Namespace: "hookwarden-system", Name: webhooksecret.MirrorName("uid-first")}); !slices.Equal(got, []types.NamespacedName{first}) {
		t.Errorf("a change of the mirror re-reads %v, want %v", got, first)
	}
	for _, ref := range []types.NamespacedName{{Namespace: "team-a", Name: "shared"}, {Namespace: "team-a", Name: webhooksecret.AppliedName("first")}} {
		if got := split.referrersOf(ref); len(got) != 0 {
			t.Errorf("in the split layout a change of %s re-reads %v", ref, got)
		}
	}
}

// TestStoreMemoryPerIntegration: what the receiver keeps per integration
// (its copy of what it reads of the integration, its webhook secrets, and
// the Secret it reads them from) stays small, as it is held for every
// integration in the cluster (docs/performance.md, "Memory").
func TestStoreMemoryPerIntegration(t *testing.T) {
	const n = 10_000
	objs := make([]*hookv1.GitHubIntegration, n)
	for i := range objs {
		name := fmt.Sprintf("integration-%05d", i)
		objs[i] = &hookv1.GitHubIntegration{
			ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: name, UID: types.UID(fmt.Sprintf("0b3c52e4-5d0e-4c61-9f3a-%012d", i))},
			Spec:       hookv1.GitHubIntegrationSpec{SecretRef: hookv1.SecretReference{Name: name}},
		}
	}
	secret := []byte("webhook-secret-of-an-integration")
	s := newStore("")
	before := heapInUse()
	for _, obj := range objs {
		key := client.ObjectKeyFromObject(obj)
		s.upsert(newIntegration(obj))
		s.setSecrets(key, secretStateOf(webhooksecret.Loaded{Current: bytes.Clone(secret)}))
	}
	perIntegration := float64(heapInUse()-before) / n
	t.Logf("receiver store: %.0f bytes of heap per integration", perIntegration)
	if perIntegration > 640 {
		t.Fatalf("the receiver keeps %.0f bytes of heap per integration, want at most 640", perIntegration)
	}
	if _, ws, ok := s.lookup(client.ObjectKeyFromObject(objs[n-1])); !ok || !bytes.Equal(ws.Current, secret) {
		t.Fatal("the last integration's webhook secret is not stored")
	}
	runtime.KeepAlive(objs)
}
