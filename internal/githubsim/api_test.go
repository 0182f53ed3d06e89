package githubsim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
)

func TestListHooksPaginatesWithLinkHeaders(t *testing.T) {
	sim := newTestServer(t)
	for i := range 5 {
		if _, err := sim.SetHook(testRepo, Hook{Active: true, Config: HookConfig{URL: fmt.Sprintf("https://hooks.example.com/%d", i)}}); err != nil {
			t.Fatal(err)
		}
	}
	status, h, body := apiRequest(t, sim, "GET", "/repos/acme/demo/hooks?per_page=2&page=2", adminToken, nil)
	if status != 200 {
		t.Fatal(status)
	}
	link := h.Get("Link")
	base := sim.URL() + "/repos/acme/demo/hooks?"
	for _, want := range []string{
		"<" + base + "page=1&per_page=2>; rel=\"prev\"",
		"<" + base + "page=3&per_page=2>; rel=\"next\"",
		"<" + base + "page=3&per_page=2>; rel=\"last\"",
		"<" + base + "page=1&per_page=2>; rel=\"first\"",
	} {
		if !strings.Contains(link, want) {
			t.Errorf("Link %q lacks %s", link, want)
		}
	}
	if got := decodeJSON[[]map[string]any](t, body); len(got) != 2 {
		t.Errorf("page 2 has %d hooks, want 2", len(got))
	}

	// go-github follows the links to the end.
	gh := githubClient(t, sim, adminToken)
	var all []*github.Hook
	opts := &github.ListOptions{PerPage: 2}
	for {
		page, resp, err := gh.Repositories.ListHooks(context.Background(), "acme", "demo", opts)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page...)
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	if len(all) != 5 {
		t.Errorf("walked %d hooks, want 5", len(all))
	}
	_, h, _ = apiRequest(t, sim, "GET", "/repos/acme/demo/hooks?page=3&per_page=2", adminToken, nil)
	if strings.Contains(h.Get("Link"), `rel="next"`) {
		t.Error("last page links to a next page")
	}
}

func TestDeliveriesPaginateByCursor(t *testing.T) {
	sim := newTestServer(t)
	rcv := newReceiver(t)
	hook, _ := sim.SetHook(testRepo, Hook{Active: true, Config: HookConfig{URL: rcv.URL, ContentType: "json"}})
	var ids []int64
	for i := range 5 {
		ds, err := sim.TriggerEvent(testRepo, "push", []byte(`{"n":`+strconv.Itoa(i)+`}`))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, ds[0].ID)
	}
	gh := githubClient(t, sim, adminToken)
	var seen []int64
	opts := &github.ListCursorOptions{PerPage: 2}
	pages := 0
	for {
		page, resp, err := gh.Repositories.ListHookDeliveries(context.Background(), "acme", "demo", hook.ID, opts)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, d := range page {
			seen = append(seen, d.GetID())
		}
		if resp.Cursor == "" {
			break
		}
		if !strings.HasPrefix(resp.Cursor, "v1_") {
			t.Errorf("cursor %q", resp.Cursor)
		}
		opts.Cursor = resp.Cursor
	}
	if pages != 3 {
		t.Errorf("%d pages for 5 deliveries at 2 per page, want 3", pages)
	}
	want := []int64{ids[4], ids[3], ids[2], ids[1], ids[0]}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Errorf("deliveries %v, want newest first %v", seen, want)
	}
}

func TestConditionalGetDoesNotSpendRateLimit(t *testing.T) {
	sim := newTestServer(t)
	hook, _ := sim.SetHook(testRepo, Hook{Active: true, Config: HookConfig{URL: "https://hooks.example.com/a", Secret: testSecret}})
	path := fmt.Sprintf("/repos/acme/demo/hooks/%d", hook.ID)
	status, h, _ := apiRequest(t, sim, "GET", path, adminToken, nil)
	etag := h.Get("ETag")
	if status != 200 || !strings.HasPrefix(etag, `W/"`) {
		t.Fatalf("GET: %d ETag %q", status, etag)
	}
	remaining := h.Get("X-RateLimit-Remaining")
	for range 3 {
		status, h, body := apiRequest(t, sim, "GET", path, adminToken, nil, "If-None-Match", etag)
		if status != 304 || len(body) != 0 {
			t.Fatalf("conditional GET: %d with %d bytes", status, len(body))
		}
		if h.Get("X-RateLimit-Remaining") != remaining {
			t.Errorf("304 spent rate limit: remaining %s, was %s", h.Get("X-RateLimit-Remaining"), remaining)
		}
	}
	if st := sim.Stats(); st.NotModified != 3 || st.Spent != 1 {
		t.Errorf("stats: %d not modified, %d spent; want 3 and 1", st.NotModified, st.Spent)
	}
	// A change behind the client's back changes the ETag.
	if _, err := sim.EditHook(testRepo, hook.ID, func(h *Hook) { h.Events = []string{"issues"} }); err != nil {
		t.Fatal(err)
	}
	status, h, _ = apiRequest(t, sim, "GET", path, adminToken, nil, "If-None-Match", etag)
	if status != 200 || h.Get("ETag") == etag {
		t.Errorf("after drift: %d with ETag %s", status, h.Get("ETag"))
	}
}

func TestPrimaryRateLimit(t *testing.T) {
	sim := newTestServer(t, WithPrimaryLimit(PrimaryLimit{Limit: 3, Window: 2 * time.Second}))
	for i := 1; i <= 3; i++ {
		status, h, _ := apiRequest(t, sim, "GET", "/repos/acme/demo/hooks", adminToken, nil)
		if status != 200 || h.Get("X-RateLimit-Limit") != "3" || h.Get("X-RateLimit-Used") != strconv.Itoa(i) ||
			h.Get("X-RateLimit-Remaining") != strconv.Itoa(3-i) || h.Get("X-RateLimit-Resource") != "core" {
			t.Fatalf("request %d: %d limit=%s used=%s remaining=%s", i, status, h.Get("X-RateLimit-Limit"), h.Get("X-RateLimit-Used"), h.Get("X-RateLimit-Remaining"))
		}
	}
	gh := githubClient(t, sim, adminToken)
	_, _, err := gh.Repositories.ListHooks(context.Background(), "acme", "demo", nil)
	var rle *github.RateLimitError
	if !errors.As(err, &rle) {
		t.Fatalf("4th request: %v, want a rate limit error", err)
	}
	if rle.Response.StatusCode != 403 || !strings.HasPrefix(rle.Message, "API rate limit exceeded for user ID") || rle.Rate.Remaining != 0 {
		t.Errorf("rate limit answer: %d %q remaining %d", rle.Response.StatusCode, rle.Message, rle.Rate.Remaining)
	}
	reset := rle.Rate.Reset.Time
	if wait := time.Until(reset); wait <= 0 || wait > 3*time.Second {
		t.Errorf("reset in %v, want within the 2s window", wait)
	}
	// /rate_limit is free and tells the same.
	status, _, body := apiRequest(t, sim, "GET", "/rate_limit", adminToken, nil)
	rl := decodeJSON[struct {
		Rate struct{ Limit, Remaining, Used int } `json:"rate"`
	}](t, body)
	if status != 200 || rl.Rate.Remaining != 0 || rl.Rate.Used != 3 {
		t.Errorf("/rate_limit: %d %+v", status, rl.Rate)
	}
	time.Sleep(time.Until(reset) + 100*time.Millisecond)
	status, h, _ := apiRequest(t, sim, "GET", "/repos/acme/demo/hooks", adminToken, nil)
	if status != 200 || h.Get("X-RateLimit-Used") != "1" {
		t.Errorf("after reset: %d used %s", status, h.Get("X-RateLimit-Used"))
	}
}

func TestSecondaryRateLimitOnMutations(t *testing.T) {
	sim := newTestServer(t, WithSecondaryLimit(SecondaryLimit{MutationsPerMinute: 2, RetryAfter: 30 * time.Second}))
	create := func(i int) (int, http.Header, []byte) {
		return apiRequest(t, sim, "POST", "/repos/acme/demo/hooks", adminToken, map[string]any{
			"config": map[string]any{"url": fmt.Sprintf("https://hooks.example.com/%d", i)}, "active": false})
	}
	for i := range 2 {
		if status, _, body := create(i); status != 201 {
			t.Fatalf("create %d: %d %s", i, status, body)
		}
	}
	status, h, body := create(3)
	if status != 403 || h.Get("Retry-After") != "30" {
		t.Fatalf("3rd mutation: %d retry-after %q", status, h.Get("Retry-After"))
	}
	if !strings.Contains(string(body), "You have exceeded a secondary rate limit") {
		t.Errorf("body %s", body)
	}
	// Reads are not throttled, and go-github recognises the answer.
	if status, _, _ := apiRequest(t, sim, "GET", "/repos/acme/demo/hooks", adminToken, nil); status != 200 {
		t.Errorf("read after secondary limit: %d", status)
	}
	gh := githubClient(t, sim, adminToken)
	_, _, err := gh.Repositories.CreateHook(context.Background(), "acme", "demo", &github.Hook{Config: &github.HookConfig{URL: github.String("https://hooks.example.com/x")}})
	var abuse *github.AbuseRateLimitError
	if !errors.As(err, &abuse) || abuse.GetRetryAfter() != 30*time.Second {
		t.Errorf("go-github error %v, want AbuseRateLimitError with 30s", err)
	}
	hooks, _ := sim.Hooks(testRepo)
	if len(hooks) != 2 {
		t.Errorf("%d hooks exist, want only the 2 allowed", len(hooks))
	}
	if st := sim.Stats(); st.RateLimited != 2 {
		t.Errorf("stats count %d rate-limited requests, want 2", st.RateLimited)
	}
}

func TestFaultInjection(t *testing.T) {
	route := Route{Method: "GET", Path: "/repos/{owner}/{repo}/hooks"}.String()
	client := &http.Client{Timeout: 300 * time.Millisecond}
	get := func(sim *Server) (int, error) {
		req := newAPIRequest(t, sim, "GET", "/repos/acme/demo/hooks", adminToken, nil)
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, nil
	}

	t.Run("latency", func(t *testing.T) {
		sim := newTestServer(t)
		sim.SetFault(route, Fault{Latency: 150 * time.Millisecond})
		start := time.Now()
		if status, err := get(sim); err != nil || status != 200 {
			t.Fatal(status, err)
		}
		if d := time.Since(start); d < 150*time.Millisecond {
			t.Errorf("answered after %v, want at least 150ms", d)
		}
	})
	t.Run("5xx", func(t *testing.T) {
		sim := newTestServer(t)
		sim.SetFault(route, Fault{ErrorRate: 1, ErrorStatus: 503})
		if status, err := get(sim); err != nil || status != 503 {
			t.Fatalf("status %d, %v; want 503", status, err)
		}
		// Other routes are unaffected.
		if status, _, _ := apiRequest(t, sim, "GET", "/meta", "", nil); status != 200 {
			t.Errorf("/meta: %d", status)
		}
	})
	t.Run("hang", func(t *testing.T) {
		sim := newTestServer(t)
		sim.SetFault(route, Fault{HangRate: 1})
		_, err := get(sim)
		var netErr interface{ Timeout() bool }
		if err == nil || !errors.As(err, &netErr) || !netErr.Timeout() {
			t.Fatalf("err %v, want a client timeout", err)
		}
	})
	t.Run("reset", func(t *testing.T) {
		sim := newTestServer(t)
		sim.SetFault(route, Fault{ResetRate: 1})
		_, err := get(sim)
		if err == nil || (!errors.Is(err, syscall.ECONNRESET) && !strings.Contains(err.Error(), "EOF")) {
			t.Fatalf("err %v, want a connection reset", err)
		}
	})
	t.Run("deterministic with a seed", func(t *testing.T) {
		pattern := func() string {
			sim := newTestServer(t, WithSeed(42))
			sim.SetFault(FaultAll, Fault{ErrorRate: 0.5})
			var b strings.Builder
			for range 20 {
				status, err := get(sim)
				if err != nil {
					t.Fatal(err)
				}
				b.WriteString(strconv.Itoa(status / 100))
			}
			return b.String()
		}
		first, second := pattern(), pattern()
		if first != second {
			t.Errorf("same seed, different faults: %s vs %s", first, second)
		}
		if !strings.Contains(first, "5") || !strings.Contains(first, "2") {
			t.Errorf("a 50%% error rate gave %s", first)
		}
	})
	t.Run("cleared", func(t *testing.T) {
		sim := newTestServer(t)
		sim.SetFault(route, Fault{ErrorRate: 1})
		sim.ClearFaults()
		if status, err := get(sim); err != nil || status != 200 {
			t.Errorf("after ClearFaults: %d %v", status, err)
		}
	})
}

func TestAuthRules(t *testing.T) {
	sim := newTestServer(t)
	sim.AddToken("ghp_readonly", []string{"read:repo_hook"}, testRepo)
	sim.AddToken("ghp_otherrepo", []string{"admin:repo_hook"}, "other/repo")
	sim.AddFineGrainedToken("github_pat_nohooks", map[string]string{PermIssues: PermWrite}, testOrg)
	cases := []struct {
		name, method, path, token string
		status                    int
		message                   string
		header, headerValue       string
	}{
		{"bad credentials", "GET", "/repos/acme/demo/hooks", "ghp_unknown", 401, "Bad credentials", "", ""},
		{"anonymous sees nothing", "GET", "/repos/acme/demo/hooks", "", 404, "Not Found", "", ""},
		{"no access", "GET", "/repos/acme/demo/hooks", "ghp_otherrepo", 404, "Not Found", "", ""},
		{"read scope reads", "GET", "/repos/acme/demo/hooks", "ghp_readonly", 200, "", "X-OAuth-Scopes", "read:repo_hook"},
		{"read scope cannot create", "POST", "/repos/acme/demo/hooks", "ghp_readonly", 404, "Not Found", "X-Accepted-OAuth-Scopes", "admin:repo_hook, repo, write:repo_hook"},
		{"fine-grained without hook permission", "GET", "/repos/acme/demo/hooks", "github_pat_nohooks", 403, "Resource not accessible by personal access token", "X-Accepted-GitHub-Permissions", "repository_hooks=read"},
		{"org hooks need admin:org_hook", "GET", "/orgs/acme/hooks", "ghp_readonly", 404, "Not Found", "", ""},
		{"App route without JWT", "GET", "/app/hook/config", "", 401, "You must authenticate with a JSON Web Token (JWT) to access this endpoint.", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var body any
			if tc.method == "POST" {
				body = map[string]any{"config": map[string]any{"url": "https://hooks.example.com/x"}}
			}
			status, h, data := apiRequest(t, sim, tc.method, tc.path, tc.token, body)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, data)
			}
			if tc.message != "" {
				if got := decodeJSON[basicError](t, data); got.Message != tc.message || got.Status != strconv.Itoa(tc.status) {
					t.Errorf("message %q status %q", got.Message, got.Status)
				}
			}
			if tc.header != "" && h.Get(tc.header) != tc.headerValue {
				t.Errorf("%s = %q, want %q", tc.header, h.Get(tc.header), tc.headerValue)
			}
		})
	}
}

func TestAppJWTAndInstallationToken(t *testing.T) {
	sim := newTestServer(t)
	addTestApp(t, sim)
	path := fmt.Sprintf("/app/installations/%d/access_tokens", testInstID)
	for name, jwt := range map[string]string{
		"expired":     appJWT(t, testAppID, time.Now().Add(-15*time.Minute), time.Now().Add(-5*time.Minute)),
		"too long":    appJWT(t, testAppID, time.Now(), time.Now().Add(time.Hour)),
		"unknown app": appJWT(t, 1, time.Now(), time.Now().Add(5*time.Minute)),
		"not a JWT":   "ghp_not_a_jwt",
	} {
		if status, _, body := apiRequest(t, sim, "POST", path, jwt, nil); status != 401 {
			t.Errorf("%s JWT: %d %s", name, status, body)
		}
	}
	status, _, body := apiRequest(t, sim, "POST", path, validAppJWT(t), nil)
	if status != 201 {
		t.Fatalf("access token: %d %s", status, body)
	}
	tok := decodeJSON[installationTokenJSON](t, body)
	expires, err := time.Parse(time.RFC3339, tok.ExpiresAt)
	if !strings.HasPrefix(tok.Token, "ghs_") || err != nil || time.Until(expires) < 59*time.Minute {
		t.Errorf("token %q... expires %s", tok.Token[:4], tok.ExpiresAt)
	}
	// The installation token manages hooks on the installation's repositories.
	status, _, body = apiRequest(t, sim, "POST", "/repos/acme/demo/hooks", tok.Token, map[string]any{"config": map[string]any{"url": "https://hooks.example.com/app"}})
	if status != 201 {
		t.Errorf("create with installation token: %d %s", status, body)
	}
	hooks, _ := sim.Hooks(testRepo)
	if len(hooks) != 1 || hooks[0].Config.URL != "https://hooks.example.com/app" {
		t.Errorf("hooks after create: %+v", hooks)
	}
}

func TestValidationErrors(t *testing.T) {
	sim := newTestServer(t)
	create := func(body map[string]any) (int, validationError) {
		status, _, data := apiRequest(t, sim, "POST", "/repos/acme/demo/hooks", adminToken, body)
		if status == 201 {
			return status, validationError{}
		}
		return status, decodeJSON[validationError](t, data)
	}
	hookWith := func(url string, events ...string) map[string]any {
		b := map[string]any{"name": "web", "config": map[string]any{"url": url, "content_type": "json"}}
		if events != nil {
			b["events"] = events
		}
		return b
	}
	if status, _ := create(hookWith("https://hooks.example.com/a")); status != 201 {
		t.Fatalf("first hook: %d", status)
	}
	cases := []struct {
		name string
		body map[string]any
		want fieldError
	}{
		{"duplicate url", hookWith("https://hooks.example.com/a"), fieldError{Resource: "Hook", Code: "custom", Message: "Hook already exists on this repository"}},
		{"missing url", map[string]any{"config": map[string]any{"content_type": "json"}}, errHookURLMissing},
		{"unknown event", hookWith("https://hooks.example.com/b", "push", "pushes"), errHookEvent("pushes")},
		{"name other than web", map[string]any{"name": "travis", "config": map[string]any{"url": "https://hooks.example.com/c"}}, errHookName},
		{"bad content type", map[string]any{"config": map[string]any{"url": "https://hooks.example.com/d", "content_type": "xml"}}, errHookContentType},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, got := create(tc.body)
			if status != 422 || got.Message != "Validation Failed" || len(got.Errors) != 1 || got.Errors[0] != tc.want {
				t.Errorf("got %d %+v, want 422 with %+v", status, got, tc.want)
			}
		})
	}
	t.Run("more than 20 hooks per event", func(t *testing.T) {
		for i := 1; i < MaxHooksPerEvent; i++ {
			if status, got := create(hookWith(fmt.Sprintf("https://hooks.example.com/n%d", i))); status != 201 {
				t.Fatalf("hook %d: %d %+v", i+1, status, got)
			}
		}
		status, got := create(hookWith("https://hooks.example.com/21st"))
		if status != 422 || got.Errors[0].Message != `The "push" event cannot have more than 20 hooks` {
			t.Errorf("21st push hook: %d %+v", status, got)
		}
		if status, _ := create(hookWith("https://hooks.example.com/issues-only", "issues")); status != 201 {
			t.Errorf("a hook for another event was refused: %d", status)
		}
	})
}

// TestSecretIsMaskedEverywhere reads a hook through every read the API
// offers and checks the secret never leaves the simulator.
func TestSecretIsMaskedEverywhere(t *testing.T) {
	sim := newTestServer(t)
	rcv := newReceiver(t)
	const secret = "s3cr3t-value-that-must-not-leak"
	status, _, body := apiRequest(t, sim, "POST", "/repos/acme/demo/hooks", adminToken, map[string]any{
		"config": map[string]any{"url": rcv.URL, "content_type": "json", "secret": secret}})
	if status != 201 {
		t.Fatal(status)
	}
	id := decodeJSON[hookJSON](t, body).ID
	sim.Drain()
	hookPath := fmt.Sprintf("/repos/acme/demo/hooks/%d", id)
	log, _ := sim.Deliveries(testRepo, id)
	reads := [][]byte{body}
	for _, p := range []string{"/repos/acme/demo/hooks", hookPath, hookPath + "/config", hookPath + "/deliveries", fmt.Sprintf("%s/deliveries/%d", hookPath, log[0].ID)} {
		_, _, b := apiRequest(t, sim, "GET", p, adminToken, nil)
		reads = append(reads, b)
	}
	_, _, b := apiRequest(t, sim, "PATCH", hookPath+"/config", adminToken, map[string]any{"content_type": "form"})
	reads = append(reads, b, rcv.received()[0].Body)
	for i, r := range reads {
		if strings.Contains(string(r), secret) {
			t.Errorf("read %d contains the secret", i)
		}
	}
	for _, i := range []int{0, 2, 3} {
		if !strings.Contains(string(reads[i]), `"secret":"********"`) {
			t.Errorf("read %d does not show the masked secret", i)
		}
	}
	if h, _ := sim.Hook(testRepo, id); h.Config.Secret != secret {
		t.Error("the Go API does not expose the secret for inspection")
	}
}

// TestUpdateHookConfigReplacesSecret follows GitHub's documented rule: a
// PATCH of the hook with a config that omits the secret removes it, while
// PATCH .../config changes only what it names.
func TestUpdateHookConfigReplacesSecret(t *testing.T) {
	sim := newTestServer(t)
	hook, _ := sim.SetHook(testRepo, Hook{Active: true, Config: HookConfig{URL: "https://hooks.example.com/a", ContentType: "json", Secret: testSecret}})
	path := fmt.Sprintf("/repos/acme/demo/hooks/%d", hook.ID)
	apiRequest(t, sim, "PATCH", path+"/config", adminToken, map[string]any{"insecure_ssl": "1"})
	if h, _ := sim.Hook(testRepo, hook.ID); h.Config.Secret != testSecret || h.Config.InsecureSSL != "1" {
		t.Errorf("after PATCH /config: secret kept %v, insecure_ssl %q", h.Config.Secret == testSecret, h.Config.InsecureSSL)
	}
	apiRequest(t, sim, "PATCH", path, adminToken, map[string]any{"config": map[string]any{"url": "https://hooks.example.com/b", "content_type": "json"}})
	if h, _ := sim.Hook(testRepo, hook.ID); h.Config.Secret != "" || h.Config.URL != "https://hooks.example.com/b" {
		t.Errorf("after PATCH hook without secret: secret removed %v, url %s", h.Config.Secret == "", h.Config.URL)
	}
}

func TestMetaHookCIDRs(t *testing.T) {
	sim := newTestServer(t, WithHookCIDRs("127.0.0.1/32"))
	_, _, body := apiRequest(t, sim, "GET", "/meta", "", nil)
	if got := decodeJSON[metaJSON](t, body).Hooks; len(got) != 1 || got[0] != "127.0.0.1/32" {
		t.Errorf("hooks %v", got)
	}
}

func TestIssues(t *testing.T) {
	sim := newTestServer(t)
	gh := githubClient(t, sim, adminToken)
	ctx := context.Background()
	is, _, err := gh.Issues.Create(ctx, "acme", "demo", &github.IssueRequest{Title: github.String("Review results"), Body: github.String("body"), Labels: &[]string{"experiment"}})
	if err != nil {
		t.Fatal(err)
	}
	if is.GetNumber() != 1 || is.GetState() != "open" || len(is.Labels) != 1 {
		t.Fatalf("created %+v", is)
	}
	if _, _, err := gh.Issues.Edit(ctx, "acme", "demo", 1, &github.IssueRequest{State: github.String("closed")}); err != nil {
		t.Fatal(err)
	}
	open, _, err := gh.Issues.ListByRepo(ctx, "acme", "demo", nil)
	if err != nil || len(open) != 0 {
		t.Errorf("open issues %d, %v", len(open), err)
	}
	all, _, _ := gh.Issues.ListByRepo(ctx, "acme", "demo", &github.IssueListByRepoOptions{State: "all", Labels: []string{"experiment"}})
	if len(all) != 1 || all[0].GetState() != "closed" || all[0].GetStateReason() != "completed" {
		t.Errorf("all issues %v", all)
	}
	snap, _ := sim.Issues(testRepo)
	if len(snap) != 1 || snap[0].State != "closed" {
		t.Errorf("snapshot %+v", snap)
	}
}

func TestCloseReleasesHungRequests(t *testing.T) {
	sim := New()
	sim.SetFault(FaultAll, Fault{HangRate: 1})
	done := make(chan error, 1)
	go func() {
		resp, err := http.Get(sim.URL() + "/meta")
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	time.Sleep(100 * time.Millisecond)
	closed := make(chan struct{})
	go func() { sim.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close blocked on a hung request")
	}
	if err := <-done; err == nil {
		t.Error("the hung request got an answer")
	}
}

func TestCloseLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	sim := New(WithDeliveryTimeout(5 * time.Second))
	_ = sim.AddRepo(testRepo)
	sim.AddToken(adminToken, []string{"admin:repo_hook"}, testOrg)
	hang := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	// A ping is in flight to a receiver that never answers when Close runs.
	status, _, _ := apiRequest(t, sim, "POST", "/repos/acme/demo/hooks", adminToken, map[string]any{"config": map[string]any{"url": slow.URL}})
	if status != 201 {
		t.Fatal(status)
	}
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	sim.Close()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close waited %v for a delivery instead of cancelling it", d)
	}
	close(hang)
	slow.Close()
	http.DefaultClient.CloseIdleConnections()
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after Close, %d before", n, before)
	}
}
