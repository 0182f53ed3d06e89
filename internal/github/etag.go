package github

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"

	lru "github.com/hashicorp/golang-lru/v2"
)

// DefaultETagCacheSize bounds the ETag cache: one entry per hook read, so
// this covers thousands of integrations.
const DefaultETagCacheSize = 20_000

// RevalidatedHeader is set on responses the ETagTransport served from its
// cache after GitHub answered 304 Not Modified.
const RevalidatedHeader = "X-Hookwarden-Revalidated"

// maxCachedBody keeps large list pages out of the cache.
const maxCachedBody = 1 << 20

// ETagCache remembers the last 200 answer of GET requests with an ETag,
// keyed by URL and a fingerprint of the Authorization header (answers
// depend on who asks). It evicts the least recently used entry when full.
type ETagCache struct {
	entries *lru.Cache[string, *etagEntry]
}

type etagEntry struct {
	etag   string
	header http.Header
	body   []byte
}

// NewETagCache returns a cache of at most size entries.
func NewETagCache(size int) *ETagCache {
	if size <= 0 {
		size = DefaultETagCacheSize
	}
	// New fails only for a size below 1.
	entries, _ := lru.New[string, *etagEntry](size)
	return &ETagCache{entries: entries}
}

// Len is the number of cached answers.
func (c *ETagCache) Len() int { return c.entries.Len() }

func (c *ETagCache) get(key string) *etagEntry {
	e, _ := c.entries.Get(key)
	return e
}

func (c *ETagCache) put(key string, e *etagEntry) { c.entries.Add(key, e) }

func (c *ETagCache) remove(key string) { c.entries.Remove(key) }

// ETagTransport makes GET requests conditional. It sends If-None-Match with
// the ETag of the last answer to the same request, and turns GitHub's 304
// Not Modified (which costs no rate limit) back into that answer with a 200
// status, so callers such as go-github, which treat a 304 as an error, see
// the current resource. The 304's own headers (rate limit, request ID) are
// kept on the answer; RevalidatedHeader marks it.
type ETagTransport struct {
	cache *ETagCache
	next  http.RoundTripper
	// scope keys the cache when the credentials are added below this
	// transport (GitHub App authentication), where the Authorization
	// header is not seen.
	scope string
}

// NewETagTransport returns an ETagTransport over next using cache.
func NewETagTransport(cache *ETagCache, next http.RoundTripper) *ETagTransport {
	return &ETagTransport{cache: cache, next: next}
}

// RoundTrip implements http.RoundTripper.
func (t *ETagTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	key := t.scope + cacheKey(req)
	if req.Method != http.MethodGet {
		// A change through the API makes the cached read stale; its ETag
		// would not match anyway, but there is no point keeping it.
		if req.Method != http.MethodHead {
			t.cache.remove(key)
		}
		return t.next.RoundTrip(req)
	}
	if req.Header.Get("If-None-Match") != "" || req.Header.Get("Range") != "" {
		// The caller does its own conditional request.
		return t.next.RoundTrip(req)
	}

	cached := t.cache.get(key)
	if cached != nil {
		req = req.Clone(req.Context())
		req.Header.Set("If-None-Match", cached.etag)
	}
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	switch {
	case resp.StatusCode == http.StatusNotModified && cached != nil:
		return revalidated(resp, cached), nil
	case resp.StatusCode == http.StatusOK && resp.Header.Get("ETag") != "":
		return t.store(key, resp)
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		t.cache.remove(key)
	}
	return resp, nil
}

// store keeps a copy of a 200 answer's body and returns the answer with a
// fresh body reader.
func (t *ETagTransport) store(key string, resp *http.Response) (*http.Response, error) {
	if resp.ContentLength > maxCachedBody {
		return resp, nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxCachedBody+1))
	closeErr := resp.Body.Close()
	if err != nil {
		return nil, err
	}
	if closeErr != nil {
		return nil, closeErr
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if len(body) > maxCachedBody {
		return resp, nil
	}
	t.cache.put(key, &etagEntry{etag: resp.Header.Get("ETag"), header: resp.Header.Clone(), body: body})
	return resp, nil
}

// revalidated builds the cached answer for a 304: the cached body and
// content headers, the 304's other headers.
func revalidated(notModified *http.Response, cached *etagEntry) *http.Response {
	_ = notModified.Body.Close()
	header := notModified.Header.Clone()
	for _, h := range []string{"Content-Type", "Link", "Last-Modified"} {
		if v := cached.header.Get(h); v != "" && header.Get(h) == "" {
			header.Set(h, v)
		}
	}
	header.Set(RevalidatedHeader, "1")
	header.Del("Content-Length")
	return &http.Response{
		Status:        "200 OK",
		StatusCode:    http.StatusOK,
		Proto:         notModified.Proto,
		ProtoMajor:    notModified.ProtoMajor,
		ProtoMinor:    notModified.ProtoMinor,
		Header:        header,
		Body:          io.NopCloser(bytes.NewReader(cached.body)),
		ContentLength: int64(len(cached.body)),
		Request:       notModified.Request,
		TLS:           notModified.TLS,
	}
}

// cacheKey is the request URL and a fingerprint of its credentials.
func cacheKey(req *http.Request) string {
	sum := sha256.Sum256([]byte(req.Header.Get("Authorization")))
	return hex.EncodeToString(sum[:8]) + " " + req.URL.String()
}
