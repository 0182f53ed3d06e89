package github

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/hookwarden/hookwarden/internal/githubsim"
	"github.com/hookwarden/hookwarden/internal/testenv"
)

func TestETagTransportAnswersUnchangedReadsFrom304(t *testing.T) {
	sim, hooks, created := simWithHook(t)
	ctx := context.Background()
	sim.Drain() // the ping on creation changes the hook's last_response

	if _, err := hooks.Get(ctx, created.GetID()); err != nil {
		t.Fatal(err)
	}
	_, remainingBefore, _, _ := sim.RateLimit(testToken)
	sim.ResetStats()
	for range 5 {
		got, err := hooks.Get(ctx, created.GetID())
		if err != nil {
			t.Fatalf("a revalidated read failed: %v", err)
		}
		if got.GetID() != created.GetID() || got.GetConfig().GetURL() != "https://hooks.example.com/a" {
			t.Fatalf("a revalidated read returned %+v", got)
		}
	}
	st := sim.Stats()
	if st.NotModified != 5 || st.Spent != 0 {
		t.Errorf("5 unchanged reads: %d answered 304, %d spent rate limit; want 5 and 0", st.NotModified, st.Spent)
	}
	if _, remaining, _, _ := sim.RateLimit(testToken); remaining != remainingBefore {
		t.Errorf("rate limit remaining went from %d to %d over unchanged reads", remainingBefore, remaining)
	}

	// A change behind the client's back is seen at once: the ETag differs.
	if _, err := sim.EditHook("acme/api", created.GetID(), func(h *githubsim.Hook) { h.Events = []string{"issues"} }); err != nil {
		t.Fatal(err)
	}
	got, err := hooks.Get(ctx, created.GetID())
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Events) != 1 || got.Events[0] != "issues" {
		t.Errorf("after a change on GitHub the read returned events %v, want [issues]", got.Events)
	}
}

func TestETagCacheIsKeyedByCredentials(t *testing.T) {
	sim := newSim(t)
	sim.AddToken("ghp_second_token_abcdefghijklmnopqrst", []string{"admin:repo_hook"}, "acme/api")
	f := NewFactory(WithMutationInterval(0))
	first := repoHooks(t, f, sim, testToken)
	second := repoHooks(t, f, sim, "ghp_second_token_abcdefghijklmnopqrst")
	ctx := context.Background()
	created, err := first.Create(ctx, newHook("https://hooks.example.com/a", "push"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := first.Get(ctx, created.GetID()); err != nil {
		t.Fatal(err)
	}
	sim.ResetStats()
	if _, err := second.Get(ctx, created.GetID()); err != nil {
		t.Fatal(err)
	}
	if st := sim.Stats(); st.NotModified != 0 {
		t.Error("another token's read was made conditional with the first token's ETag")
	}
}

func TestETagTransportPassesThroughWhatItCannotCache(t *testing.T) {
	var inm []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inm = append(inm, r.Header.Get("If-None-Match"))
		switch r.URL.Path {
		case "/gone":
			w.WriteHeader(http.StatusNotFound)
		case "/no-etag":
			_, _ = io.WriteString(w, "{}")
		default:
			if r.Header.Get("If-None-Match") == `"v1"` {
				w.Header().Set("X-Ratelimit-Remaining", "41")
				w.WriteHeader(http.StatusNotModified)
				return
			}
			w.Header().Set("ETag", `"v1"`)
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("X-Ratelimit-Remaining", "42")
			_, _ = io.WriteString(w, `{"id":1}`)
		}
	}))
	defer srv.Close()
	cache := NewETagCache(1)
	client := &http.Client{Transport: NewETagTransport(cache, http.DefaultTransport)}
	get := func(path string) (*http.Response, string) {
		t.Helper()
		resp, err := client.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b := testenv.ReadBody(t, resp)
		return resp, string(b)
	}

	get("/a")
	resp, body := get("/a")
	if resp.StatusCode != http.StatusOK || body != `{"id":1}` || resp.Header.Get(RevalidatedHeader) != "1" {
		t.Errorf("revalidated answer: %d %q revalidated=%q", resp.StatusCode, body, resp.Header.Get(RevalidatedHeader))
	}
	if resp.Header.Get("X-Ratelimit-Remaining") != "41" || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("revalidated answer must carry the 304's rate limit and the cached content type: %v", resp.Header)
	}
	get("/no-etag")
	get("/no-etag")
	if inm[3] != "" {
		t.Error("a request without a cached ETag was made conditional")
	}
	get("/b") // evicts /a (cache size 1)
	inm = nil
	get("/a")
	if inm[0] != "" {
		t.Error("an evicted entry was still used")
	}
	if cache.Len() != 1 {
		t.Errorf("cache holds %d entries, bound is 1", cache.Len())
	}
	// A POST to a URL forgets its cached read.
	if _, err := client.Post(srv.URL+"/a", "application/json", nil); err != nil {
		t.Fatal(err)
	}
	inm = nil
	get("/a")
	if inm[0] != "" {
		t.Error("the cached read survived a POST to the same URL")
	}
}
