package webhooksecret

import (
	"context"
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

// TestLoadReadsOnlyTheOwnedSecretsThatMayExist: Load reads the user's
// Secret always, and an owned Secret only when ownedMayExist says it may
// exist; the applied secret it reads is loaded.
func TestLoadReadsOnlyTheOwnedSecretsThatMayExist(t *testing.T) {
	const ns, integration, uid = "team", "hooks", types.UID("uid-1")
	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	applied := NewApplied(ns, integration, []byte("the-secret-the-hooks-carry-0123456789"), time.Now())
	applied.OwnerReferences = []metav1.OwnerReference{{APIVersion: "integrations.hookwarden.io/v1alpha1", Kind: "GitHubIntegration",
		Name: integration, UID: uid, Controller: new(true)}}
	user := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "creds"},
		Data: map[string][]byte{"webhook_secret": []byte("the-users-new-secret-0123456789abcdef")}}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(applied, user).Build()

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
			l, err := Load(context.Background(), reads, ns, integration, uid, "creds", "webhook_secret", tc.mayExist)
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
