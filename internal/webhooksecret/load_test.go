package webhooksecret

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

// readsCounted counts the Secrets read, by name.
type readsCounted struct {
	client.Reader
	names []string
}

func (r *readsCounted) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	r.names = append(r.names, key.Name)
	return r.Reader.Get(ctx, key, obj, opts...)
}

// fakeSecrets is a client of the Secrets objs.
func fakeSecrets(t *testing.T, objs ...client.Object) client.Client {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	return fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).Build()
}

// TestLoadReadsOnlyTheOwnedSecretsThatMayExist: Load reads the user's
// Secret always, and an owned Secret only when the cache says it may exist;
// the applied secret it reads is loaded.
func TestLoadReadsOnlyTheOwnedSecretsThatMayExist(t *testing.T) {
	const ns, integration, uid = "team", "hooks", types.UID("uid-1")
	applied := NewApplied(ns, integration, []byte("the-secret-the-hooks-carry-0123456789"), time.Now())
	applied.OwnerReferences = []metav1.OwnerReference{{APIVersion: "integrations.hookwarden.io/v1alpha1", Kind: "GitHubIntegration",
		Name: integration, UID: uid, Controller: new(true)}}
	user := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "creds"},
		Data: map[string][]byte{"webhook_secret": []byte("the-users-new-secret-0123456789abcdef")}}
	c := fakeSecrets(t, applied, user)

	for _, tc := range []struct {
		name        string
		mayExist    func(string) bool
		wantReads   []string
		wantApplied bool
	}{
		{"every owned Secret may exist", nil, []string{"creds", AppliedName(integration), PreviousName(integration)}, true},
		{"only the applied one is in the cache", func(name string) bool { return name == AppliedName(integration) },
			[]string{"creds", AppliedName(integration)}, true},
		{"none is in the cache", func(string) bool { return false }, []string{"creds"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reads := &readsCounted{Reader: c}
			var cached *Cache
			if tc.mayExist != nil {
				cached = &Cache{Version: func(name string) (uint64, bool) { return 0, tc.mayExist(name) }}
			}
			l, err := Load(context.Background(), reads, ns, integration, uid, "creds", "webhook_secret", cached, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(reads.names) != len(tc.wantReads) {
				t.Errorf("read %v, want %v", reads.names, tc.wantReads)
			}
			for i := range min(len(reads.names), len(tc.wantReads)) {
				if reads.names[i] != tc.wantReads[i] {
					t.Errorf("read %v, want %v", reads.names, tc.wantReads)
					break
				}
			}
			if got := l.Applied != nil; got != tc.wantApplied {
				t.Errorf("applied secret loaded: %v, want %v", got, tc.wantApplied)
			}
			if string(l.Current) != "the-users-new-secret-0123456789abcdef" {
				t.Error("the user's secret was not loaded")
			}
		})
	}
}

// TestLoadReadsOnlyWhatChanged: given what it loaded before, Load reads
// again only the Secrets whose resourceVersion in the cache changed, and
// what it takes from before is what it would have read.
func TestLoadReadsOnlyWhatChanged(t *testing.T) {
	const ns, integration, uid = "team", "hooks", types.UID("uid-1")
	ctx := context.Background()
	const first, second = "the-first-webhook-secret-0123456789", "the-second-webhook-secret-0123456789"
	applied := NewApplied(ns, integration, []byte(first), time.Now())
	applied.OwnerReferences = []metav1.OwnerReference{{APIVersion: "integrations.hookwarden.io/v1alpha1", Kind: "GitHubIntegration",
		Name: integration, UID: uid, Controller: new(true)}}
	user := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "creds"},
		Data: map[string][]byte{"webhook_secret": []byte(first)}}
	c := fakeSecrets(t, applied, user)
	// The cache: the Secrets as they are, their versions as numbers, or
	// not as numbers when opaque is set.
	opaque := false
	cached := func(name string) (uint64, bool) {
		s := &corev1.Secret{}
		if err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, s); err != nil {
			return 0, false
		}
		if opaque {
			return ParseVersion("opaque-" + s.ResourceVersion), true
		}
		return ParseVersion(s.ResourceVersion), true
	}
	load := func(known *Loaded) (Loaded, []string) {
		t.Helper()
		reads := &readsCounted{Reader: c}
		l, err := Load(ctx, reads, ns, integration, uid, "creds", "webhook_secret", &Cache{Version: cached}, known)
		if err != nil {
			t.Fatal(err)
		}
		return l, reads.names
	}
	update := func(s *corev1.Secret, value string) {
		t.Helper()
		if err := c.Get(ctx, client.ObjectKeyFromObject(s), s); err != nil {
			t.Fatal(err)
		}
		// Key ("webhook_secret") is also the key of the user's Secret here.
		s.Data = map[string][]byte{Key: []byte(value)}
		if err := c.Update(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	want := func(l Loaded, reads, wantReads []string, current, applied string) {
		t.Helper()
		if !slices.Equal(reads, wantReads) {
			t.Errorf("read %v, want %v", reads, wantReads)
		}
		if string(l.Current) != current || string(l.Applied) != applied || l.CurrentProblem != "" || l.Previous != nil {
			t.Errorf("loaded current %q, applied %q (problem %q, previous %q), want %q and %q",
				l.Current, l.Applied, l.CurrentProblem, l.Previous, current, applied)
		}
	}

	l, reads := load(nil)
	want(l, reads, []string{"creds", AppliedName(integration)}, first, "")
	if !l.Versions.AppliedIsCurrent || l.Versions.Current == 0 || l.Versions.Applied == 0 {
		t.Errorf("versions %+v, want both Secrets' and the applied secret noted as the current one", l.Versions)
	}
	l, reads = load(&l)
	want(l, reads, nil, first, "")

	update(user, second)
	l, reads = load(&l)
	want(l, reads, []string{"creds"}, second, first)

	update(applied, second)
	l, reads = load(&l)
	want(l, reads, []string{AppliedName(integration)}, second, "")

	// Versions that are not numbers are read every time.
	opaque = true
	l, reads = load(&l)
	want(l, reads, []string{"creds", AppliedName(integration)}, second, "")
}

// TestLoadTakesOwnPatchesAsUnchanged: a Secret that only hookwarden's own
// metadata patches changed since it was read is not read again, and the
// version noted is the new one.
func TestLoadTakesOwnPatchesAsUnchanged(t *testing.T) {
	const ns, integration, uid = "team", "hooks", types.UID("uid-1")
	ctx := context.Background()
	const secret = "the-webhook-secret-0123456789abcdef"
	user := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "creds"},
		Data: map[string][]byte{"webhook_secret": []byte(secret)}}
	c := fakeSecrets(t, user)
	cachedAt := uint64(0) // the cache's version of the user's Secret; 0: not in it
	cache := &Cache{Version: func(name string) (uint64, bool) {
		if name == "creds" && cachedAt != 0 {
			return cachedAt, true
		}
		return 0, false
	}, Patches: NewOwnPatches()}
	load := func(known *Loaded) (Loaded, []string) {
		t.Helper()
		reads := &readsCounted{Reader: c}
		l, err := Load(ctx, reads, ns, integration, uid, "creds", "webhook_secret", cache, known)
		if err != nil {
			t.Fatal(err)
		}
		return l, reads.names
	}
	first, reads := load(nil)
	if len(reads) != 1 || first.Versions.Current == 0 {
		t.Fatalf("first load read %v, versions %+v", reads, first.Versions)
	}
	// Another version in the cache, of a change the patches do not know:
	// read.
	cachedAt = first.Versions.Current + 7
	if _, reads := load(&first); len(reads) != 1 {
		t.Errorf("a change the patches do not know of was not read: read %v", reads)
	}
	// The reconciler labels the Secret: a new version, the same data.
	cache.Patches.Note(types.NamespacedName{Namespace: ns, Name: "creds"},
		strconv.FormatUint(first.Versions.Current, 10), strconv.FormatUint(cachedAt, 10))
	l, reads := load(&first)
	if len(reads) != 0 {
		t.Errorf("a Secret only hookwarden's own metadata patch changed was read again: %v", reads)
	}
	if string(l.Current) != secret || l.Versions.Current != cachedAt {
		t.Errorf("loaded %q at version %d, want the secret at version %d", l.Current, l.Versions.Current, cachedAt)
	}
}
