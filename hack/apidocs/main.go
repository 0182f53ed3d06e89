// Command apidocs writes the API reference (docs/api-reference.md) from the
// generated CRDs, so the reference says exactly what `kubectl explain` says.
//
//	go run ./hack/apidocs config/crd/bases docs/api-reference.md
package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: apidocs <crd-dir> <output.md>")
		os.Exit(2)
	}
	out, err := render(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "apidocs:", err)
		os.Exit(1)
	}
	if err := os.WriteFile(os.Args[2], out, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "apidocs:", err)
		os.Exit(1)
	}
}

func render(dir string) ([]byte, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var b bytes.Buffer
	b.WriteString("# API reference\n\n")
	b.WriteString("Generated from the CRDs by `make api-docs`; do not edit by hand.\n")
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.Unmarshal(raw, crd); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		for _, v := range crd.Spec.Versions {
			fmt.Fprintf(&b, "\n## %s (%s/%s)\n\n", crd.Spec.Names.Kind, crd.Spec.Group, v.Name)
			fmt.Fprintf(&b, "Short names: %s. Categories: %s. Scope: %s.\n\n",
				strings.Join(crd.Spec.Names.ShortNames, ", "), strings.Join(crd.Spec.Names.Categories, ", "), crd.Spec.Scope)
			if v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
				continue
			}
			root := v.Schema.OpenAPIV3Schema
			b.WriteString(oneLine(root.Description) + "\n\n")
			for _, section := range []string{"spec", "status"} {
				s, ok := root.Properties[section]
				if !ok {
					continue
				}
				fmt.Fprintf(&b, "### %s\n\n", section)
				for _, rule := range s.XValidations {
					fmt.Fprintf(&b, "Rule: %s\n\n", rule.Message)
				}
				b.WriteString("| Field | Type | Default | Validation | Description |\n|---|---|---|---|---|\n")
				writeFields(&b, section, s)
				b.WriteString("\n")
			}
		}
	}
	return b.Bytes(), nil
}

func writeFields(b *bytes.Buffer, prefix string, s apiextensionsv1.JSONSchemaProps) {
	names := make([]string, 0, len(s.Properties))
	for n := range s.Properties {
		names = append(names, n)
	}
	sort.Strings(names)
	required := map[string]bool{}
	for _, r := range s.Required {
		required[r] = true
	}
	for _, n := range names {
		p := s.Properties[n]
		path := prefix + "." + n
		typ := p.Type
		if typ == "array" && p.Items != nil && p.Items.Schema != nil {
			typ = "[]" + p.Items.Schema.Type
		}
		if required[n] {
			typ += " (required)"
		}
		def := ""
		if p.Default != nil {
			def = "`" + string(p.Default.Raw) + "`"
		}
		fmt.Fprintf(b, "| `%s` | %s | %s | %s | %s |\n", path, typ, def, validation(p), cell(p.Description))
		switch {
		case p.Type == "object" && len(p.Properties) > 0:
			writeFields(b, path, p)
		case p.Type == "array" && p.Items != nil && p.Items.Schema != nil && len(p.Items.Schema.Properties) > 0 && path != "status.conditions":
			writeFields(b, path+"[]", *p.Items.Schema)
		}
	}
}

func validation(p apiextensionsv1.JSONSchemaProps) string {
	var v []string
	if len(p.Enum) > 0 {
		var e []string
		for _, x := range p.Enum {
			e = append(e, string(x.Raw))
		}
		v = append(v, "one of "+strings.Join(e, ", "))
	}
	if p.Pattern != "" {
		v = append(v, "pattern `"+p.Pattern+"`")
	}
	if p.MinItems != nil {
		v = append(v, fmt.Sprintf("min %d items", *p.MinItems))
	}
	if p.MaxItems != nil {
		v = append(v, fmt.Sprintf("max %d items", *p.MaxItems))
	}
	if p.MinLength != nil {
		v = append(v, fmt.Sprintf("min length %d", *p.MinLength))
	}
	if p.MaxLength != nil {
		v = append(v, fmt.Sprintf("max length %d", *p.MaxLength))
	}
	if p.Items != nil && p.Items.Schema != nil {
		if p.Items.Schema.Pattern != "" {
			v = append(v, "items match `"+p.Items.Schema.Pattern+"`")
		}
	}
	if p.XListType != nil && *p.XListType == "set" {
		v = append(v, "unique items")
	}
	for _, r := range p.XValidations {
		v = append(v, r.Message)
	}
	return cell(strings.Join(v, "; "))
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func cell(s string) string { return strings.ReplaceAll(oneLine(s), "|", `\|`) }
