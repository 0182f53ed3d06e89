// Package argocd tests the Argo CD health check shipped in health.lua on
// GitHubIntegrations read back from a real API server.
package argocd

import (
	"context"
	_ "embed"
	"os"
	"strings"
	"testing"
	"time"

	kstatus "github.com/fluxcd/cli-utils/pkg/kstatus/status"
	lua "github.com/yuin/gopher-lua"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/hookwarden/hookwarden/api/v1alpha1"
	"github.com/hookwarden/hookwarden/internal/testenv"
)

//go:embed health.lua
var healthLua string

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env) }

// Health is what Argo CD shows for a resource.
type Health struct {
	Status  string
	Message string
}

// argoHealthStatuses are the statuses Argo CD accepts from a health script;
// anything else it shows as Unknown.
var argoHealthStatuses = map[string]bool{"Healthy": true, "Progressing": true, "Degraded": true, "Suspended": true, "Missing": true, "Unknown": true}

// evaluate runs script as Argo CD's controller does: gopher-lua with only
// the package, base and table libraries, the object as the global obj
// (numbers as Lua numbers), a one-second limit, and the returned table read
// as {status, message}.
func evaluate(t *testing.T, script string, obj *unstructured.Unstructured) Health {
	t.Helper()
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for name, open := range map[string]lua.LGFunction{lua.LoadLibName: lua.OpenPackage, lua.BaseLibName: lua.OpenBase, lua.TabLibName: lua.OpenTable} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(open), Protect: true}, lua.LString(name)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("obj", toLua(l, obj.Object))
	if err := l.DoString(script); err != nil {
		t.Fatalf("health.lua failed: %v", err)
	}
	ret, ok := l.Get(-1).(*lua.LTable)
	if !ok {
		t.Fatalf("health.lua returned %s, want a table", l.Get(-1).Type())
	}
	h := Health{Status: lua.LVAsString(ret.RawGetString("status")), Message: lua.LVAsString(ret.RawGetString("message"))}
	if !argoHealthStatuses[h.Status] {
		t.Fatalf("health.lua returned status %q, which Argo CD shows as Unknown", h.Status)
	}
	return h
}

// toLua converts an unstructured value the way Argo CD hands objects to Lua.
func toLua(l *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case bool:
		return lua.LBool(v)
	case string:
		return lua.LString(v)
	case int64:
		return lua.LNumber(v)
	case int32:
		return lua.LNumber(v)
	case int:
		return lua.LNumber(v)
	case float64:
		return lua.LNumber(v)
	case []any:
		t := l.CreateTable(len(v), 0)
		for _, item := range v {
			t.Append(toLua(l, item))
		}
		return t
	case map[string]any:
		t := l.CreateTable(0, len(v))
		for k, item := range v {
			t.RawSetH(lua.LString(k), toLua(l, item))
		}
		return t
	}
	return lua.LNil
}

func condition(typ string, status metav1.ConditionStatus, reason, message string) metav1.Condition {
	return metav1.Condition{Type: typ, Status: status, Reason: reason, Message: message, LastTransitionTime: metav1.Now()}
}

// TestHealthOfRealObjects creates GitHubIntegrations, puts their status into
// the situations hookwarden reports, reads them back from the API server as
// Argo CD does (unstructured) and checks the health Argo CD would show.
// Where kstatus has an opinion, it must agree.
func TestHealthOfRealObjects(t *testing.T) {
	ctx := context.Background()
	ns := env.NewNamespace(t, "argocd-health")

	for _, tc := range []struct {
		name string
		// change edits the object before its status is written (spec
		// changes bump the generation); status fills the status.
		change  func(*v1alpha1.GitHubIntegration)
		status  func(*v1alpha1.GitHubIntegration)
		deleted bool
		want    string
		message string
		kstatus kstatus.Status // empty: kstatus is not asked
	}{
		{
			name:    "new object, not reconciled yet",
			want:    "Progressing",
			message: "Waiting for hookwarden to reconcile generation 1",
			// kstatus calls an object without observedGeneration Current.
		},
		{
			name: "ready",
			status: func(g *v1alpha1.GitHubIntegration) {
				g.Status.ObservedGeneration = g.Generation
				g.Status.Conditions = []metav1.Condition{
					condition(v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonSucceeded, "2 hooks registered"),
				}
			},
			want:    "Healthy",
			message: "Ready=True (Succeeded): 2 hooks registered",
			kstatus: kstatus.CurrentStatus,
		},
		{
			name: "reconciling",
			status: func(g *v1alpha1.GitHubIntegration) {
				g.Status.ObservedGeneration = g.Generation
				g.Status.Conditions = []metav1.Condition{
					condition(v1alpha1.ConditionReady, metav1.ConditionUnknown, v1alpha1.ReasonProgressing, "Registering hooks"),
					condition(v1alpha1.ConditionReconciling, metav1.ConditionTrue, v1alpha1.ReasonProgressing, "Creating the hook of acme/web"),
				}
			},
			want:    "Progressing",
			message: "Reconciling=True (Progressing): Creating the hook of acme/web",
			kstatus: kstatus.InProgressStatus,
		},
		{
			name: "stalled",
			status: func(g *v1alpha1.GitHubIntegration) {
				g.Status.ObservedGeneration = g.Generation
				g.Status.Conditions = []metav1.Condition{
					condition(v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonInvalidSecret, "key webhook_secret is shorter than 16 characters"),
					condition(v1alpha1.ConditionStalled, metav1.ConditionTrue, v1alpha1.ReasonInvalidSecret, "key webhook_secret is shorter than 16 characters"),
				}
			},
			want:    "Degraded",
			message: "Stalled=True (InvalidSecret): key webhook_secret is shorter than 16 characters",
			kstatus: kstatus.FailedStatus,
		},
		{
			name: "waiting for GitHub's rate limit",
			status: func(g *v1alpha1.GitHubIntegration) {
				g.Status.ObservedGeneration = g.Generation
				g.Status.Conditions = []metav1.Condition{
					condition(v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonRateLimited, "rate limit spent until 2026-01-01T10:00:00Z"),
					condition(v1alpha1.ConditionReconciling, metav1.ConditionTrue, v1alpha1.ReasonRateLimited, "rate limit spent until 2026-01-01T10:00:00Z"),
				}
			},
			want:    "Progressing",
			message: "Reconciling=True (RateLimited): rate limit spent until 2026-01-01T10:00:00Z",
			kstatus: kstatus.InProgressStatus,
		},
		{
			name: "not ready, neither reconciling nor stalled",
			status: func(g *v1alpha1.GitHubIntegration) {
				g.Status.ObservedGeneration = g.Generation
				g.Status.Conditions = []metav1.Condition{
					condition(v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonTargetNotFound, "1 of 2 targets failed (acme/web)"),
					condition(v1alpha1.ConditionStalled, metav1.ConditionFalse, v1alpha1.ReasonTargetNotFound, ""),
				}
			},
			want:    "Degraded",
			message: "Ready=False (TargetNotFound): 1 of 2 targets failed (acme/web)",
		},
		{
			name:   "suspended",
			change: func(g *v1alpha1.GitHubIntegration) { g.Spec.Suspend = true },
			status: func(g *v1alpha1.GitHubIntegration) {
				g.Status.ObservedGeneration = g.Generation
				g.Status.Conditions = []metav1.Condition{
					condition(v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonSuspended, "Suspended"),
				}
			},
			want:    "Suspended",
			message: "spec.suspend is true",
		},
		{
			name:   "spec changed since the last reconcile",
			change: func(g *v1alpha1.GitHubIntegration) { g.Spec.Events = []string{"push"} },
			status: func(g *v1alpha1.GitHubIntegration) {
				g.Status.ObservedGeneration = g.Generation - 1
				g.Status.Conditions = []metav1.Condition{
					condition(v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonSucceeded, "1 hook registered"),
				}
			},
			want:    "Progressing",
			message: "Waiting for hookwarden to reconcile generation 2 (observed 1)",
			kstatus: kstatus.InProgressStatus,
		},
		{
			name: "being deleted",
			status: func(g *v1alpha1.GitHubIntegration) {
				g.Status.ObservedGeneration = g.Generation
				g.Status.Conditions = []metav1.Condition{
					condition(v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonSucceeded, "1 hook registered"),
				}
			},
			deleted: true,
			want:    "Progressing",
			message: "Being deleted",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := &v1alpha1.GitHubIntegration{
				ObjectMeta: metav1.ObjectMeta{GenerateName: "health-", Namespace: ns},
				Spec: v1alpha1.GitHubIntegrationSpec{
					Repositories: []string{"acme/api", "acme/web"},
					SecretRef:    v1alpha1.SecretReference{Name: "github"},
				},
			}
			if tc.deleted {
				// Held by a finalizer, as hookwarden's is while it removes hooks.
				g.Finalizers = []string{"integrations.hookwarden.io/finalizer"}
			}
			if err := env.Client.Create(ctx, g); err != nil {
				t.Fatal(err)
			}
			if tc.change != nil {
				before := g.DeepCopy()
				tc.change(g)
				if err := env.Client.Patch(ctx, g, client.MergeFrom(before)); err != nil {
					t.Fatal(err)
				}
			}
			if tc.status != nil {
				before := g.DeepCopy()
				tc.status(g)
				if err := env.Client.Status().Patch(ctx, g, client.MergeFrom(before)); err != nil {
					t.Fatal(err)
				}
			}
			if tc.deleted {
				if err := env.Client.Delete(ctx, g); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() {
					_ = env.Client.Patch(ctx, g, client.RawPatch("application/merge-patch+json", []byte(`{"metadata":{"finalizers":null}}`)))
				})
			}

			u := &unstructured.Unstructured{}
			u.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind("GitHubIntegration"))
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(g), u); err != nil {
				t.Fatal(err)
			}
			if tc.status != nil {
				if _, found, _ := unstructured.NestedSlice(u.Object, "status", "conditions"); !found {
					t.Fatal("the status written is not on the object read back")
				}
			}

			h := evaluate(t, healthLua, u)
			if h.Status != tc.want || !strings.Contains(h.Message, tc.message) {
				t.Errorf("health = %s %q, want %s with %q", h.Status, h.Message, tc.want, tc.message)
			}
			if tc.kstatus != "" {
				res, err := kstatus.Compute(u)
				if err != nil {
					t.Fatal(err)
				}
				if res.Status != tc.kstatus {
					t.Errorf("kstatus = %s (%s), want %s: health.lua and kstatus disagree", res.Status, res.Message, tc.kstatus)
				}
			}
		})
	}
}

// TestHealthOfAnObjectWithoutStatus covers objects Argo CD may see before
// the API server has defaulted anything: no status, no generation.
func TestHealthOfAnObjectWithoutStatus(t *testing.T) {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "integrations.hookwarden.io/v1alpha1",
		"kind":       "GitHubIntegration",
		"metadata":   map[string]any{"name": "experiments", "namespace": "team-a"},
		"spec":       map[string]any{"repositories": []any{"acme/api"}},
	}}
	if h := evaluate(t, healthLua, u); h.Status != "Progressing" || !strings.Contains(h.Message, "Ready") {
		t.Errorf("health = %s %q, want Progressing waiting for Ready", h.Status, h.Message)
	}
}

// TestDocsCarryTheScript checks that the argocd-cm example in docs/argocd.md
// holds health.lua as shipped, so copying it installs the tested script.
func TestDocsCarryTheScript(t *testing.T) {
	doc, err := os.ReadFile("../argocd.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), "resource.customizations.health.integrations.hookwarden.io_GitHubIntegration: |") {
		t.Fatal("docs/argocd.md does not show the argocd-cm key")
	}
	var indented strings.Builder
	for _, line := range strings.Split(strings.TrimRight(healthLua, "\n"), "\n") {
		if line == "" {
			indented.WriteString("\n")
			continue
		}
		indented.WriteString("    " + line + "\n")
	}
	if !strings.Contains(string(doc), indented.String()) {
		t.Error("docs/argocd.md does not carry docs/argocd/health.lua verbatim (indented by 4 spaces under the argocd-cm key)")
	}
}
