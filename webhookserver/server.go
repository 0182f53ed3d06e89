// Package webhookserver is hookwarden's delivery receiver: an HTTP server,
// run in every replica, that validates GitHub's webhook deliveries for each
// GitHubIntegration, answers them at once, and records what happened on the
// integration's status, coalesced so that the Kubernetes API sees at most
// one write per integration per flush interval.
//
// The request path reads only memory: integrations come from the manager's
// informer, and webhook secrets from a small store filled by reading the
// Secrets that integrations reference when they (or their metadata) change.
//
// One file, one job: server.go is the server's lifecycle; screen.go and
// handler.go answer a request; limits.go, fairshare.go, connlimit.go,
// bodybudget.go and memory.go are the abuse limits; dedupe.go remembers
// answered deliveries; queue.go is the recording queue and its Events;
// recorder.go and delta.go write status, coalesced; store.go and
// secrets.go keep integrations and their webhook secrets in memory. What a
// delivery is (its signature, checks, payload and the event table) is
// package internal/delivery, which knows nothing of Kubernetes.
package webhookserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/zapr"
	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/certwatcher"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/hookwarden/hookwarden/internal/logging"
)

const (
	// EventReasonPullRequestLinked is the reason of the Event emitted when a
	// pull request's body names a link key.
	EventReasonPullRequestLinked = "PullRequestLinked"
	// eventRecorderName is the reporting component of the receiver's Events.
	eventRecorderName = "hookwarden-receiver"
	// recordWorkers drain the recording queue.
	recordWorkers = 2
	// recordBatchPause is how long a recording worker waits after recording
	// before it takes the next deliveries, so that under load it records
	// them in batches (drainQueue).
	recordBatchPause = time.Millisecond
	// secretWorkers read webhook secrets.
	secretWorkers = 4
	// shutdownTimeout bounds how long in-flight deliveries may finish.
	shutdownTimeout = 15 * time.Second
)

// Server is the delivery receiver. It is a manager.Runnable that runs in
// every replica (NeedLeaderElection is false).
type Server struct {
	opts   Options
	policy sourcePolicy
	log    logr.Logger
	// zapLog is log's zap.Logger when it has one: the line per delivery is
	// written through it directly, with typed fields.
	zapLog *zap.Logger
	// answerLine writes the line per delivery through zapLog at a
	// fraction of the cost of zap's encoder, with the same bytes.
	answerLine *logging.Line

	// Kubernetes access; nil in handler-only tests.
	cache      cache.Cache
	apiReader  client.Reader
	events     events.EventRecorder
	tlsWatcher *certwatcher.CertWatcher

	store     *store
	dedupe    *dedupeCache
	queue     chan queued
	recorder  *statusRecorder
	rejects   *rejectLimiter
	allowlist *sourceAllowlist
	// conns, inflight and bodies are the fair shares of the connections,
	// of the deliveries being read and verified, and of the body budget.
	conns    *fairShare
	inflight *fairShare
	bodies   *fairShare
	// lingers is the lingering closes, a few per source.
	lingers *fairShare
	buffers *bodyBuffers
	secretQ workqueue.TypedRateLimitingInterface[types.NamespacedName]

	// pending is, while the receiver starts, the integrations whose
	// webhook secrets were not read yet.
	pending       atomic.Pointer[pendingLoads]
	addr          atomic.Pointer[string]
	secretsLoaded atomic.Bool
}

// serverDeps are what the receiver uses of the manager.
type serverDeps struct {
	cache      cache.Cache
	apiReader  client.Reader
	statusCli  client.StatusClient
	events     events.EventRecorder
	log        logr.Logger
	httpClient *http.Client
}

var _ manager.Runnable = &Server{}
var _ manager.LeaderElectionRunnable = &Server{}

// New returns the receiver for the manager's cluster. Add it with
// mgr.Add and its ReadyCheck with mgr.AddReadyzCheck.
func New(mgr manager.Manager, opts Options) (*Server, error) {
	return newServer(opts, serverDeps{
		cache:      mgr.GetCache(),
		apiReader:  mgr.GetAPIReader(),
		statusCli:  mgr.GetClient(),
		events:     mgr.GetEventRecorder(eventRecorderName),
		log:        mgr.GetLogger().WithName("receiver"),
		httpClient: &http.Client{Timeout: time.Minute},
	})
}

func newServer(opts Options, deps serverDeps) (*Server, error) {
	opts = opts.withDefaults()
	policy, err := parseSourcePolicy(opts)
	if err != nil {
		return nil, fmt.Errorf("receiver options: %w", err)
	}
	if deps.httpClient == nil {
		deps.httpClient = http.DefaultClient
	}
	s := &Server{
		opts:      opts,
		policy:    policy,
		log:       deps.log,
		cache:     deps.cache,
		apiReader: deps.apiReader,
		events:    deps.events,
		store:     newStore(),
		dedupe:    newDedupeCache(opts.DedupeSize),
		queue:     make(chan queued, opts.QueueSize),
		recorder: newStatusRecorder(deps.cache, deps.apiReader, deps.statusCli, deps.log,
			opts.StatusFlushInterval, opts.StatusWriteRate, clock.RealClock{}),
		rejects:   newRejectLimiter(opts.RejectedRate, opts.RejectedBurst),
		allowlist: newSourceAllowlist(policy, opts.GitHubURL, opts.metaInterval, deps.httpClient, deps.log),
		conns: newFairShare(int64(opts.MaxConnections), int64(opts.MaxConnectionsPerIP),
			int64(opts.MaxConnectionsPerIP)),
		inflight: newFairShare(int64(opts.MaxInflight), int64(max(1, opts.MaxInflight/8)), int64(opts.MaxInflight/8)),
		bodies:   newFairShare(opts.BodyBudget, opts.bodyShare(), opts.bodyReserve()),
		buffers:  newBodyBuffers(),
		lingers:  newFairShare(int64(max(1, opts.MaxConnections/4)), lingersPerSource, 0),
		secretQ: workqueue.NewTypedRateLimitingQueue(
			workqueue.DefaultTypedControllerRateLimiter[types.NamespacedName]()),
	}
	// The limits bound the receiver's memory; say so when they do not fit
	// the Go runtime's memory limit (GOMEMLIMIT) with room for the rest.
	if limit, worst := debug.SetMemoryLimit(-1), opts.WorstCaseMemory().Total(); limit < math.MaxInt64 &&
		worst+ReconcilerMemory > limit {
		deps.log.Info("Receiver limits may exceed the memory limit: lower them or raise the limit",
			"worstCaseMiB", worst>>20, "reconcilerMiB", ReconcilerMemory>>20, "memoryLimitMiB", limit>>20)
	}
	if u, ok := deps.log.GetSink().(zapr.Underlier); ok {
		s.zapLog = u.GetUnderlying()
		s.answerLine = logging.NewLine(s.zapLog, deliveryAnswered)
	}
	if opts.CertDir != "" {
		s.tlsWatcher, err = certwatcher.New(filepath.Join(opts.CertDir, "tls.crt"), filepath.Join(opts.CertDir, "tls.key"))
		if err != nil {
			return nil, fmt.Errorf("receiver TLS certificate in %s: %w", opts.CertDir, err)
		}
	}
	return s, nil
}

// NeedLeaderElection is false: every replica receives deliveries.
func (s *Server) NeedLeaderElection() bool { return false }

// Addr is the address the receiver listens on, "" until it listens.
func (s *Server) Addr() string {
	if a := s.addr.Load(); a != nil {
		return *a
	}
	return ""
}

// ReadyCheck is the receiver's readiness check for /readyz: ready once the
// integrations are synced, their webhook secrets were read, GitHub's hooks
// ranges are known (when allowed sources come from GitHub) and the receiver
// listens.
func (s *Server) ReadyCheck() healthz.Checker {
	return func(*http.Request) error {
		switch {
		case !s.secretsLoaded.Load():
			return errors.New("receiver: integrations and webhook secrets not loaded yet")
		case !s.allowlist.loaded():
			return errors.New("receiver: GitHub's hooks ranges not loaded yet")
		case s.Addr() == "":
			return errors.New("receiver: not listening yet")
		}
		return nil
	}
}

// Start watches integrations and their Secrets, reads their webhook
// secrets, and serves until ctx ends; it then stops accepting, lets
// in-flight deliveries finish and records what was answered.
func (s *Server) Start(ctx context.Context) error {
	if err := s.watch(ctx); err != nil {
		return err
	}
	if !s.cache.WaitForCacheSync(ctx) {
		return errors.New("receiver: caches did not sync")
	}
	s.loadAllSecrets(ctx)
	if ctx.Err() != nil {
		return nil
	}
	s.secretsLoaded.Store(true)

	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.opts.BindAddress)
	if err != nil {
		return fmt.Errorf("receiver: listen on %s: %w", s.opts.BindAddress, err)
	}
	srv := s.httpServer()
	ln = s.limitListener(ln, s.tlsWatcher == nil)
	if s.tlsWatcher != nil {
		go func() {
			if err := s.tlsWatcher.Start(ctx); err != nil {
				s.log.Error(err, "Receiver certificate watcher stopped")
			}
		}()
		ln = tls.NewListener(ln, s.tlsConfig())
	}

	stopWork := s.startWorkers(ctx)
	defer stopWork()
	go s.rejects.run(ctx)
	go s.allowlist.run(ctx)

	addr := ln.Addr().String()
	s.addr.Store(&addr)
	s.log.Info("Receiver listening", "address", addr, "tls", s.tlsWatcher != nil)

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Server.Serve(ln) }()
	select {
	case err := <-serveErr:
		return fmt.Errorf("receiver: serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.ShutdownWithContext(shutdownCtx); err != nil {
		return fmt.Errorf("receiver: shut down: %w", err)
	}
	return nil
}

// httpServer is the receiver's HTTP server. Its Serve applies the
// connection limits to a plain listener; Start composes them with TLS.
type httpServer struct {
	*fasthttp.Server
	s *Server
}

// Serve serves on ln with the receiver's connection limits.
func (h httpServer) Serve(ln net.Listener) error {
	return h.Server.Serve(h.s.limitListener(ln, true))
}

// httpServer returns the HTTP server with the receiver's limits. It is
// fasthttp's HTTP/1.1 server (GitHub delivers over HTTP/1.1): its per-request
// cost is about half of net/http's, which is what lets the receiver verify
// and parse a delivery within the budget of docs/performance.md. The limits net/http would
// take as ReadHeaderTimeout, ReadTimeout and MaxHeaderBytes are the read
// deadline until the headers are in, the one HeaderReceived sets for the body,
// and the read buffer, which a request's headers must fit.
func (s *Server) httpServer() httpServer {
	return httpServer{s: s, Server: &fasthttp.Server{
		Handler:        s.serve,
		ErrorHandler:   s.serveMalformed,
		HeaderReceived: s.headerReceived,
		// Answers 100 Continue only to what may be accepted, and the final
		// answer to the rest (fasthttp would send 100 to anything).
		ExpectHandler:  s.expect,
		ReadTimeout:    readHeaderTimeout,
		WriteTimeout:   writeTimeout,
		IdleTimeout:    idleTimeout,
		ReadBufferSize: maxHeaderBytes,
		// The listener admits at most MaxConnections; this is a backstop.
		Concurrency: s.opts.MaxConnections,
		// Idle keep-alive connections give back their read and write
		// buffers: an idle connection costs a goroutine and little else.
		ReduceMemoryUsage: true,
		// The handler reads the body itself, with the cap, once it knows the
		// integration: a request for nothing is never read further.
		StreamRequestBody:  true,
		MaxRequestBodySize: MaxBodyBytes,
		// A delivery is never multipart: do not spool such a body to disk.
		DisablePreParseMultipartForm: true,
		NoDefaultServerHeader:        true,
		SecureErrorLogMessage:        true,
		CloseOnShutdown:              true,
		Logger:                       logPrinter{s.log.V(1)},
	}}
}

// tlsConfig serves the watched certificate.
func (s *Server) tlsConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: s.tlsWatcher.GetCertificate,
		NextProtos: []string{"http/1.1"}}
}

// serveMalformed answers a request the server could not read: headers too
// large, headers not in within readHeaderTimeout, or bytes that are not
// HTTP. (Bodies are the handler's to read, with the cap.) It never echoes
// what was read.
func (s *Server) serveMalformed(ctx *fasthttp.RequestCtx, err error) {
	a := errorAnswer(http.StatusBadRequest, "malformed HTTP request")
	var small *fasthttp.ErrSmallBuffer
	var timeout interface{ Timeout() bool }
	switch {
	case errors.As(err, &small):
		a = errorAnswer(http.StatusRequestHeaderFieldsTooLarge, "request headers too large")
	case errors.As(err, &timeout) && timeout.Timeout():
		a = errorAnswer(http.StatusRequestTimeout, "request not received in time")
	}
	src, _ := netAddr(ctx.RemoteAddr())
	// The client may still be sending: let it read the answer.
	s.lingerOnClose(ctx.Conn(), source{src, src.IsValid()})
	s.finish(ctx, a, source{src, src.IsValid()}, time.Now())
}

// logPrinter sends the HTTP server's own messages (TLS handshake errors and
// the like) to the receiver's log.
type logPrinter struct{ log logr.Logger }

func (p logPrinter) Printf(format string, args ...any) {
	p.log.Info(strings.TrimSpace(fmt.Sprintf(format, args...)))
}
