package v1alpha1

import (
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// TestDefaultsAgreeWithTheCRD holds the defaults the CRD applies (generated
// from the +kubebuilder:default markers) to the ones the getters apply.
func TestDefaultsAgreeWithTheCRD(t *testing.T) {
	raw, err := os.ReadFile("../../config/crd/bases/integrations.hookwarden.io_githubintegrations.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var crd map[string]any
	if err := yaml.Unmarshal(raw, &crd); err != nil {
		t.Fatal(err)
	}
	spec := dig(t, crd, "spec", "versions", 0, "schema", "openAPIV3Schema", "properties", "spec", "properties")
	defaultOf := func(path ...any) any {
		return dig(t, spec, append(path, "default")...)
	}
	duration := func(v any) time.Duration {
		d, err := time.ParseDuration(v.(string))
		if err != nil {
			t.Fatal(err)
		}
		return d
	}

	var events []string
	for _, e := range defaultOf("events").([]any) {
		events = append(events, e.(string))
	}
	slices.Sort(events)
	if !slices.Equal(events, DefaultEvents()) {
		t.Errorf("CRD defaults events to %v, DefaultEvents is %v", events, DefaultEvents())
	}
	for _, c := range []struct {
		path []any
		got  any
		want any
	}{
		{[]any{"secretRef", "properties", "tokenKey"}, defaultOf("secretRef", "properties", "tokenKey"), DefaultTokenKey},
		{[]any{"secretRef", "properties", "webhookSecretKey"}, defaultOf("secretRef", "properties", "webhookSecretKey"), DefaultWebhookSecretKey},
		{[]any{"links", "properties", "pullRequestKey"}, defaultOf("links", "properties", "pullRequestKey"), DefaultPullRequestKey},
		{[]any{"interval"}, duration(defaultOf("interval")), DefaultInterval},
		{[]any{"contentType"}, ContentType(defaultOf("contentType").(string)), (&GitHubIntegration{}).GetContentType()},
		{[]any{"secretRotation", "properties", "gracePeriod"}, duration(defaultOf("secretRotation", "properties", "gracePeriod")), DefaultGracePeriod},
	} {
		if c.got != c.want {
			t.Errorf("CRD default of %v is %v, the getter's is %v", c.path, c.got, c.want)
		}
	}

	// An object the CRD did not default gets the same values.
	var bare GitHubIntegration
	if !slices.Equal(bare.GetEvents(), DefaultEvents()) || bare.GetTokenKey() != DefaultTokenKey ||
		bare.GetWebhookSecretKey() != DefaultWebhookSecretKey || bare.GetPullRequestKey() != DefaultPullRequestKey ||
		bare.GetInterval() != DefaultInterval || bare.GetGracePeriod() != DefaultGracePeriod {
		t.Error("the getters do not apply the defaults to an empty spec")
	}
	withEvents := GitHubIntegration{Spec: GitHubIntegrationSpec{Events: []string{"push", "issues", "push"}}}
	if got := withEvents.GetEvents(); !slices.Equal(got, []string{"issues", "push"}) {
		t.Errorf("GetEvents = %v, want sorted without repeats", got)
	}
}

func dig(t *testing.T, doc any, path ...any) any {
	t.Helper()
	for _, p := range path {
		switch key := p.(type) {
		case string:
			m, ok := doc.(map[string]any)
			if !ok {
				t.Fatalf("no %q at %v", key, path)
			}
			doc = m[key]
		case int:
			l, ok := doc.([]any)
			if !ok || len(l) <= key {
				t.Fatalf("no [%d] at %v", key, path)
			}
			doc = l[key]
		}
	}
	if doc == nil {
		t.Fatalf("nothing at %v", path)
	}
	return doc
}

// TestStatusPartsCoverTheStatus: every field of the status belongs to
// exactly one writer's part, and the parts name no other field.
func TestStatusPartsCoverTheStatus(t *testing.T) {
	all := map[string]bool{}
	var walk func(reflect.Type, string)
	walk = func(rt reflect.Type, prefix string) {
		for i := range rt.NumField() {
			if rt.Field(i).Anonymous { // inline: its fields are the status's
				walk(rt.Field(i).Type, prefix)
				continue
			}
			name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
			if name == "deliveries" {
				walk(rt.Field(i).Type, "deliveries.")
				continue
			}
			all[prefix+name] = true
		}
	}
	walk(reflect.TypeFor[GitHubIntegrationStatus](), "")
	owners := map[string]int{}
	for _, part := range []StatusPart{ReconcilerPart, ReceiverPart} {
		for _, f := range part {
			owners[f]++
			if !all[f] {
				t.Errorf("a writer's part names %s, which the status lacks", f)
			}
		}
	}
	for f := range all {
		if owners[f] != 1 {
			t.Errorf("status.%s is in %d writers' parts, want exactly one", f, owners[f])
		}
	}

	// A part holds its fields and nothing else.
	st := &GitHubIntegrationStatus{HookCount: 2, PayloadURL: "https://hooks.example.com/x",
		Deliveries: DeliveryCounters{Received: 5, Redelivered: 1}, EventCounts: []EventCount{{Event: "push", Count: 5}}}
	rec, err := ReconcilerPart.Of(st)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rec, map[string]any{"hookCount": 2.0, "payloadURL": "https://hooks.example.com/x",
		"deliveries": map[string]any{"redelivered": 1.0}}) {
		t.Errorf("the reconciler's part of the status is %v", rec)
	}
	got, err := ReceiverPart.Of(st)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got["hookCount"]; ok || got["deliveries"].(map[string]any)["received"] != 5.0 || got["deliveries"].(map[string]any)["redelivered"] != nil {
		t.Errorf("the receiver's part of the status is %v", got)
	}
}
