package installer_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/hookwarden/hookwarden/internal/installer"
	"github.com/hookwarden/hookwarden/internal/testenv"
)

const (
	namespace      = "hookwarden-system"
	deploymentName = "hookwarden-controller-manager"
	serviceAccount = "hookwarden-controller-manager"
	// An image with a registry port, to check that the tag is split after it.
	testImage = "localhost:5000/acme/hookwarden:v1.2.3"
)

// TestInstallManifests renders config/default as `make build-installer`
// does, server-side applies every object to a real API server (first as a
// dry run, then for real) and checks what a cluster administrator would see.
// The control plane starts without CRDs: the manifests must install them.
func TestInstallManifests(t *testing.T) {
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run the tests with 'make test', or export KUBEBUILDER_ASSETS=$(make -s envtest)")
	}
	env := &envtest.Environment{BinaryAssetsDirectory: assets}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("start control plane: %v", err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	scheme := testenv.NewScheme()
	if err := apiextensionsv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	manifests, err := installer.Render(filepath.Join(testenv.RepoRoot(), "config", "default"), testImage)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := installer.Objects(manifests)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("contents", func(t *testing.T) {
		want := []string{
			"Namespace//hookwarden-system",
			"CustomResourceDefinition//githubintegrations.integrations.hookwarden.io",
			"CustomResourceDefinition//githubissues.integrations.hookwarden.io",
			"ServiceAccount/hookwarden-system/hookwarden-controller-manager",
			"ClusterRole//hookwarden-manager-role",
			"ClusterRoleBinding//hookwarden-manager-rolebinding",
			"Role/hookwarden-system/hookwarden-leader-election-role",
			"RoleBinding/hookwarden-system/hookwarden-leader-election-rolebinding",
			"Service/hookwarden-system/hookwarden-receiver",
			"Service/hookwarden-system/hookwarden-metrics",
			"Deployment/hookwarden-system/hookwarden-controller-manager",
			"PodDisruptionBudget/hookwarden-system/hookwarden-controller-manager",
		}
		var got []string
		for _, o := range objs {
			got = append(got, fmt.Sprintf("%s/%s/%s", o.GetKind(), o.GetNamespace(), o.GetName()))
		}
		for _, w := range want {
			if !slices.Contains(got, w) {
				t.Errorf("install.yaml has no %s; it has:\n%s", w, strings.Join(got, "\n"))
			}
		}
		// kubectl apply -f dist/install.yaml goes top to bottom: the
		// Namespace and the CRDs must come before what lives in them.
		if len(got) < 3 || got[0] != want[0] || !strings.HasPrefix(got[1], "CustomResourceDefinition/") || !strings.HasPrefix(got[2], "CustomResourceDefinition/") {
			t.Errorf("install.yaml starts with %v, want the Namespace then the CRDs", got[:min(3, len(got))])
		}
		for _, o := range objs {
			if strings.Contains(o.GetName(), "hookwarden-hookwarden") {
				t.Errorf("%s %s: name prefixed twice", o.GetKind(), o.GetName())
			}
		}
	})

	// The API server only admits a namespaced object into a namespace that
	// exists, so the cluster-scoped objects (Namespace, CRDs, ClusterRoles)
	// go first: dry run, real apply, then the same for the rest.
	var clusterScoped, namespaced []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetNamespace() == "" {
			clusterScoped = append(clusterScoped, o)
		} else {
			namespaced = append(namespaced, o)
		}
	}
	if err := installer.Apply(ctx, c, clusterScoped, true); err != nil {
		t.Fatalf("server-side dry run of the cluster-scoped objects: %v", err)
	}
	if err := c.Get(ctx, client.ObjectKey{Name: namespace}, &corev1.Namespace{}); !apierrors.IsNotFound(err) {
		t.Fatalf("after a dry run, namespace %s: want NotFound, got %v", namespace, err)
	}
	if err := installer.Apply(ctx, c, clusterScoped, false); err != nil {
		t.Fatalf("apply the cluster-scoped objects: %v", err)
	}
	if err := installer.Apply(ctx, c, namespaced, true); err != nil {
		t.Fatalf("server-side dry run of the namespaced objects: %v", err)
	}
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: deploymentName}, &appsv1.Deployment{}); !apierrors.IsNotFound(err) {
		t.Fatalf("after a dry run, deployment: want NotFound, got %v", err)
	}
	if err := installer.Apply(ctx, c, namespaced, false); err != nil {
		t.Fatalf("apply the namespaced objects: %v", err)
	}
	// Applying the same manifests again changes nothing and fails nothing,
	// as a re-run of kubectl apply or an Argo CD sync does.
	if err := installer.Apply(ctx, c, objs, false); err != nil {
		t.Fatalf("apply a second time: %v", err)
	}

	t.Run("CRDs are established", func(t *testing.T) {
		for _, name := range []string{"githubintegrations.integrations.hookwarden.io", "githubissues.integrations.hookwarden.io"} {
			if err := waitFor(ctx, func() (bool, error) {
				crd := &apiextensionsv1.CustomResourceDefinition{}
				if err := c.Get(ctx, client.ObjectKey{Name: name}, crd); err != nil {
					return false, err
				}
				for _, cond := range crd.Status.Conditions {
					if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
						return true, nil
					}
				}
				return false, nil
			}); err != nil {
				t.Errorf("CRD %s not established: %v", name, err)
			}
		}
	})

	dep := &appsv1.Deployment{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: deploymentName}, dep); err != nil {
		t.Fatal(err)
	}

	t.Run("deployment", func(t *testing.T) {
		if got := ptr.Deref(dep.Spec.Replicas, 0); got != 2 {
			t.Errorf("replicas = %d, want 2", got)
		}
		pod := dep.Spec.Template.Spec
		if pod.ServiceAccountName != serviceAccount {
			t.Errorf("serviceAccountName = %q, want %q", pod.ServiceAccountName, serviceAccount)
		}
		psc := pod.SecurityContext
		if psc == nil || !ptr.Deref(psc.RunAsNonRoot, false) || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Errorf("pod securityContext = %+v, want runAsNonRoot and seccomp RuntimeDefault", psc)
		}
		if len(pod.Containers) != 1 {
			t.Fatalf("containers = %d, want 1", len(pod.Containers))
		}
		mgr := pod.Containers[0]
		if mgr.Image != testImage {
			t.Errorf("image = %q, want %q (IMG)", mgr.Image, testImage)
		}
		if !slices.Contains(mgr.Args, "--leader-elect") {
			t.Errorf("args %v lack --leader-elect", mgr.Args)
		}
		sc := mgr.SecurityContext
		if sc == nil || ptr.Deref(sc.AllowPrivilegeEscalation, true) || !ptr.Deref(sc.ReadOnlyRootFilesystem, false) ||
			sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
			t.Errorf("container securityContext = %+v, want no privilege escalation, read-only root filesystem, drop ALL", sc)
		}
		ports := map[string]int32{}
		for _, p := range mgr.Ports {
			ports[p.Name] = p.ContainerPort
		}
		if want := map[string]int32{"receiver": 9292, "metrics": 8080, "health": 8081}; !mapsEqual(ports, want) {
			t.Errorf("ports = %v, want %v", ports, want)
		}
		for name, probe := range map[string]*corev1.Probe{"/healthz": mgr.LivenessProbe, "/readyz": mgr.ReadinessProbe} {
			if probe == nil || probe.HTTPGet == nil || probe.HTTPGet.Path != name || probe.HTTPGet.Port != intstr.FromString("health") {
				t.Errorf("probe %s = %+v, want HTTP GET %s on port health (8081)", name, probe, name)
			}
		}
		if mgr.Resources.Requests.Cpu().IsZero() || mgr.Resources.Requests.Memory().IsZero() || mgr.Resources.Limits.Memory().IsZero() {
			t.Errorf("resources = %+v, want cpu and memory requests and a memory limit", mgr.Resources)
		}
		var publicURL bool
		for _, e := range mgr.Env {
			publicURL = publicURL || e.Name == "HOOKWARDEN_PUBLIC_URL"
		}
		if !publicURL {
			t.Errorf("env %v lacks HOOKWARDEN_PUBLIC_URL", mgr.Env)
		}
	})

	t.Run("pod passes the restricted pod security standard", func(t *testing.T) {
		ns := &corev1.Namespace{}
		if err := c.Get(ctx, client.ObjectKey{Name: namespace}, ns); err != nil {
			t.Fatal(err)
		}
		if ns.Labels["pod-security.kubernetes.io/enforce"] != "restricted" {
			t.Fatalf("namespace labels = %v, want pod-security.kubernetes.io/enforce=restricted", ns.Labels)
		}
		// The API server's PodSecurity admission judges the pod the
		// Deployment would create.
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: namespace, GenerateName: "manager-", Labels: dep.Spec.Template.Labels},
			Spec:       *dep.Spec.Template.Spec.DeepCopy(),
		}
		if err := c.Create(ctx, pod, client.DryRunAll); err != nil {
			t.Errorf("manager pod rejected: %v", err)
		}
		// The same pod running as root must be refused: the check above
		// really was enforced.
		root := &corev1.Pod{ObjectMeta: pod.ObjectMeta, Spec: *dep.Spec.Template.Spec.DeepCopy()}
		root.Spec.SecurityContext.RunAsNonRoot = ptr.To(false)
		root.Spec.SecurityContext.RunAsUser = ptr.To[int64](0)
		root.Spec.Containers[0].SecurityContext.RunAsNonRoot = nil
		if err := c.Create(ctx, root, client.DryRunAll); err == nil || !strings.Contains(err.Error(), "restricted") {
			t.Errorf("a root pod in %s: want a restricted pod security refusal, got %v", namespace, err)
		}
	})

	t.Run("services and PDB select the manager pods", func(t *testing.T) {
		podLabels := dep.Spec.Template.Labels
		for name, want := range map[string]struct {
			port   int32
			target string
		}{"hookwarden-receiver": {80, "receiver"}, "hookwarden-metrics": {8080, "metrics"}} {
			svc := &corev1.Service{}
			if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, svc); err != nil {
				t.Fatal(err)
			}
			if !selects(svc.Spec.Selector, podLabels) {
				t.Errorf("service %s selector %v does not select pods labelled %v", name, svc.Spec.Selector, podLabels)
			}
			if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != want.port || svc.Spec.Ports[0].TargetPort != intstr.FromString(want.target) {
				t.Errorf("service %s ports = %+v, want %d -> %s", name, svc.Spec.Ports, want.port, want.target)
			}
		}
		pdb := &policyv1.PodDisruptionBudget{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: deploymentName}, pdb); err != nil {
			t.Fatal(err)
		}
		if pdb.Spec.MinAvailable == nil || *pdb.Spec.MinAvailable != intstr.FromInt32(1) {
			t.Errorf("PDB minAvailable = %v, want 1", pdb.Spec.MinAvailable)
		}
		if pdb.Spec.Selector == nil || !selects(pdb.Spec.Selector.MatchLabels, podLabels) {
			t.Errorf("PDB selector %v does not select pods labelled %v", pdb.Spec.Selector, podLabels)
		}
	})

	t.Run("service account is bound to its roles", func(t *testing.T) {
		user := "system:serviceaccount:" + namespace + ":" + serviceAccount
		for _, tc := range []struct {
			attrs authorizationv1.ResourceAttributes
			want  bool
		}{
			{authorizationv1.ResourceAttributes{Group: "integrations.hookwarden.io", Resource: "githubintegrations", Verb: "watch"}, true},
			{authorizationv1.ResourceAttributes{Group: "integrations.hookwarden.io", Resource: "githubintegrations", Subresource: "status", Verb: "patch", Namespace: "team-a"}, true},
			{authorizationv1.ResourceAttributes{Group: "coordination.k8s.io", Resource: "leases", Verb: "update", Namespace: namespace}, true},
			// The election lease lives in the manager's namespace only.
			{authorizationv1.ResourceAttributes{Group: "coordination.k8s.io", Resource: "leases", Verb: "update", Namespace: "team-a"}, false},
			{authorizationv1.ResourceAttributes{Group: "apps", Resource: "deployments", Verb: "update", Namespace: namespace}, false},
		} {
			sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{User: user, ResourceAttributes: &tc.attrs}}
			if err := c.Create(ctx, sar); err != nil {
				t.Fatal(err)
			}
			if sar.Status.Allowed != tc.want {
				t.Errorf("%s %s/%s in %q: allowed = %v, want %v", tc.attrs.Verb, tc.attrs.Resource, tc.attrs.Subresource, tc.attrs.Namespace, sar.Status.Allowed, tc.want)
			}
		}
	})

	for _, sample := range []string{"ingress/ingress-nginx.yaml", "networkpolicy/networkpolicy.yaml"} {
		t.Run(sample+" is accepted", func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "samples", sample))
			if err != nil {
				t.Fatal(err)
			}
			samples, err := installer.Objects(data)
			if err != nil {
				t.Fatal(err)
			}
			if err := installer.Apply(ctx, c, samples, true); err != nil {
				t.Errorf("server-side dry run of %s: %v", sample, err)
			}
			for _, o := range samples {
				if o.GetKind() != "NetworkPolicy" {
					continue
				}
				// The policy must apply to the manager's pods, or it
				// protects nothing.
				podSelector, _, _ := unstructured.NestedStringMap(o.Object, "spec", "podSelector", "matchLabels")
				if !selects(podSelector, dep.Spec.Template.Labels) {
					t.Errorf("NetworkPolicy %s selects %v, not the manager's pods %v", o.GetName(), podSelector, dep.Spec.Template.Labels)
				}
			}
		})
	}
}

func waitFor(ctx context.Context, cond func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		ok, err := cond()
		if ok || err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func mapsEqual(a, b map[string]int32) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
