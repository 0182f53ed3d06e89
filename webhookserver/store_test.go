package webhookserver

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	"github.com/hookwarden/hookwarden/internal/scheme"
	"github.com/hookwarden/hookwarden/internal/webhooksecret"
)

func integrationObject(namespace, name, secret string) *hookv1.GitHubIntegration {
	return &hookv1.GitHubIntegration{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, UID: types.UID("uid-" + name)},
		Spec:       hookv1.GitHubIntegrationSpec{SecretRef: hookv1.SecretReference{Name: secret}},
	}
}

// A change of a Secret re-reads the secrets of every integration that
// reads it: those that name it (several may share one; found through the
// reconciler's index), and the one whose applied or previous Secret it is;
// no other. In the split layout, the integration a mirror names, if known
// with the mirror's UID.
func TestSecretChangesReachTheIntegrationsThatReadThem(t *testing.T) {
	first, second, third := types.NamespacedName{Namespace: "team-a", Name: "first"},
		types.NamespacedName{Namespace: "team-a", Name: "second"}, types.NamespacedName{Namespace: "team-a", Name: "third"}
	objs := map[types.NamespacedName]*hookv1.GitHubIntegration{
		first: integrationObject("team-a", "first", "shared"), second: integrationObject("team-a", "second", "shared"),
		third: integrationObject("team-a", "third", "own"),
	}
	c := fake.NewClientBuilder().WithScheme(scheme.New()).
		WithIndex(&hookv1.GitHubIntegration{}, webhooksecret.SecretRefNameField, webhooksecret.SecretRefName).
		WithObjects(objs[first], objs[second], objs[third]).Build()
	s := newStore()
	for _, obj := range objs {
		s.upsert(newIntegration(obj))
	}
	ctx := context.Background()
	referrers := func(mirrorNamespace string, secret metav1.Object) []types.NamespacedName {
		t.Helper()
		keys, err := referrersOf(ctx, c, s, mirrorNamespace, secret)
		if err != nil {
			t.Fatal(err)
		}
		slices.SortFunc(keys, func(a, b types.NamespacedName) int {
			return cmp.Or(strings.Compare(a.Namespace, b.Namespace), strings.Compare(a.Name, b.Name))
		})
		return keys
	}
	check := func(namespace, secret string, want ...types.NamespacedName) {
		t.Helper()
		if got := referrers("", &metav1.ObjectMeta{Namespace: namespace, Name: secret}); !slices.Equal(got, want) {
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

	// Another Secret: the index follows the integration.
	objs[second].Spec.SecretRef.Name = "own"
	if err := c.Update(ctx, objs[second]); err != nil {
		t.Fatal(err)
	}
	check("team-a", "shared", first)
	check("team-a", "own", second, third)

	// Gone from the store (and the cache): its owned Secrets reach nothing.
	s.remove(first)
	if err := c.Delete(ctx, objs[first]); err != nil {
		t.Fatal(err)
	}
	check("team-a", "shared")
	check("team-a", webhooksecret.AppliedName("first"))

	// The split layout's receiver reads mirrors only: a mirror reaches the
	// integration it names if known with its UID.
	mirror := func(namespace string, uid types.UID, of types.NamespacedName) *metav1.ObjectMeta {
		return &metav1.ObjectMeta{Namespace: namespace, Name: webhooksecret.MirrorName(uid),
			Labels:      map[string]string{webhooksecret.ManagedByLabel: webhooksecret.ManagedByValue, webhooksecret.MirrorOfLabel: string(uid)},
			Annotations: map[string]string{webhooksecret.MirrorIntegrationAnnotation: of.String()}}
	}
	for _, tc := range []struct {
		secret *metav1.ObjectMeta
		want   []types.NamespacedName
	}{
		{mirror("hookwarden-system", "uid-third", third), []types.NamespacedName{third}},
		{mirror("hookwarden-system", "uid-of-an-earlier-third", third), nil},
		{mirror("team-a", "uid-third", third), nil},
		{mirror("hookwarden-system", "uid-first", first), nil},
		{&metav1.ObjectMeta{Namespace: "team-a", Name: "own"}, nil},
		{&metav1.ObjectMeta{Namespace: "team-a", Name: webhooksecret.AppliedName("third")}, nil},
	} {
		if got := referrers("hookwarden-system", tc.secret); !slices.Equal(got, tc.want) {
			t.Errorf("split layout: a change of %s/%s re-reads %v, want %v", tc.secret.Namespace, tc.secret.Name, got, tc.want)
		}
	}
}

// TestStoreMemoryPerIntegration: what the receiver keeps per integration
// (its copy of what it reads of the integration and its webhook secrets;
// which integrations read a Secret it asks the reconciler's index) stays
// small, as it is held for every integration in the cluster
// (docs/performance.md, "Memory").
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
	s := newStore()
	before := heapInUse()
	for _, obj := range objs {
		key := client.ObjectKeyFromObject(obj)
		s.upsert(newIntegration(obj))
		s.setSecrets(key, secretStateOf(webhooksecret.Loaded{Current: bytes.Clone(secret)}))
	}
	perIntegration := float64(heapInUse()-before) / n
	t.Logf("receiver store: %.0f bytes of heap per integration", perIntegration)
	if perIntegration > 520 {
		t.Fatalf("the receiver keeps %.0f bytes of heap per integration, want at most 520", perIntegration)
	}
	if _, ws, ok := s.lookup(client.ObjectKeyFromObject(objs[n-1])); !ok || !bytes.Equal(ws.Current, secret) {
		t.Fatal("the last integration's webhook secret is not stored")
	}
	runtime.KeepAlive(objs)
}

// TestReadsOfAnotherSourceAreNotReused: what was read for an integration is
// taken up by its next read only while it references the same Secret and
// key, as the same object: a change of either keeps the secrets accepted
// until read again, but not their versions, and a read that finishes after
// such a change is not stored.
func TestReadsOfAnotherSourceAreNotReused(t *testing.T) {
	read := func() *secretState {
		return secretStateOf(webhooksecret.Loaded{Current: []byte(testSecret),
			Versions: webhooksecret.Versions{Current: 7, Applied: 8, AppliedIsCurrent: true}})
	}
	for _, tc := range []struct {
		name   string
		change func(gi *hookv1.GitHubIntegration)
	}{
		{"another Secret", func(gi *hookv1.GitHubIntegration) { gi.Spec.SecretRef.Name = "other" }},
		{"another key", func(gi *hookv1.GitHubIntegration) { gi.Spec.SecretRef.WebhookSecretKey = "other" }},
		{"recreated", func(gi *hookv1.GitHubIntegration) { gi.UID = "uid-recreated" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore()
			gi := integrationObject("team", "hooks", "creds")
			if !s.upsert(newIntegration(gi)) {
				t.Fatal("a new integration was not read")
			}
			first, _, _ := s.forRead(types.NamespacedName{Namespace: "team", Name: "hooks"})
			s.setSecretsRead(first, read())
			// A change that is not of the source keeps everything.
			gi.Spec.Events = []string{"push"}
			if s.upsert(newIntegration(gi)) {
				t.Error("a change of spec.events read the secrets again")
			}
			if _, st, _ := s.forRead(first.key); st == nil || st.versions.Current != 7 {
				t.Fatalf("after a change of spec.events, kept %+v", st)
			}

			tc.change(gi)
			if !s.upsert(newIntegration(gi)) {
				t.Error("the change did not read the secrets again")
			}
			in, st, _ := s.forRead(first.key)
			if st == nil || !bytes.Equal(st.secrets.Current, []byte(testSecret)) {
				t.Errorf("the secrets read before are no longer accepted: %+v", st)
			}
			if st != nil && st.versions != (webhooksecret.Versions{}) {
				t.Errorf("the next read would take from the earlier source: versions %+v", st.versions)
			}
			// A read for the earlier source that ends now is dropped.
			s.setSecretsRead(first, read())
			if _, after, _ := s.forRead(first.key); after != st {
				t.Error("a read for what the integration no longer references was stored")
			}
			s.setSecretsRead(in, read())
			if _, after, _ := s.forRead(first.key); after == st {
				t.Error("a read for the integration as it is was not stored")
			}
		})
	}
}
