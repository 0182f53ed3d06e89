package main

import (
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"unsafe"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	"github.com/hookwarden/hookwarden/internal/webhooksecret"
)

func TestTrimCachedObjectDropsSecretContentFromMetadata(t *testing.T) {
	m := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{
		Name: "github-experiments",
		Annotations: map[string]string{
			corev1.LastAppliedConfigAnnotation: `{"data":{"webhook_secret":"c2VjcmV0"}}`,
			"team":                             "a",
		},
		ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}},
	}}
	m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	out, err := trimCachedObject(m)
	if err != nil {
		t.Fatal(err)
	}
	got := out.(*metav1.PartialObjectMetadata)
	if _, found := got.Annotations[corev1.LastAppliedConfigAnnotation]; found {
		t.Error("last-applied-configuration, which holds the Secret's data, is still cached")
	}
	if got.Annotations["team"] != "a" {
		t.Error("other annotations were dropped")
	}
	if got.ManagedFields != nil {
		t.Error("managedFields are still cached")
	}
}

// TestTrimCachedObjectSharesStrings: two cached integrations decoded apart
// hold one copy of the strings they share the value of (namespace,
// finalizer, events, condition), and every value is as decoded.
func TestTrimCachedObjectSharesStrings(t *testing.T) {
	decode := func(name string) *hookv1.GitHubIntegration {
		raw := `{"metadata":{"name":"` + name + `","namespace":"team-a","finalizers":["integrations.hookwarden.io/hooks"],
			"labels":{"team":"a"},"annotations":{"note":"` + name + `"}},
			"spec":{"repositories":["acme/` + name + `"],"events":["push","issues"],"secretRef":{"name":"github"},"contentType":"json"},
			"status":{"target":"acme/` + name + `","conditions":[{"type":"Ready","status":"True","reason":"HooksRegistered","message":"1 hook registered","lastTransitionTime":"2026-11-30T10:00:00Z"}],
			"hooks":[{"target":"acme/` + name + `","id":1,"events":["push","issues"]}],"eventCounts":[{"event":"push","count":3}]}}`
		gi := &hookv1.GitHubIntegration{}
		if err := json.Unmarshal([]byte(raw), gi); err != nil {
			t.Fatal(err)
		}
		return gi
	}
	a, b := decode("one"), decode("two")
	wantA := a.DeepCopy()
	for _, gi := range []*hookv1.GitHubIntegration{a, b} {
		if _, err := trimCachedObject(gi); err != nil {
			t.Fatal(err)
		}
	}
	if !equality.Semantic.DeepEqual(a, wantA) {
		t.Fatalf("the transform changed a value:\n%+v\nwant\n%+v", a, wantA)
	}
	same := func(what, x, y string) {
		t.Helper()
		if x != y || unsafe.StringData(x) != unsafe.StringData(y) {
			t.Errorf("%s: %q and %q are two copies, want one shared", what, x, y)
		}
	}
	same("namespace", a.Namespace, b.Namespace)
	same("finalizer", a.Finalizers[0], b.Finalizers[0])
	for k := range a.Labels {
		for k2, v2 := range b.Labels {
			same("label key", k, k2)
			same("label value", a.Labels[k], v2)
		}
	}
	same("spec.events", a.Spec.Events[0], b.Spec.Events[0])
	same("status.hooks[].events", a.Status.Hooks[0].Events[1], b.Status.Hooks[0].Events[1])
	same("status.hooks[].events and spec.events", a.Status.Hooks[0].Events[0], b.Spec.Events[0])
	if &a.Spec.Events[0] != &b.Status.Hooks[0].Events[0] {
		t.Error("spec.events and status.hooks[].events, which list the same events, are two slices, want one shared")
	}
	same("status.target and status.hooks[].target", a.Status.Target, a.Status.Hooks[0].Target)
	same("status.eventCounts[].event", a.Status.EventCounts[0].Event, b.Status.EventCounts[0].Event)
	same("condition type", a.Status.Conditions[0].Type, b.Status.Conditions[0].Type)
	same("condition status", string(a.Status.Conditions[0].Status), string(b.Status.Conditions[0].Status))
	same("condition reason", a.Status.Conditions[0].Reason, b.Status.Conditions[0].Reason)
	if unsafe.StringData(a.Annotations["note"]) == unsafe.StringData(b.Annotations["note"]) {
		t.Error("annotation values, which differ, share memory")
	}
}

// TestStringPoolIsBounded: past maxInterned strings the pool keeps no
// more, and gives back what it is given.
func TestStringPoolIsBounded(t *testing.T) {
	p := newStringPool()
	for i := range maxInterned + 100 {
		s := strconv.Itoa(i)
		if got := p.intern(s); got != s {
			t.Fatalf("intern(%q) = %q", s, got)
		}
	}
	if len(p.m) != maxInterned {
		t.Fatalf("the pool holds %d strings, want at most %d", len(p.m), maxInterned)
	}
}

// TestStringPoolBoundsItsLists: past maxLists lists the pool keeps no more,
// and gives back lists with what they held.
func TestStringPoolBoundsItsLists(t *testing.T) {
	p := newStringPool()
	for i := range maxLists + 100 {
		list := []string{"push", strconv.Itoa(i)}
		if got := p.internList(list); !slices.Equal(got, []string{"push", strconv.Itoa(i)}) {
			t.Fatalf("internList gave %q for list %d", got, i)
		}
	}
	if len(p.lists) != maxLists {
		t.Fatalf("the pool holds %d lists, want at most %d", len(p.lists), maxLists)
	}
	// A name holding the separator is not taken for two names.
	p = newStringPool()
	p.internList([]string{"a", "b"})
	if got := p.internList([]string{"a\x00b"}); !slices.Equal(got, []string{"a\x00b"}) {
		t.Fatalf("internList gave %q for [\"a\\x00b\"]", got)
	}
}

// TestTrimCachedObjectSharesLabelSets: Secrets with the same labels (every
// Secret hookwarden labelled as referenced) hold one label map once the set
// was seen twice, with the values as decoded; label sets of one object
// each (an owned Secret names its integration) are not kept by the pool.
func TestTrimCachedObjectSharesLabelSets(t *testing.T) {
	p := newStringPool()
	secret := func(name string, labels map[string]string) *metav1.PartialObjectMetadata {
		m := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: name, Labels: labels}}
		m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
		return m
	}
	referenced := func() map[string]string {
		return map[string]string{webhooksecret.ReferencedLabel: webhooksecret.ReferencedValue, "team": "a"}
	}
	var secrets []*metav1.PartialObjectMetadata
	for i := range 5 {
		s := secret("github-"+strconv.Itoa(i), referenced())
		p.internMeta(s)
		secrets = append(secrets, s)
	}
	mapOf := func(m map[string]string) unsafe.Pointer { return reflect.ValueOf(m).UnsafePointer() }
	for i, s := range secrets {
		if !maps.Equal(s.Labels, referenced()) {
			t.Fatalf("Secret %d: labels %v, want %v", i, s.Labels, referenced())
		}
		if i >= 2 && mapOf(s.Labels) != mapOf(secrets[1].Labels) {
			t.Errorf("Secret %d holds a label map of its own, want the one Secret 1 holds", i)
		}
	}
	other := secret("other", map[string]string{webhooksecret.ReferencedLabel: webhooksecret.ReferencedValue, "team": "b"})
	p.internMeta(other)
	if other.Labels["team"] != "b" || mapOf(other.Labels) == mapOf(secrets[1].Labels) {
		t.Errorf("a Secret with other labels got %v", other.Labels)
	}

	for i := range 2 * maxLabelCandidates {
		owned := secret("owned-"+strconv.Itoa(i), webhooksecret.Labels("integration-"+strconv.Itoa(i)))
		p.internMeta(owned)
		if want := webhooksecret.Labels("integration-" + strconv.Itoa(i)); !maps.Equal(owned.Labels, want) {
			t.Fatalf("owned Secret %d: labels %v, want %v", i, owned.Labels, want)
		}
	}
	if len(p.labelSets) != 1 {
		t.Errorf("the pool shares %d label sets, want 1: label sets of one object each are kept", len(p.labelSets))
	}
	if len(p.labelCandidates) > maxLabelCandidates {
		t.Errorf("the pool remembers %d label sets seen once, want at most %d", len(p.labelCandidates), maxLabelCandidates)
	}
	for i := range maxLabelSets + 50 {
		for range 2 {
			p.internMeta(secret("many", map[string]string{"team": strconv.Itoa(i)}))
		}
	}
	if len(p.labelSets) != maxLabelSets {
		t.Errorf("the pool shares %d label sets, want at most %d", len(p.labelSets), maxLabelSets)
	}
}

// TestManagerRemembersMappings: the manager's RESTMapper answers a kind it
// found again from memory, not by trying every group version it knows (the
// cost of every client call and namespaced cache read: docs/performance.md).
func TestManagerRemembersMappings(t *testing.T) {
	env := sharedEnv(t)
	httpClient, err := rest.HTTPClientFor(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	mapper, err := managerOptions(Options{}).MapperProvider(env.Config, httpClient)
	if err != nil {
		t.Fatal(err)
	}
	for _, gvk := range []schema.GroupVersionKind{hookv1.GroupVersion.WithKind("GitHubIntegration"), corev1.SchemeGroupVersion.WithKind("Secret")} {
		first, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			t.Fatal(err)
		}
		allocs := testing.AllocsPerRun(100, func() {
			again, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
			if err != nil || again.Resource != first.Resource || again.Scope.Name() != first.Scope.Name() {
				t.Fatalf("%s asked again: %+v, %v; want %+v", gvk.Kind, again, err, first)
			}
		})
		// Two allocations: the versions the caller passes through the
		// interface, and its copy of the mapping.
		if allocs > 2 {
			t.Errorf("%s asked again: %.0f allocations, want at most 2 for a remembered mapping", gvk.Kind, allocs)
		}
	}
}
