package harness

import (
	"context"
	"net"
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
// Kubernetes Service spreads them over the ready replicas. A receiver that
// cannot be reached makes the delivery fail with 502, as an ingress answers
// when its backend is gone, and leaves the rotation until it accepts
// connections again, as a pod that fails its readiness probe leaves the
// Service's endpoints.
type Balancer struct {
	server   *httptest.Server
	backends []string
	down     []atomic.Bool
	next     atomic.Uint64
	stop     chan struct{}

	mu      sync.Mutex
	answers []Answer
}

// NewBalancer starts a balancer on loopback in front of the receivers at
// backends (host:port).
func NewBalancer(backends ...string) *Balancer {
	b := &Balancer{backends: backends, down: make([]atomic.Bool, len(backends))}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			backend := b.pick()
			r.SetURL(&url.URL{Scheme: "http", Host: backend})
			r.Out.Header.Set("X-Balancer-Backend", backend)
		},
		ModifyResponse: func(resp *http.Response) error {
			b.record(resp.Request.Header.Get("X-GitHub-Delivery"), resp.Request.Header.Get("X-Balancer-Backend"), resp.StatusCode)
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, _ error) {
			b.markDown(r.Header.Get("X-Balancer-Backend"))
			b.record(r.Header.Get("X-GitHub-Delivery"), r.Header.Get("X-Balancer-Backend"), http.StatusBadGateway)
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	b.server = httptest.NewServer(proxy)
	b.stop = make(chan struct{})
	go b.probe()
	return b
}

// probe checks every backend four times a second, as a readiness probe.
func (b *Balancer) probe() {
	ticker := time.NewTicker(250 * time.Millisecond)
	defer ticker.Stop()
	for {
		for i, backend := range b.backends {
			dialer := net.Dialer{Timeout: time.Second}
			conn, err := dialer.DialContext(context.Background(), "tcp", backend)
			if err == nil {
				_ = conn.Close()
			}
			b.down[i].Store(err != nil)
		}
		select {
		case <-b.stop:
			return
		case <-ticker.C:
		}
	}
}

// pick returns the next backend in the rotation (the next of all when
// every one is down).
func (b *Balancer) pick() string {
	n := b.next.Add(1)
	for i := range uint64(len(b.backends)) {
		j := (n + i) % uint64(len(b.backends))
		if !b.down[j].Load() {
			return b.backends[j]
		}
	}
	return b.backends[n%uint64(len(b.backends))]
}

func (b *Balancer) markDown(backend string) {
	for i, be := range b.backends {
		if be == backend {
			b.down[i].Store(true)
		}
	}
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
func (b *Balancer) Close() {
	close(b.stop)
	b.server.Close()
}
