package harness

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// Answer is one delivery a Balancer passed on, and who answered it how.
type Answer struct {
	GUID    string
	Backend string
	Code    int
	At      time.Time
}

// Balancer spreads deliveries over several receivers in turn, as a
// Kubernetes Service spreads them over the replicas; a receiver that does
// not answer makes the delivery fail with 502, as an ingress answers when
// its backend is gone.
type Balancer struct {
	server   *httptest.Server
	backends []string
	next     atomic.Uint64

	mu      sync.Mutex
	answers []Answer
}

// NewBalancer starts a balancer on loopback in front of the receivers at
// backends (host:port).
func NewBalancer(backends ...string) *Balancer {
	b := &Balancer{backends: backends}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			backend := b.backends[b.next.Add(1)%uint64(len(b.backends))]
			r.SetURL(&url.URL{Scheme: "http", Host: backend})
			r.Out.Header.Set("X-Balancer-Backend", backend)
		},
		ModifyResponse: func(resp *http.Response) error {
			b.record(resp.Request.Header.Get("X-GitHub-Delivery"), resp.Request.Header.Get("X-Balancer-Backend"), resp.StatusCode)
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, _ error) {
			b.record(r.Header.Get("X-GitHub-Delivery"), r.Header.Get("X-Balancer-Backend"), http.StatusBadGateway)
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	b.server = httptest.NewServer(proxy)
	return b
}

func (b *Balancer) record(guid, backend string, code int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.answers = append(b.answers, Answer{GUID: guid, Backend: backend, Code: code, At: time.Now()})
}

// URL is the balancer's URL, the public URL of the receivers behind it.
func (b *Balancer) URL() string { return b.server.URL }

// Answers returns what passed through so far.
func (b *Balancer) Answers() []Answer {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]Answer(nil), b.answers...)
}

// Close stops the balancer.
func (b *Balancer) Close() { b.server.Close() }
