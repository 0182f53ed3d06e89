package webhookserver

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/valyala/fasthttp"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/hookwarden/hookwarden/internal/delivery"
	"github.com/hookwarden/hookwarden/internal/testenv"
	"github.com/hookwarden/hookwarden/internal/testfixtures"
)

// benchSizes are the payload sizes of the throughput targets in docs/performance.md.
var benchSizes = []benchSize{{"push-7KB", 7 << 10}, {"push-256KB", 256 << 10}}

type benchSize struct {
	name  string
	bytes int
}

// pushOfSize returns the benchmarks' push payload of at least size bytes.
func pushOfSize(tb testing.TB, size int) []byte {
	tb.Helper()
	raw, err := testfixtures.PushOfSize(size)
	if err != nil {
		tb.Fatal(err)
	}
	return raw
}

// serveLoopback serves h on a loopback port and returns its URL.
func serveLoopback(b *testing.B, h http.Handler) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := benchHTTPServer(h)
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}

// serveReceiverLoopback serves the receiver on a loopback port and returns
// its URL.
func serveReceiverLoopback(b *testing.B, s *Server) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := s.httpServer()
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(func() { _ = srv.Shutdown() })
	return "http://" + ln.Addr().String()
}

// benchReceiver starts a receiver whose status writes go to a fake client,
// logging its line per delivery through zap to io.Discard.
func benchReceiver(b *testing.B) (*Server, *atomic.Int64) {
	b.Helper()
	s, patches, stop, err := newBenchReceiver(zap.New(zap.WriteTo(io.Discard)).WithName("receiver"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(stop)
	return s, patches
}

// newBenchReceiver returns a receiver of testIntegration with testSecret,
// whose status writes go to a fake client and are counted, with its workers
// started; stop records what is queued and stops them.
func newBenchReceiver(log logr.Logger) (s *Server, patches *atomic.Int64, stop func(), err error) {
	gi := testIntegration()
	cl := fake.NewClientBuilder().WithScheme(testenv.NewScheme()).WithObjects(gi).WithStatusSubresource(gi).Build()
	patches = &atomic.Int64{}
	s, err = newServer(Options{}, serverDeps{log: log})
	if err != nil {
		return nil, nil, nil, err
	}
	counted := countingStatusClient{StatusClient: cl, patches: patches, conflicts: &atomic.Int64{}}
	s.recorder = newStatusRecorder(cl, cl, counted, log, s.opts.StatusFlushInterval, s.opts.StatusWriteRate, clock.RealClock{})
	s.store.upsert(newIntegration(gi))
	s.store.setSecrets(testKey, &secretState{secrets: delivery.Secrets{Current: []byte(testSecret)}})
	return s, patches, s.startWorkers(context.Background()), nil
}

// runLoad posts payload to url from parallel clients and reports the 99th
// percentile latency.
func runLoad(b *testing.B, url string, payload []byte, wantCode int) {
	b.Helper()
	sig := delivery.Signature([]byte(testSecret), payload)
	transport := &http.Transport{MaxIdleConnsPerHost: 256, DisableCompression: true}
	defer transport.CloseIdleConnections()
	httpClient := &http.Client{Transport: transport}
	var mu sync.Mutex
	var latencies []time.Duration
	b.SetBytes(int64(len(payload)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		local := make([]time.Duration, 0, 1024)
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(payload))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set(delivery.HeaderEvent, "push")
			req.Header.Set(delivery.HeaderDelivery, newGUID())
			req.Header.Set(delivery.HeaderHookID, testHookID)
			req.Header.Set(delivery.HeaderSignature256, sig)
			start := time.Now()
			resp, err := httpClient.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			local = append(local, time.Since(start))
			if resp.StatusCode != wantCode {
				b.Errorf("answered %d, want %d", resp.StatusCode, wantCode)
				return
			}
		}
		mu.Lock()
		latencies = append(latencies, local...)
		mu.Unlock()
	})
	b.StopTimer()
	if len(latencies) > 0 {
		slices.Sort(latencies)
		b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds()), "p99-µs")
	}
}

// BenchmarkReceiver measures the receiver through loopback HTTP: signature,
// parsing, dedupe, queueing and the log line, with status recording running.
func BenchmarkReceiver(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(size.name, func(b *testing.B) {
			s, patches := benchReceiver(b)
			url := serveReceiverLoopback(b, s) + testIntegration().ReceiverPath()
			payload := pushOfSize(b, size.bytes)
			runLoad(b, url, payload, http.StatusOK)
			b.ReportMetric(float64(patches.Load())/float64(b.N), "writes/delivery")
		})
	}
}

// BenchmarkBareHandler is the baseline: a net/http handler that only reads
// the body.
func BenchmarkBareHandler(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(size.name, func(b *testing.B) {
			url := serveLoopback(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				w.WriteHeader(http.StatusOK)
			})) + testIntegration().ReceiverPath()
			runLoad(b, url, pushOfSize(b, size.bytes), http.StatusOK)
		})
	}
}

// TestBenchmarkPayloadSizes keeps the benchmark payloads at the sizes their
// names say.
func TestBenchmarkPayloadSizes(t *testing.T) {
	for _, size := range benchSizes {
		p := pushOfSize(t, size.bytes)
		if len(p) < size.bytes || len(p) > size.bytes+1024 {
			t.Errorf("%s payload is %d bytes", size.name, len(p))
		}
		if _, rej := delivery.Validate(http.Header{"Content-Type": {"application/json"}, "X-Github-Event": {"push"},
			"X-Github-Delivery": {"d1"}, "X-Hub-Signature-256": {delivery.Signature([]byte(testSecret), p)}}, p,
			delivery.Secrets{Current: []byte(testSecret)}, time.Now()); rej != nil {
			t.Errorf("%s payload refused: %v", size.name, rej)
		}
	}
}

// BenchmarkServeDelivery measures the receiver's handler without the
// network, with allocations: what the receiver adds to the HTTP server's own
// work. The body comes as a stream, as the server (StreamRequestBody) hands
// it over, so it is read into the pooled buffers the server uses.
func BenchmarkServeDelivery(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(size.name, func(b *testing.B) {
			s, _ := benchReceiver(b)
			payload := pushOfSize(b, size.bytes)
			var req fasthttp.Request
			req.Header.SetMethod(http.MethodPost)
			req.SetRequestURI(testIntegration().ReceiverPath())
			req.Header.SetContentType("application/json")
			req.Header.Set(delivery.HeaderEvent, "push")
			req.Header.Set(delivery.HeaderHookID, testHookID)
			req.Header.Set(delivery.HeaderSignature256, delivery.Signature([]byte(testSecret), payload))
			peer := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
			var ctx fasthttp.RequestCtx
			ctx.Init(&req, peer, nil)
			body := bytes.NewReader(payload)
			b.SetBytes(int64(len(payload)))
			b.ReportAllocs()
			for b.Loop() {
				ctx.Request.Header.Set(delivery.HeaderDelivery, newGUID())
				body.Reset(payload)
				ctx.Request.SetBodyStream(body, len(payload))
				ctx.Response.Reset()
				s.serve(&ctx)
				if code := ctx.Response.StatusCode(); code != http.StatusOK {
					b.Fatalf("answered %d: %s", code, ctx.Response.Body())
				}
			}
		})
	}
}
