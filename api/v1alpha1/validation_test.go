package v1alpha1_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	"github.com/hookwarden/hookwarden/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env) }

// integration returns a valid GitHubIntegration as unstructured content, so
// tests can set values the Go types could not express.
func integration(ns, name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": hookv1.GroupVersion.String(),
		"kind":       "GitHubIntegration",
		"metadata":   map[string]any{"name": name, "namespace": ns},
		"spec": map[string]any{
			"repositories": []any{"acme/api"},
			"secretRef":    map[string]any{"name": "github-experiments"},
		},
	}}
	return u
}

func TestSampleIsAccepted(t *testing.T) {
	ns := env.NewNamespace(t, "validation")
	raw, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "samples", "integrations_v1alpha1_githubintegration.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(raw, &u.Object); err != nil {
		t.Fatal(err)
	}
	u.SetNamespace(ns)
	if err := env.Client.Create(context.Background(), u); err != nil {
		t.Fatalf("the sample is rejected: %v", err)
	}
}

func TestDefaults(t *testing.T) {
	ns := env.NewNamespace(t, "validation")
	ctx := context.Background()
	if err := env.Client.Create(ctx, integration(ns, "defaults")); err != nil {
		t.Fatal(err)
	}
	got := &hookv1.GitHubIntegration{}
	if err := env.Client.Get(ctx, keyOf(ns, "defaults"), got); err != nil {
		t.Fatal(err)
	}
	s := got.Spec
	checks := []struct {
		field     string
		got, want any
	}{
		{"events", s.Events, []string{"push", "pull_request", "issues"}},
		{"secretRef.tokenKey", s.SecretRef.TokenKey, "token"},
		{"secretRef.webhookSecretKey", s.SecretRef.WebhookSecretKey, "webhook_secret"},
		{"contentType", s.ContentType, hookv1.ContentTypeJSON},
		{"insecureSSL", s.InsecureSSL, false},
		{"active", s.Active != nil && *s.Active, true},
		{"interval", s.Interval.Duration, 10 * time.Minute},
		{"suspend", s.Suspend, false},
		{"deletionPolicy", s.DeletionPolicy, hookv1.DeletionPolicyDelete},
		{"secretRotation.gracePeriod", s.SecretRotation.GracePeriod.Duration, time.Hour},
		{"secretRotation.interval", s.SecretRotation.Interval.Duration, time.Duration(0)},
		{"links.pullRequestKey", s.Links.PullRequestKey, "experiment_key"},
		{"payloadURL", s.PayloadURL, ""},
		{"github", s.GitHub, (*hookv1.GitHubServer)(nil)},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("spec.%s defaulted to %#v, want %#v", c.field, c.got, c.want)
		}
	}
}

func TestInvalidSpecsAreRejected(t *testing.T) {
	ns := env.NewNamespace(t, "validation")
	many := make([]any, 101)
	for i := range many {
		many[i] = fmt.Sprintf("acme/repo-%d", i)
	}
	tests := []struct {
		name string
		// set changes the valid spec.
		set func(spec map[string]any)
		// want are substrings of the API server's message: the field path and why.
		want []string
	}{
		{"two targets", func(s map[string]any) { s["organization"] = "acme" },
			[]string{"spec", "set exactly one of spec.repositories, spec.organization or spec.app"}},
		{"organization named like the App target", func(s map[string]any) { delete(s, "repositories"); s["organization"] = "App" },
			[]string{"spec.organization", `cannot be "app"`}},
		{"no target", func(s map[string]any) { delete(s, "repositories") },
			[]string{"spec", "set exactly one of"}},
		{"owner without repository name", func(s map[string]any) { s["repositories"] = []any{"acme"} },
			[]string{"spec.repositories[0]", "should match"}},
		{"space in repository name", func(s map[string]any) { s["repositories"] = []any{"acme/a b"} },
			[]string{"spec.repositories[0]", "should match"}},
		{"owner starting with a hyphen", func(s map[string]any) { s["repositories"] = []any{"-acme/api"} },
			[]string{"spec.repositories[0]", "should match"}},
		{"duplicate repositories", func(s map[string]any) { s["repositories"] = []any{"acme/api", "acme/web", "acme/api"} },
			[]string{"spec.repositories[2]", "Duplicate value"}},
		{"101 repositories", func(s map[string]any) { s["repositories"] = many },
			[]string{"spec.repositories", "must have at most 100 items"}},
		{"empty repositories", func(s map[string]any) { s["repositories"] = []any{} },
			[]string{"spec.repositories", "should have at least 1 items"}},
		{"event with capitals and punctuation", func(s map[string]any) { s["events"] = []any{"Push!"} },
			[]string{"spec.events[0]", "should match"}},
		{"empty secretRef.name", func(s map[string]any) { s["secretRef"] = map[string]any{"name": ""} },
			[]string{"spec.secretRef.name", "at least 1 chars long"}},
		{"missing secretRef", func(s map[string]any) { delete(s, "secretRef") },
			[]string{"spec.secretRef", "Required value"}},
		{"deletionPolicy Keep", func(s map[string]any) { s["deletionPolicy"] = "Keep" },
			[]string{"spec.deletionPolicy", `Unsupported value: "Keep"`, `"Delete"`, `"Orphan"`}},
		{"contentType xml", func(s map[string]any) { s["contentType"] = "xml" },
			[]string{"spec.contentType", `Unsupported value: "xml"`, `"json"`, `"form"`}},
		{"negative interval", func(s map[string]any) { s["interval"] = "-1m" },
			[]string{"spec.interval", "should match"}},
		{"interval without unit", func(s map[string]any) { s["interval"] = "10" },
			[]string{"spec.interval", "should match"}},
		{"relative payloadURL", func(s map[string]any) { s["payloadURL"] = "hooks.example.com/x" },
			[]string{"spec.payloadURL", "payloadURL must be an absolute http(s) URL"}},
		{"github.url not http", func(s map[string]any) { s["github"] = map[string]any{"url": "ftp://ghe.example.com/"} },
			[]string{"spec.github.url", "github.url must be an absolute http(s) URL"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := integration(ns, fmt.Sprintf("invalid-%d", i))
			tt.set(u.Object["spec"].(map[string]any))
			err := env.Client.Create(context.Background(), u)
			if err == nil {
				t.Fatal("the API server accepted the invalid spec")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("message %q\ndoes not contain %q", err.Error(), w)
				}
			}
		})
	}
}

func TestOtherTargetsAreAccepted(t *testing.T) {
	ns := env.NewNamespace(t, "validation")
	for name, set := range map[string]func(map[string]any){
		"organization": func(s map[string]any) { delete(s, "repositories"); s["organization"] = "acme-corp" },
		"app":          func(s map[string]any) { delete(s, "repositories"); s["app"] = map[string]any{} },
		"wildcard":     func(s map[string]any) { s["events"] = []any{"*"} },
		"dotted-repo":  func(s map[string]any) { s["repositories"] = []any{"acme/web.site", "a/b_c-d"} },
	} {
		u := integration(ns, name)
		set(u.Object["spec"].(map[string]any))
		if err := env.Client.Create(context.Background(), u); err != nil {
			t.Errorf("%s: valid spec rejected: %v", name, err)
		}
	}
}

func TestGitHubIssueValidation(t *testing.T) {
	ns := env.NewNamespace(t, "validation")
	ctx := context.Background()
	issue := &hookv1.GitHubIssue{}
	issue.Namespace, issue.Name = ns, "review"
	issue.Spec = hookv1.GitHubIssueSpec{
		IntegrationRef: hookv1.IntegrationReference{Name: "experiments"},
		Repository:     "acme/api",
		Title:          "Review results: checkout-flow-v2",
	}
	if err := env.Client.Create(ctx, issue); err != nil {
		t.Fatal(err)
	}
	if issue.Spec.State != "open" || issue.Spec.DeletionPolicy != hookv1.IssueDeletionPolicyClose {
		t.Errorf("defaults: state %q, deletionPolicy %q; want open, Close", issue.Spec.State, issue.Spec.DeletionPolicy)
	}
	bad := issue.DeepCopy()
	bad.ResourceVersion, bad.Name = "", "bad"
	bad.Spec.State = "reopened"
	bad.Spec.Repository = "acme"
	err := env.Client.Create(ctx, bad)
	if err == nil || !strings.Contains(err.Error(), "spec.state") || !strings.Contains(err.Error(), "spec.repository") {
		t.Fatalf("error %v, want it to name spec.state and spec.repository", err)
	}
}

func keyOf(ns, name string) client.ObjectKey { return client.ObjectKey{Namespace: ns, Name: name} }
