// Package charts_test checks the Helm chart with Helm's own Go module: it
// lints, it renders, the API server admits what it renders, and its
// defaults install what config/default installs.
package charts_test

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/v2/lint"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/hookwarden/hookwarden/internal/installer"
	"github.com/hookwarden/hookwarden/internal/testenv"
)

const (
	release   = "hookwarden"
	namespace = "hookwarden-system"
)

var chartDir = filepath.Join(testenv.RepoRoot(), "charts", "hookwarden")

// receiverValues are everything's receiver values: its own flags and
// variables in the split layout only (the single layout refuses them).
var receiverValues = map[string]map[string]any{"single": {}, "split": {"extraArgs": []any{"--receiver-max-inflight=1024"},
	"extraEnv": []any{map[string]any{"name": "HOOKWARDEN_RECEIVER_DEDUPE_SIZE", "value": "1000"}}}}

// extraArgs are the flags everything gives the manager: in the split
// layout a flag of the controller, which refuses the receiver's.
var extraArgs = map[string][]any{"single": {"--receiver-max-inflight=1024"}, "split": {"--max-concurrent-reconciles=64"}}

// everything turns on every optional part of the chart, in the given
// layout.
func everything(layout string) map[string]any {
	return map[string]any{
		"layout":             layout,
		"publicURL":          "https://hooks.example.com",
		"githubURL":          "https://github.example.com/api/v3/",
		"watchNamespaces":    []any{"team-a", "team-b"},
		"extraCA":            map[string]any{"pem": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"},
		"extraArgs":          extraArgs[layout],
		"allowedSourceCIDRs": "github",
		"receiver":           receiverValues[layout],
		"ingress": map[string]any{"enabled": true, "className": "nginx",
			"tls": []any{map[string]any{"hosts": []any{"hooks.example.com"}, "secretName": "receiver-tls"}}},
		"httpRoute": map[string]any{"enabled": true,
			"parentRefs": []any{map[string]any{"name": "public", "namespace": "gateway-system"}}},
		"metrics": map[string]any{"serviceMonitor": map[string]any{"enabled": true},
			"prometheusRule": map[string]any{"enabled": true}, "dashboard": map[string]any{"enabled": true}},
		"networkPolicy": map[string]any{"enabled": true, "egress": map[string]any{
			"apiServerCIDRs": []any{"10.96.0.1/32"}, "githubCIDRs": []any{"140.82.112.0/20"}}},
	}
}

func TestChartLints(t *testing.T) {
	for name, values := range map[string]map[string]any{"defaults": nil, "everything": everything("single"), "everything split": everything("split")} {
		t.Run(name, func(t *testing.T) {
			result := lint.RunAll(chartDir, values, namespace)
			for _, m := range result.Messages {
				// Helm's informational notes (such as a missing icon) are not
				// problems of the chart.
				if m.Severity > support.InfoSev {
					t.Error(m)
				}
			}
		})
	}
}

// render renders the chart as `helm template hookwarden -n
// hookwarden-system` does, in a stable order.
func render(t *testing.T, values map[string]any) ([]*unstructured.Unstructured, error) {
	t.Helper()
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatalf("load the chart: %v", err)
	}
	vals, err := util.ToRenderValues(ch, values, common.ReleaseOptions{
		Name: release, Namespace: namespace, Revision: 1, IsInstall: true,
	}, common.DefaultCapabilities)
	if err != nil {
		return nil, err
	}
	files, err := engine.Render(ch, vals)
	if err != nil {
		return nil, err
	}
	var objs []*unstructured.Unstructured
	for _, name := range slices.Sorted(maps.Keys(files)) {
		if !strings.HasSuffix(name, ".yaml") {
			continue
		}
		docs, err := installer.Objects([]byte(files[name]))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		objs = append(objs, docs...)
	}
	return objs, nil
}

func mustRender(t *testing.T, values map[string]any) []*unstructured.Unstructured {
	t.Helper()
	objs, err := render(t, values)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	return objs
}

func key(o *unstructured.Unstructured) string {
	return fmt.Sprintf("%s %s/%s", o.GetKind(), o.GetNamespace(), o.GetName())
}

// helmOnly are the labels and annotations Helm's conventions add that
// kustomize's do not: what the release is, not what is installed.
var helmOnly = []string{"helm.sh/chart", "app.kubernetes.io/managed-by", "app.kubernetes.io/instance",
	"app.kubernetes.io/version", "helm.sh/resource-policy"}

// comparable strips what legitimately differs between the chart and
// config/default: Helm's release labels, the image (a release's image in the
// chart, the locally built one in config/default), and comments.
func comparable(o *unstructured.Unstructured) map[string]any {
	c := o.DeepCopy()
	for _, k := range helmOnly {
		labels, annotations := c.GetLabels(), c.GetAnnotations()
		delete(labels, k)
		delete(annotations, k)
		c.SetLabels(labels)
		c.SetAnnotations(annotations)
	}
	if len(c.GetLabels()) == 0 {
		unstructured.RemoveNestedField(c.Object, "metadata", "labels")
	}
	if len(c.GetAnnotations()) == 0 {
		unstructured.RemoveNestedField(c.Object, "metadata", "annotations")
	}
	if c.GetKind() == "Deployment" {
		containers, _, _ := unstructured.NestedSlice(c.Object, "spec", "template", "spec", "containers")
		for _, ctr := range containers {
			delete(ctr.(map[string]any), "image")
		}
		_ = unstructured.SetNestedSlice(c.Object, containers, "spec", "template", "spec", "containers")
	}
	return c.Object
}

// TestChartInstallsWhatConfigInstalls holds the chart and config/ together:
// its defaults install what config/default installs, and with the
// monitoring values on it adds what the config/monitoring component adds.
// The same objects, names and content, apart from Helm's release labels,
// the image, and the Namespace (Helm installs into a namespace it does not
// own: docs/install.md says how to label it for the restricted Pod Security
// Standard).
func TestChartInstallsWhatConfigInstalls(t *testing.T) {
	root := testenv.RepoRoot()
	for name, tc := range map[string]struct {
		values     map[string]any
		kustomized []string // resources, then components
		// skip: kinds config/ always installs that the chart renders only
		// with values it cannot guess (the split layout's NetworkPolicies
		// need the cluster's CIDRs in the chart).
		skip string
	}{
		"defaults": {values: nil, kustomized: []string{"config/default"}},
		"split":    {values: map[string]any{"layout": "split"}, kustomized: []string{"config/split"}, skip: "NetworkPolicy"},
		"monitoring": {
			values: map[string]any{"metrics": map[string]any{
				"serviceMonitor": map[string]any{"enabled": true},
				"prometheusRule": map[string]any{"enabled": true},
				"dashboard":      map[string]any{"enabled": true},
			}},
			kustomized: []string{"config/default", "config/monitoring"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			overlay := t.TempDir()
			rel := func(dir string) string {
				r, err := filepath.Rel(overlay, filepath.Join(root, dir))
				if err != nil {
					t.Fatal(err)
				}
				return r
			}
			kustomization := "resources:\n- " + rel(tc.kustomized[0]) + "\n"
			if len(tc.kustomized) > 1 {
				kustomization += "components:\n- " + rel(tc.kustomized[1]) + "\n"
			}
			if err := os.WriteFile(filepath.Join(overlay, "kustomization.yaml"), []byte(kustomization), 0o600); err != nil {
				t.Fatal(err)
			}
			manifests, err := installer.Render(overlay, "")
			if err != nil {
				t.Fatal(err)
			}
			fromKustomize, err := installer.Objects(manifests)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]*unstructured.Unstructured{}
			for _, o := range fromKustomize {
				if o.GetKind() != "Namespace" && o.GetKind() != tc.skip {
					want[key(o)] = o
				}
			}
			got := map[string]*unstructured.Unstructured{}
			for _, o := range mustRender(t, tc.values) {
				got[key(o)] = o
			}
			for _, k := range slices.Sorted(maps.Keys(want)) {
				g, ok := got[k]
				if !ok {
					t.Errorf("%s installs %s; the chart does not", strings.Join(tc.kustomized, " + "), k)
					continue
				}
				if diff := diffObjects("", comparable(want[k]), comparable(g)); diff != "" {
					t.Errorf("%s differs between %s and the chart:\n%s", k, strings.Join(tc.kustomized, " + "), diff)
				}
			}
			for _, k := range slices.Sorted(maps.Keys(got)) {
				if _, ok := want[k]; !ok {
					t.Errorf("the chart installs %s; %s does not", k, strings.Join(tc.kustomized, " + "))
				}
			}
		})
	}
}

// diffObjects lists the paths where a (config/default) and b (the chart)
// differ.
func diffObjects(path string, a, b any) string {
	switch av := a.(type) {
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s: %v vs %v\n", path, a, b)
		}
		var out strings.Builder
		keys := slices.Collect(maps.Keys(av))
		for k := range bv {
			if _, ok := av[k]; !ok {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			out.WriteString(diffObjects(path+"."+k, av[k], bv[k]))
		}
		return out.String()
	case []any:
		bv, ok := b.([]any)
		if !ok || len(av) != len(bv) {
			return fmt.Sprintf("%s: %v vs %v\n", path, a, b)
		}
		var out strings.Builder
		for i := range av {
			out.WriteString(diffObjects(fmt.Sprintf("%s[%d]", path, i), av[i], bv[i]))
		}
		return out.String()
	default:
		if fmt.Sprint(a) != fmt.Sprint(b) {
			return fmt.Sprintf("%s: %v vs %v\n", path, a, b)
		}
		return ""
	}
}

// TestChartRendersEveryOption checks what each value changes in the output.
func TestChartRendersEveryOption(t *testing.T) {
	objs := mustRender(t, everything("single"))
	byKey := map[string]*unstructured.Unstructured{}
	for _, o := range objs {
		byKey[key(o)] = o
	}
	for _, k := range []string{
		"Ingress hookwarden-system/hookwarden-receiver",
		"HTTPRoute hookwarden-system/hookwarden-receiver",
		"ServiceMonitor hookwarden-system/hookwarden",
		"PrometheusRule hookwarden-system/hookwarden",
		"ConfigMap hookwarden-system/hookwarden-dashboard",
		"NetworkPolicy hookwarden-system/hookwarden-manager",
		"ConfigMap hookwarden-system/hookwarden-extra-ca",
		"RoleBinding team-a/hookwarden-manager-rolebinding",
		"RoleBinding team-b/hookwarden-manager-rolebinding",
	} {
		if byKey[k] == nil {
			t.Errorf("no %s", k)
		}
	}
	if byKey["ClusterRoleBinding /hookwarden-manager-rolebinding"] != nil {
		t.Error("watchNamespaces set, yet the manager's role is still granted cluster-wide")
	}
	dep := byKey["Deployment hookwarden-system/hookwarden-controller-manager"]
	if dep == nil {
		t.Fatal("no Deployment")
	}
	containers, _, _ := unstructured.NestedSlice(dep.Object, "spec", "template", "spec", "containers")
	manager := containers[0].(map[string]any)
	args := fmt.Sprint(manager["args"])
	for _, want := range []string{"--github-url=https://github.example.com/api/v3/", "--watch-namespaces=team-a,team-b", "--receiver-max-inflight=1024"} {
		if !strings.Contains(args, want) {
			t.Errorf("args %s lack %s", args, want)
		}
	}
	env := fmt.Sprint(manager["env"])
	for _, want := range []string{"HOOKWARDEN_PUBLIC_URL value:https://hooks.example.com", "SSL_CERT_DIR value:/etc/ssl/certs:/etc/hookwarden/extra-ca",
		"HOOKWARDEN_ALLOWED_SOURCE_CIDRS value:github"} {
		if !strings.Contains(env, want) {
			t.Errorf("env %s lacks %s", env, want)
		}
	}
}

// TestChartSplitGivesEachProcessItsFlags: in the split layout the
// controller gets none of the receiver's flags (it would refuse them) and
// the receiver gets what it reads of the shared values and its own extra
// flags and variables. (The defaults are those of config/split, whose
// flags cmd/hookwarden's tests parse.)
func TestChartSplitGivesEachProcessItsFlags(t *testing.T) {
	byKey := map[string]*unstructured.Unstructured{}
	for _, o := range mustRender(t, everything("split")) {
		byKey[key(o)] = o
	}
	container := func(name string) (args, env string) {
		t.Helper()
		dep := byKey["Deployment hookwarden-system/"+name]
		if dep == nil {
			t.Fatalf("no Deployment %s", name)
		}
		containers, _, _ := unstructured.NestedSlice(dep.Object, "spec", "template", "spec", "containers")
		c := containers[0].(map[string]any)
		return fmt.Sprint(c["args"]), fmt.Sprint(c["env"])
	}
	args, env := container("hookwarden-controller-manager")
	for _, refused := range []string{"--receiver-bind-address", "--receiver-max-inflight", "--trusted-proxies", "--allowed-source-cidrs", "HOOKWARDEN_TRUSTED_PROXIES", "HOOKWARDEN_RECEIVER_DEDUPE_SIZE"} {
		if strings.Contains(args+env, refused) {
			t.Errorf("the controller is given %s, which only the receiver reads: args %s, env %s", refused, args, env)
		}
	}
	if !strings.Contains(args, "--max-concurrent-reconciles=64") {
		t.Errorf("the controller's args %s lack its extraArgs", args)
	}
	args, env = container("hookwarden-receiver")
	for _, want := range []string{"--components=receiver", "--github-url=https://github.example.com/api/v3/", "--watch-namespaces=team-a,team-b", "--receiver-max-inflight=1024"} {
		if !strings.Contains(args, want) {
			t.Errorf("the receiver's args %s lack %s", args, want)
		}
	}
	if strings.Contains(args, "--max-concurrent-reconciles") {
		t.Errorf("the receiver is given the controller's extraArgs: %s", args)
	}
	for _, want := range []string{"HOOKWARDEN_TRUSTED_PROXIES", "HOOKWARDEN_RECEIVER_DEDUPE_SIZE value:1000", "HOOKWARDEN_ALLOWED_SOURCE_CIDRS value:github"} {
		if !strings.Contains(env, want) {
			t.Errorf("the receiver's env %s lacks %s", env, want)
		}
	}
}

// TestChartSplitReceiverReachesGitHubOnlyForItsMeta: with the
// NetworkPolicies, the split layout's receiver may reach GitHub (its
// /meta) only when allowedSourceCIDRs is github.
func TestChartSplitReceiverReachesGitHubOnlyForItsMeta(t *testing.T) {
	for _, allowed := range []string{"github", "192.30.252.0/22", ""} {
		values := everything("split")
		values["allowedSourceCIDRs"] = allowed
		var policy *unstructured.Unstructured
		for _, o := range mustRender(t, values) {
			if key(o) == "NetworkPolicy hookwarden-system/hookwarden-receiver" {
				policy = o
			}
		}
		if policy == nil {
			t.Fatal("no NetworkPolicy for the receiver")
		}
		egress, _, _ := unstructured.NestedSlice(policy.Object, "spec", "egress")
		reaches := strings.Contains(fmt.Sprint(egress), "140.82.112.0/20")
		if want := allowed == "github"; reaches != want {
			t.Errorf("allowedSourceCIDRs %q: the receiver may reach GitHub: %v, want %v (egress %v)", allowed, reaches, want, egress)
		}
	}
}

// TestChartRefusesIncompleteValues: a value the chart cannot do without
// gets a message that says what to set.
func TestChartRefusesIncompleteValues(t *testing.T) {
	for name, tc := range map[string]struct {
		values map[string]any
		want   string
	}{
		"network policy without the API server": {
			map[string]any{"networkPolicy": map[string]any{"enabled": true}},
			"networkPolicy.egress.apiServerCIDRs is required"},
		"network policy without GitHub": {
			map[string]any{"networkPolicy": map[string]any{"enabled": true, "egress": map[string]any{"apiServerCIDRs": []any{"10.0.0.1/32"}}}},
			"networkPolicy.egress.githubCIDRs is required"},
		"an unknown layout": {
			map[string]any{"layout": "both"},
			"set it to single (one Deployment) or split"},
		"the split receiver's flags in the single layout": {
			map[string]any{"receiver": map[string]any{"extraArgs": []any{"--receiver-max-inflight=1024"}}},
			"receiver.extraArgs and receiver.extraEnv are for layout: split"},
		"route without a Gateway": {
			map[string]any{"httpRoute": map[string]any{"enabled": true}},
			"httpRoute.parentRefs is required"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := render(t, tc.values)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("render error %v, want one saying %q", err, tc.want)
			}
		})
	}
}

// TestChartIsAdmittedByTheAPIServer applies what the chart renders, with
// every option on, with server-side dry-run to a real API server. The
// Prometheus Operator's and the Gateway API's CRDs are not part of the
// test control plane: their kinds are admitted against stand-in CRDs that
// accept any spec, so for those two only the names, namespaces and
// metadata are checked by the server (TestChartRendersEveryOption checks
// their content).
func TestChartIsAdmittedByTheAPIServer(t *testing.T) {
	env := testenv.StartForTest(t)
	if err := apiextensionsv1.AddToScheme(env.Scheme); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c := env.Client
	for _, ns := range []string{namespace, "team-a", "team-b"} {
		obj := &unstructured.Unstructured{}
		obj.SetAPIVersion("v1")
		obj.SetKind("Namespace")
		obj.SetName(ns)
		if err := c.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	for _, crd := range []struct{ group, kind, plural string }{
		{"monitoring.coreos.com", "ServiceMonitor", "servicemonitors"},
		{"monitoring.coreos.com", "PrometheusRule", "prometheusrules"},
		{"gateway.networking.k8s.io", "HTTPRoute", "httproutes"},
	} {
		if err := c.Create(ctx, standInCRD(crd.group, crd.kind, crd.plural)); err != nil {
			t.Fatal(err)
		}
	}
	testenv.Eventually(t, 30*time.Second, "stand-in CRDs served", func() error {
		for kind, apiVersion := range map[string]string{"ServiceMonitor": "monitoring.coreos.com/v1",
			"PrometheusRule": "monitoring.coreos.com/v1", "HTTPRoute": "gateway.networking.k8s.io/v1"} {
			list := &unstructured.UnstructuredList{}
			list.SetAPIVersion(apiVersion)
			list.SetKind(kind + "List")
			if err := c.List(ctx, list, client.InNamespace(namespace)); err != nil {
				return err
			}
		}
		return nil
	})
	for name, values := range map[string]map[string]any{"defaults": nil, "everything": everything("single"), "everything split": everything("split")} {
		t.Run(name, func(t *testing.T) {
			if err := installer.Apply(ctx, c, mustRender(t, values), true); err != nil {
				t.Error(err)
			}
		})
	}
}

// standInCRD accepts any spec of a kind whose real CRD this control plane
// does not have.
func standInCRD(group, kind, plural string) *apiextensionsv1.CustomResourceDefinition {
	preserve := true
	crd := &apiextensionsv1.CustomResourceDefinition{}
	crd.Name = plural + "." + group
	// The API server wants groups under k8s.io approved: the stand-in
	// says where the real one comes from.
	crd.Annotations = map[string]string{"api-approved.kubernetes.io": "https://github.com/kubernetes-sigs/gateway-api/pull/1538"}
	crd.Spec = apiextensionsv1.CustomResourceDefinitionSpec{
		Group: group,
		Names: apiextensionsv1.CustomResourceDefinitionNames{Kind: kind, ListKind: kind + "List", Plural: plural, Singular: strings.ToLower(kind)},
		Scope: apiextensionsv1.NamespaceScoped,
		Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
			Name: "v1", Served: true, Storage: true,
			Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
				Type: "object", XPreserveUnknownFields: &preserve,
			}},
		}},
	}
	return crd
}
