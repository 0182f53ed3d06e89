package main

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
