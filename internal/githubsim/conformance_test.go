package githubsim

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/hookwarden/hookwarden/internal/testenv"
	"github.com/hookwarden/hookwarden/internal/testfixtures"
)

var (
	specOnce sync.Once
	spec     *openapi3.T
	specErr  error
)

// githubSpec loads GitHub's OpenAPI description once per test binary.
//
// The description as a whole does not pass kin-openapi's document
// validation (some examples elsewhere in it do not match their schemas,
// e.g. "actions-hosted-runner"), so it is loaded without validating the
// document; the operations the simulator implements are then used to
// validate requests and responses, which is what matters here.
func githubSpec(t *testing.T) *openapi3.T {
	t.Helper()
	specOnce.Do(func() {
		path, err := testfixtures.OpenAPIPath()
		if err != nil {
			specErr = err
			return
		}
		loader := openapi3.NewLoader()
		spec, specErr = loader.LoadFromFile(path)
	})
	if specErr != nil {
		t.Fatalf("load GitHub's OpenAPI description: %v", specErr)
	}
	return spec
}

// conformanceCase is one request to the simulator whose answer is checked
// against the description.
type conformanceCase struct {
	name   string
	route  Route
	status int
	// request builds the request (path params already substituted).
	request func(t *testing.T) *http.Request
	// invalidRequest marks a request that deliberately breaks the
	// description, to check the simulator's answer to it.
	invalidRequest bool
	// undocumented names the shared component response to validate the body
	// against when GitHub sends a status the operation does not list
	// (401, rate-limit 403s): GitHub's description documents them once in
	// components/responses rather than per operation.
	undocumented string
}

// conformanceEnv is the simulator state the cases run against.
type conformanceEnv struct {
	sim          *Server
	rcv          *receiver
	repoHook     int64
	orgHook      int64
	repoDelivery int64
	orgDelivery  int64
	appDelivery  int64
	jwt          string
}

func newConformanceEnv(t *testing.T, opts ...Option) *conformanceEnv {
	t.Helper()
	sim := newTestServer(t, append(opts, WithSecondaryLimit(SecondaryLimit{MutationsPerMinute: -1}))...)
	sim.AddToken("ghp_noscope", []string{"read:user"}, testOrg)
	sim.AddToken("ghp_limited", []string{"repo"}, testOrg)
	sim.SetRemaining("ghp_limited", 0)
	addTestApp(t, sim, "push")
	rcv := newReceiver(t)
	env := &conformanceEnv{sim: sim, rcv: rcv, jwt: validAppJWT(t)}

	cfg := HookConfig{URL: rcv.URL + "/repo", ContentType: "json", Secret: testSecret}
	h, err := sim.SetHook(testRepo, Hook{Active: true, Events: []string{"push"}, Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	env.repoHook = h.ID
	cfg.URL = rcv.URL + "/org"
	h, err = sim.SetHook(testOrg, Hook{Active: true, Events: []string{"push"}, Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	env.orgHook = h.ID
	if _, err := sim.EditHook(AppTarget(testAppID), testAppID, func(h *Hook) { h.Config.URL = rcv.URL + "/app"; h.Config.Secret = testSecret }); err != nil {
		t.Fatal(err)
	}
	ds, err := sim.TriggerEvent(testRepo, "push", []byte(`{"ref":"refs/heads/main","repository":{"id":1}}`))
	if err != nil || len(ds) != 3 {
		t.Fatalf("TriggerEvent: %d deliveries, %v; want repo, org and App hook", len(ds), err)
	}
	env.repoDelivery, env.orgDelivery, env.appDelivery = ds[0].ID, ds[1].ID, ds[2].ID
	return env
}

// prefix is the path before the API's paths: none, or /api/v3.
func (e *conformanceEnv) prefix() string {
	if e.sim.CACertificatePEM() != nil {
		return EnterprisePrefix
	}
	return ""
}

func (e *conformanceEnv) req(t *testing.T, method, path, token string, body any, header ...string) func(*testing.T) *http.Request {
	return func(t *testing.T) *http.Request { return newAPIRequest(t, e.sim, method, path, token, body, header...) }
}

func (e *conformanceEnv) cases(t *testing.T) []conformanceCase {
	repo := "/repos/acme/demo"
	org := "/orgs/acme"
	rh := fmt.Sprintf("%s/hooks/%d", repo, e.repoHook)
	oh := fmt.Sprintf("%s/hooks/%d", org, e.orgHook)
	hookBody := func(url string) map[string]any {
		return map[string]any{"name": "web", "active": true, "events": []string{"push", "pull_request"},
			"config": map[string]any{"url": url, "content_type": "json", "secret": testSecret, "insecure_ssl": "0"}}
	}
	byOp := func(id string) Route {
		for _, r := range Routes() {
			if r.OperationID == id {
				return r
			}
		}
		t.Fatalf("no route with operationId %s", id)
		return Route{}
	}
	etagOfGet := func(path string) string {
		_, h, _ := apiRequest(t, e.sim, "GET", path, adminToken, nil)
		return h.Get("ETag")
	}
	return []conformanceCase{
		// Repository hooks.
		{name: "list", route: byOp("repos/list-webhooks"), status: 200, request: e.req(t, "GET", repo+"/hooks?per_page=1", adminToken, nil)},
		{name: "list without scope", route: byOp("repos/list-webhooks"), status: 404, request: e.req(t, "GET", repo+"/hooks", "ghp_noscope", nil)},
		{name: "list bad credentials", route: byOp("repos/list-webhooks"), status: 401, undocumented: "requires_authentication", request: e.req(t, "GET", repo+"/hooks", "ghp_wrong", nil)},
		{name: "list rate limited", route: byOp("repos/list-webhooks"), status: 403, undocumented: "forbidden", request: e.req(t, "GET", repo+"/hooks", "ghp_limited", nil)},
		{name: "create", route: byOp("repos/create-webhook"), status: 201, request: e.req(t, "POST", repo+"/hooks", adminToken, hookBody(e.rcv.URL+"/new"))},
		{name: "create duplicate", route: byOp("repos/create-webhook"), status: 422, request: e.req(t, "POST", repo+"/hooks", adminToken, hookBody(e.rcv.URL+"/repo"))},
		{name: "create beyond the hook limit", route: byOp("repos/create-webhook"), status: 422, request: func(t *testing.T) *http.Request {
			full := "acme/full"
			if err := e.sim.AddRepo(full); err != nil {
				t.Fatal(err)
			}
			for i := range MaxHooksPerEvent {
				if _, err := e.sim.SetHook(full, Hook{Active: true, Events: []string{"push"}, Config: HookConfig{URL: fmt.Sprintf("%s/full-%d", e.rcv.URL, i)}}); err != nil {
					t.Fatal(err)
				}
			}
			return newAPIRequest(t, e.sim, "POST", "/repos/"+full+"/hooks", adminToken, hookBody(e.rcv.URL+"/one-too-many"))
		}},
		{name: "create unknown repo", route: byOp("repos/create-webhook"), status: 404, request: e.req(t, "POST", "/repos/acme/missing/hooks", adminToken, hookBody(e.rcv.URL+"/x"))},
		{name: "get", route: byOp("repos/get-webhook"), status: 200, request: e.req(t, "GET", rh, adminToken, nil)},
		{name: "get not modified", route: byOp("repos/get-webhook"), status: 304, request: func(t *testing.T) *http.Request {
			return newAPIRequest(t, e.sim, "GET", rh, adminToken, nil, "If-None-Match", etagOfGet(rh))
		}},
		{name: "get missing", route: byOp("repos/get-webhook"), status: 404, request: e.req(t, "GET", repo+"/hooks/1", adminToken, nil)},
		{name: "update", route: byOp("repos/update-webhook"), status: 200, request: e.req(t, "PATCH", rh, adminToken, map[string]any{"add_events": []string{"issues"}, "active": true})},
		{name: "update invalid event", route: byOp("repos/update-webhook"), status: 422, request: e.req(t, "PATCH", rh, adminToken, map[string]any{"events": []string{"no_such_event"}})},
		{name: "get config", route: byOp("repos/get-webhook-config-for-repo"), status: 200, request: e.req(t, "GET", rh+"/config", adminToken, nil)},
		{name: "update config", route: byOp("repos/update-webhook-config-for-repo"), status: 200, request: e.req(t, "PATCH", rh+"/config", adminToken, map[string]any{"secret": testSecret + "2"})},
		{name: "ping", route: byOp("repos/ping-webhook"), status: 204, request: e.req(t, "POST", rh+"/pings", adminToken, nil)},
		{name: "ping missing", route: byOp("repos/ping-webhook"), status: 404, request: e.req(t, "POST", repo+"/hooks/1/pings", adminToken, nil)},
		{name: "deliveries", route: byOp("repos/list-webhook-deliveries"), status: 200, request: e.req(t, "GET", rh+"/deliveries?per_page=1", adminToken, nil)},
		{name: "deliveries bad cursor", route: byOp("repos/list-webhook-deliveries"), status: 400, request: e.req(t, "GET", rh+"/deliveries?cursor=nonsense", adminToken, nil)},
		{name: "deliveries bad status", route: byOp("repos/list-webhook-deliveries"), status: 422, invalidRequest: true, request: e.req(t, "GET", rh+"/deliveries?status=maybe", adminToken, nil)},
		{name: "delivery", route: byOp("repos/get-webhook-delivery"), status: 200, request: e.req(t, "GET", fmt.Sprintf("%s/deliveries/%d", rh, e.repoDelivery), adminToken, nil)},
		{name: "redeliver", route: byOp("repos/redeliver-webhook-delivery"), status: 202, request: e.req(t, "POST", fmt.Sprintf("%s/deliveries/%d/attempts", rh, e.repoDelivery), adminToken, nil)},
		{name: "delete", route: byOp("repos/delete-webhook"), status: 204, request: func(t *testing.T) *http.Request {
			h, err := e.sim.SetHook(testRepo, Hook{Active: false, Config: HookConfig{URL: e.rcv.URL + "/doomed"}})
			if err != nil {
				t.Fatal(err)
			}
			return newAPIRequest(t, e.sim, "DELETE", fmt.Sprintf("%s/hooks/%d", repo, h.ID), adminToken, nil)
		}},
		{name: "delete missing", route: byOp("repos/delete-webhook"), status: 404, request: e.req(t, "DELETE", repo+"/hooks/1", adminToken, nil)},
		// Organization hooks.
		{name: "list", route: byOp("orgs/list-webhooks"), status: 200, request: e.req(t, "GET", org+"/hooks", adminToken, nil)},
		{name: "list without scope", route: byOp("orgs/list-webhooks"), status: 404, request: e.req(t, "GET", org+"/hooks", "ghp_noscope", nil)},
		{name: "create", route: byOp("orgs/create-webhook"), status: 201, request: e.req(t, "POST", org+"/hooks", adminToken, hookBody(e.rcv.URL+"/org-new"))},
		{name: "create missing url", route: byOp("orgs/create-webhook"), status: 422, request: e.req(t, "POST", org+"/hooks", adminToken, map[string]any{"name": "web", "config": map[string]any{"url": ""}})},
		{name: "get", route: byOp("orgs/get-webhook"), status: 200, request: e.req(t, "GET", oh, adminToken, nil)},
		{name: "get missing", route: byOp("orgs/get-webhook"), status: 404, request: e.req(t, "GET", org+"/hooks/1", adminToken, nil)},
		{name: "update", route: byOp("orgs/update-webhook"), status: 200, request: e.req(t, "PATCH", oh, adminToken, map[string]any{"events": []string{"push", "issues"}})},
		{name: "update duplicate", route: byOp("orgs/update-webhook"), status: 422, request: e.req(t, "PATCH", oh, adminToken, map[string]any{"config": map[string]any{"url": e.rcv.URL + "/org-new"}})},
		{name: "get config", route: byOp("orgs/get-webhook-config-for-org"), status: 200, request: e.req(t, "GET", oh+"/config", adminToken, nil)},
		{name: "update config", route: byOp("orgs/update-webhook-config-for-org"), status: 200, request: e.req(t, "PATCH", oh+"/config", adminToken, map[string]any{"content_type": "form"})},
		{name: "ping", route: byOp("orgs/ping-webhook"), status: 204, request: e.req(t, "POST", oh+"/pings", adminToken, nil)},
		{name: "deliveries", route: byOp("orgs/list-webhook-deliveries"), status: 200, request: e.req(t, "GET", oh+"/deliveries", adminToken, nil)},
		{name: "delivery", route: byOp("orgs/get-webhook-delivery"), status: 200, request: e.req(t, "GET", fmt.Sprintf("%s/deliveries/%d", oh, e.orgDelivery), adminToken, nil)},
		{name: "redeliver", route: byOp("orgs/redeliver-webhook-delivery"), status: 202, request: e.req(t, "POST", fmt.Sprintf("%s/deliveries/%d/attempts", oh, e.orgDelivery), adminToken, nil)},
		{name: "delete", route: byOp("orgs/delete-webhook"), status: 204, request: func(t *testing.T) *http.Request {
			h, err := e.sim.SetHook(testOrg, Hook{Config: HookConfig{URL: e.rcv.URL + "/org-doomed"}})
			if err != nil {
				t.Fatal(err)
			}
			return newAPIRequest(t, e.sim, "DELETE", fmt.Sprintf("%s/hooks/%d", org, h.ID), adminToken, nil)
		}},
		// GitHub App.
		{name: "get config", route: byOp("apps/get-webhook-config-for-app"), status: 200, request: e.req(t, "GET", "/app/hook/config", e.jwt, nil)},
		{name: "get config with a PAT", route: byOp("apps/get-webhook-config-for-app"), status: 401, undocumented: "requires_authentication", request: e.req(t, "GET", "/app/hook/config", adminToken, nil)},
		{name: "update config", route: byOp("apps/update-webhook-config-for-app"), status: 200, request: e.req(t, "PATCH", "/app/hook/config", e.jwt, map[string]any{"content_type": "json", "insecure_ssl": "0"})},
		{name: "deliveries", route: byOp("apps/list-webhook-deliveries"), status: 200, request: e.req(t, "GET", "/app/hook/deliveries", e.jwt, nil)},
		{name: "delivery", route: byOp("apps/get-webhook-delivery"), status: 200, request: e.req(t, "GET", fmt.Sprintf("/app/hook/deliveries/%d", e.appDelivery), e.jwt, nil)},
		{name: "redeliver", route: byOp("apps/redeliver-webhook-delivery"), status: 202, request: e.req(t, "POST", fmt.Sprintf("/app/hook/deliveries/%d/attempts", e.appDelivery), e.jwt, nil)},
		{name: "installation token", route: byOp("apps/create-installation-access-token"), status: 201, request: e.req(t, "POST", fmt.Sprintf("/app/installations/%d/access_tokens", testInstID), e.jwt, map[string]any{"repositories": []string{"demo"}})},
		{name: "installation token unknown", route: byOp("apps/create-installation-access-token"), status: 404, request: e.req(t, "POST", "/app/installations/1/access_tokens", e.jwt, nil)},
		{name: "installation token expired JWT", route: byOp("apps/create-installation-access-token"), status: 401, request: func(t *testing.T) *http.Request {
			old := appJWT(t, testAppID, time.Now().Add(-20*time.Minute), time.Now().Add(-10*time.Minute))
			return newAPIRequest(t, e.sim, "POST", fmt.Sprintf("/app/installations/%d/access_tokens", testInstID), old, nil)
		}},
		// Issues.
		{name: "create", route: byOp("issues/create"), status: 201, request: e.req(t, "POST", repo+"/issues", adminToken, map[string]any{"title": "Review results", "body": "experiment_key: checkout", "labels": []string{"experiment"}})},
		{name: "create without title", route: byOp("issues/create"), status: 422, invalidRequest: true, request: e.req(t, "POST", repo+"/issues", adminToken, map[string]any{"body": "no title"})},
		{name: "get", route: byOp("issues/get"), status: 200, request: e.req(t, "GET", repo+"/issues/1", adminToken, nil)},
		{name: "get missing", route: byOp("issues/get"), status: 404, request: e.req(t, "GET", repo+"/issues/999", adminToken, nil)},
		{name: "update", route: byOp("issues/update"), status: 200, request: e.req(t, "PATCH", repo+"/issues/1", adminToken, map[string]any{"state": "closed", "labels": []string{"experiment", "done"}})},
		{name: "list", route: byOp("issues/list-for-repo"), status: 200, request: e.req(t, "GET", repo+"/issues?state=all&labels=experiment", adminToken, nil)},
		{name: "list unreachable", route: byOp("issues/list-for-repo"), status: 404, request: e.req(t, "GET", "/repos/other/private/issues", adminToken, nil)},
		// Meta and rate limit.
		{name: "meta", route: byOp("meta/get"), status: 200, request: e.req(t, "GET", "/meta", "", nil)},
		{name: "rate limit", route: byOp("rate-limit/get"), status: 200, request: e.req(t, "GET", "/rate_limit", adminToken, nil)},
		{name: "meta not modified", route: byOp("meta/get"), status: 304, request: func(t *testing.T) *http.Request {
			_, h, _ := apiRequest(t, e.sim, "GET", "/meta", "", nil)
			return newAPIRequest(t, e.sim, "GET", "/meta", "", nil, "If-None-Match", h.Get("ETag"))
		}},
	}
}

// TestOpenAPIConformance checks every operation the simulator implements
// against GitHub's OpenAPI description: the request the test sends, and the
// status, headers and body of each answer. Every route must have a case
// with a success answer.
func TestOpenAPIConformance(t *testing.T) {
	doc := githubSpec(t)
	t.Run("github.com", func(t *testing.T) { checkConformance(t, doc, newConformanceEnv(t)) })
	// GitHub Enterprise Server answers alike, under /api/v3, over TLS.
	t.Run("enterprise", func(t *testing.T) { checkConformance(t, doc, newConformanceEnv(t, WithEnterprise())) })
}

func checkConformance(t *testing.T, doc *openapi3.T, env *conformanceEnv) {
	covered := map[string]bool{}
	for _, tc := range env.cases(t) {
		t.Run(tc.route.OperationID+"/"+tc.name, func(t *testing.T) {
			op := operation(t, doc, tc.route)
			req := tc.request(t)
			route := &routers.Route{Spec: doc, Path: tc.route.Path, PathItem: doc.Paths.Value(tc.route.Path), Method: tc.route.Method, Operation: op}
			input := &openapi3filter.RequestValidationInput{
				Request:    cloneRequest(t, req),
				PathParams: pathParams(t, tc.route.Path, strings.TrimPrefix(req.URL.Path, env.prefix())),
				Route:      route,
				Options:    &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
			}
			err := openapi3filter.ValidateRequest(context.Background(), input)
			if err != nil && !tc.invalidRequest {
				t.Fatalf("the test's request does not match the description: %v", err)
			}
			if err == nil && tc.invalidRequest {
				t.Fatal("the request meant to break the description passes its validation")
			}
			resp, err := env.sim.HTTPClient().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body := testenv.ReadBody(t, resp)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %.300s", resp.StatusCode, tc.status, body)
			}
			checkCommonHeaders(t, resp, tc)
			switch {
			case resp.StatusCode == http.StatusNotModified:
				if len(body) != 0 || resp.Header.Get("ETag") == "" {
					t.Errorf("304 must have an ETag and no body, got %d bytes", len(body))
				}
			case tc.undocumented != "":
				if op.Responses.Status(resp.StatusCode) != nil {
					t.Fatalf("status %d is documented for %s; validate it as such", resp.StatusCode, tc.route.OperationID)
				}
				validateAgainstComponent(t, doc, tc.undocumented, resp.Header, body)
			default:
				validateResponse(t, input, resp, body)
			}
			if resp.StatusCode < 300 {
				covered[tc.route.String()] = true
			}
		})
	}
	env.sim.Drain()
	for _, r := range Routes() {
		if !covered[r.String()] {
			t.Errorf("route %s (%s) has no passing conformance case with a success answer", r, r.OperationID)
		}
	}
}

func operation(t *testing.T, doc *openapi3.T, r Route) *openapi3.Operation {
	t.Helper()
	item := doc.Paths.Value(r.Path)
	if item == nil {
		t.Fatalf("path %s is not in GitHub's description", r.Path)
	}
	op := item.GetOperation(r.Method)
	if op == nil {
		t.Fatalf("%s is not in GitHub's description", r)
	}
	if op.OperationID != r.OperationID {
		t.Fatalf("%s has operationId %s in the description, the route table says %s", r, op.OperationID, r.OperationID)
	}
	return op
}

func validateResponse(t *testing.T, input *openapi3filter.RequestValidationInput, resp *http.Response, body []byte) {
	t.Helper()
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: input,
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		t.Fatalf("answer does not match the description: %v\nbody: %.500s", err, body)
	}
	// Headers the description lists for this answer must be sent (Link only
	// when there is another page).
	documented := input.Route.Operation.Responses.Status(resp.StatusCode)
	for name := range documented.Value.Headers {
		if name == "Link" {
			continue
		}
		if resp.Header.Get(name) == "" {
			t.Errorf("documented header %s missing", name)
		}
	}
}

// validateAgainstComponent checks an answer whose status the operation does
// not list against one of the description's shared responses.
func validateAgainstComponent(t *testing.T, doc *openapi3.T, name string, header http.Header, body []byte) {
	t.Helper()
	ref := doc.Components.Responses[name]
	if ref == nil || ref.Value == nil {
		t.Fatalf("components/responses/%s not in the description", name)
	}
	media := ref.Value.Content.Get(header.Get("Content-Type"))
	if media == nil {
		t.Fatalf("content type %q not allowed by components/responses/%s", header.Get("Content-Type"), name)
	}
	value, err := decodeAny(body)
	if err != nil {
		t.Fatalf("body is not JSON: %v", err)
	}
	if err := media.Schema.Value.VisitJSON(value, openapi3.VisitAsResponse(), openapi3.MultiErrors()); err != nil {
		t.Fatalf("body does not match components/responses/%s: %v\nbody: %s", name, err, body)
	}
}

// checkCommonHeaders asserts what GitHub sends with every API answer.
func checkCommonHeaders(t *testing.T, resp *http.Response, tc conformanceCase) {
	t.Helper()
	for _, h := range []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Used", "X-RateLimit-Reset", "X-RateLimit-Resource", "X-GitHub-Request-Id"} {
		if resp.Header.Get(h) == "" {
			t.Errorf("header %s missing", h)
		}
	}
	if tc.route.Method == "GET" && resp.StatusCode == 200 && resp.Header.Get("ETag") == "" {
		t.Error("GET answered without an ETag")
	}
	if resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusNotModified &&
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Errorf("Content-Type %q, want application/json", resp.Header.Get("Content-Type"))
	}
}

func cloneRequest(t *testing.T, req *http.Request) *http.Request {
	t.Helper()
	clone := req.Clone(context.Background())
	if req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			t.Fatal(err)
		}
		clone.Body = body
	}
	return clone
}

// pathParams matches a request path against a path template.
func pathParams(t *testing.T, template, path string) map[string]string {
	t.Helper()
	ts, ps := strings.Split(template, "/"), strings.Split(path, "/")
	if len(ts) != len(ps) {
		t.Fatalf("path %s does not match %s", path, template)
	}
	out := map[string]string{}
	for i, seg := range ts {
		if strings.HasPrefix(seg, "{") {
			out[strings.Trim(seg, "{}")] = ps[i]
		} else if seg != ps[i] {
			t.Fatalf("path %s does not match %s", path, template)
		}
	}
	return out
}

func decodeAny(body []byte) (any, error) {
	var v any
	dec := jsonDecoder(body)
	err := dec.Decode(&v)
	return v, err
}
