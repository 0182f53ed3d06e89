// Package installer renders hookwarden's installable manifests from config/
// (what `make build-installer` writes to dist/install.yaml) and applies them
// to a cluster with server-side apply, for tests and the sandbox.
package installer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// ImageName is the image name config/manager gives the manager container;
// Render replaces it with the image asked for.
const ImageName = "hookwarden"

// FieldOwner is the server-side apply field manager of Apply.
const FieldOwner = "hookwarden-installer"

// Render builds the kustomization in dir (normally config/default) with the
// manager image set to image ("name", "name:tag" or "name@sha256:..."; empty
// keeps the default), like `make build-installer IMG=image`, and with the
// kustomize components in the directories components (such as
// config/monitoring) added, as a user's overlay adds them.
func Render(dir, image string, components ...string) ([]byte, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", dir, err)
	}
	overlay, err := os.MkdirTemp("", "hookwarden-install-")
	if err != nil {
		return nil, fmt.Errorf("create overlay: %w", err)
	}
	defer func() { _ = os.RemoveAll(overlay) }()

	// kustomize refuses an absolute base: refer to it from the overlay.
	rel, err := filepath.Rel(overlay, abs)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", dir, err)
	}
	k := types.Kustomization{Resources: []string{filepath.ToSlash(rel)}}
	for _, c := range components {
		abs, err := filepath.Abs(c)
		if err != nil {
			return nil, fmt.Errorf("resolve %s: %w", c, err)
		}
		rel, err := filepath.Rel(overlay, abs)
		if err != nil {
			return nil, fmt.Errorf("resolve %s: %w", c, err)
		}
		k.Components = append(k.Components, filepath.ToSlash(rel))
	}
	if image != "" {
		k.Images = []types.Image{imageOverride(image)}
	}
	data, err := yaml.Marshal(k)
	if err != nil {
		return nil, fmt.Errorf("encode overlay: %w", err)
	}
	if err := os.WriteFile(filepath.Join(overlay, "kustomization.yaml"), data, 0o600); err != nil {
		return nil, fmt.Errorf("write overlay: %w", err)
	}
	// The kustomize CLI's default order: Namespaces and CRDs before what
	// needs them, so the stream applies top to bottom.
	opts := krusty.MakeDefaultOptions()
	opts.Reorder = krusty.ReorderOptionLegacy
	kz := krusty.MakeKustomizer(opts)
	m, err := kz.Run(filesys.MakeFsOnDisk(), overlay)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	out, err := m.AsYaml()
	if err != nil {
		return nil, fmt.Errorf("render %s: %w", dir, err)
	}
	return out, nil
}

// imageOverride splits an image reference the way `kustomize edit set image`
// does: a digest after "@", else a tag after the last ":" that follows the
// last "/" (a ":" before it belongs to a registry port).
func imageOverride(ref string) types.Image {
	img := types.Image{Name: ImageName, NewName: ref}
	if name, digest, ok := strings.Cut(ref, "@"); ok {
		img.NewName, img.Digest = name, digest
		return img
	}
	slash := strings.LastIndex(ref, "/")
	if colon := strings.LastIndex(ref, ":"); colon > slash {
		img.NewName, img.NewTag = ref[:colon], ref[colon+1:]
	}
	return img
}

// Objects decodes a multi-document YAML stream into objects, skipping empty
// documents.
func Objects(manifests []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(manifests), 4096)
	var objs []*unstructured.Unstructured
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return objs, nil
			}
			return nil, fmt.Errorf("decode manifests: %w", err)
		}
		if len(u.Object) == 0 {
			continue
		}
		objs = append(objs, u)
	}
}

// Apply server-side applies objs in order (leaving them unchanged), as FieldOwner with forced
// ownership (what `kubectl apply --server-side --force-conflicts` does).
// With dryRun the API server validates and admits every object but stores
// nothing. Namespaced objects of a namespace that does not exist yet, or
// custom resources of a CRD in the same batch, are only known once those
// are applied: dry-run them after a real apply of the Namespace and CRDs.
func Apply(ctx context.Context, c client.Client, objs []*unstructured.Unstructured, dryRun bool) error {
	var errs []error
	for _, obj := range objs {
		opts := []client.ApplyOption{client.FieldOwner(FieldOwner), client.ForceOwnership}
		if dryRun {
			opts = append(opts, client.DryRunAll)
		}
		if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj.DeepCopy()), opts...); err != nil {
			errs = append(errs, fmt.Errorf("apply %s %s: %w", obj.GetKind(), client.ObjectKeyFromObject(obj), err))
		}
	}
	return errors.Join(errs...)
}

// IsCRD reports whether obj is a CustomResourceDefinition.
func IsCRD(obj *unstructured.Unstructured) bool {
	return obj.GroupVersionKind().GroupKind() == apiextensionsv1.SchemeGroupVersion.WithKind("CustomResourceDefinition").GroupKind()
}
