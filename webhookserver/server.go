// Package webhookserver is hookwarden's delivery receiver: an HTTP server,
// run in every replica, that validates GitHub's webhook deliveries for each
// GitHubIntegration, answers them at once, and records what happened on the
// integration's status, coalesced so that the Kubernetes API sees at most
// one write per integration per flush interval.
//
// The request path reads only memory: integrations come from the manager's
// informer, and webhook secrets from a small store filled by reading the
// Secrets that integrations reference when they (or their metadata) change.
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
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/zapr"
	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/certwatcher"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
)

const (
	// EventReasonPullRequestLinked is the reason of the Event emitted when a
	// pull request's body names a link key.
	EventReasonPullRequestLinked = "PullRequestLinked"
	// eventRecorderName is the reporting component of the receiver's Events.
	eventRecorderName = "hookwarden-receiver"
	// recordWorkers drain the recording queue.
	recordWorkers = 2
	// secretWorkers read webhook secrets.
	secretWorkers = 4
	// shutdownTimeout bounds how long in-flight deliveries may finish.
	shutdownTimeout = 15 * time.Second
)

// queued is an answered delivery waiting to be recorded.
type queued struct {
	key types.NamespacedName
	rec *record
}

// Server is the delivery receiver. It is a manager.Runnable that runs in
// every replica (NeedLeaderElection is false).
type Server struct {
	opts   Options
	policy sourcePolicy
	log    logr.Logger
	// zapLog is log's zap.Logger when it has one: the line per delivery is
	// written through it directly, with typed fields.
	zapLog *zap.Logger

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
		recorder:  newStatusRecorder(deps.cache, deps.apiReader, deps.statusCli, deps.log),
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
	go s.runSecretWorkers(ctx)
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
// and parse a delivery within SPEC §4's budget. The limits net/http would
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

// startWorkers starts the queue workers and the status recorder. The
// returned function stops them after recording everything queued.
func (s *Server) startWorkers(ctx context.Context) (stop func()) {
	work, stopQueue := context.WithCancel(context.WithoutCancel(ctx))
	var workers sync.WaitGroup
	for range recordWorkers {
		workers.Go(func() { s.drainQueue(work) })
	}
	flush, stopFlush := context.WithCancel(context.WithoutCancel(ctx))
	var flusher sync.WaitGroup
	flusher.Go(func() { s.recorder.run(flush, s.opts.StatusFlushInterval) })
	return func() {
		stopQueue()
		workers.Wait()
		stopFlush()
		flusher.Wait()
	}
}

// enqueue hands a record to the workers; false when the queue is full.
func (s *Server) enqueue(key types.NamespacedName, rec *record) bool {
	select {
	case s.queue <- queued{key: key, rec: rec}:
		return true
	default:
		return false
	}
}

// drainQueue records queued deliveries until ctx ends, then what is left.
func (s *Server) drainQueue(ctx context.Context) {
	for {
		select {
		case q := <-s.queue:
			s.recordDelivery(q)
		case <-ctx.Done():
			for {
				select {
				case q := <-s.queue:
					s.recordDelivery(q)
				default:
					return
				}
			}
		}
	}
}

// recordDelivery adds a delivery to its integration's pending status and
// emits a PullRequestLinked Event when a pull request gains a link key.
func (s *Server) recordDelivery(q queued) {
	if s.opts.BeforeRecord != nil {
		s.opts.BeforeRecord()
	}
	if pr := q.rec.pullRequest; pr != nil && pr.LinkKey != "" && s.linkAppears(q.key, pr) {
		s.emitLinked(q.key, pr)
	}
	s.recorder.add(q.key, q.rec)
}

// linkAppears reports whether neither the pending status nor the status
// last seen links the pull request to the same key.
func (s *Server) linkAppears(key types.NamespacedName, pr *hookv1.PullRequestStatus) bool {
	k := itemKey{pr.Repository, pr.Number}
	if linked, ok := s.recorder.pendingPullRequest(key, k); ok {
		return linked != pr.LinkKey
	}
	linked, _ := s.store.linkedKey(key, k)
	return linked != pr.LinkKey
}

func (s *Server) emitLinked(key types.NamespacedName, pr *hookv1.PullRequestStatus) {
	in, _, ok := s.store.lookup(key)
	if !ok || s.events == nil {
		return
	}
	obj := &hookv1.GitHubIntegration{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name, UID: in.uid}}
	obj.SetGroupVersionKind(hookv1.GroupVersion.WithKind("GitHubIntegration"))
	s.events.Eventf(obj, nil, corev1.EventTypeNormal, EventReasonPullRequestLinked, "Link",
		"Pull request %s#%d links %s %q", pr.Repository, pr.Number, in.pullRequestKey, pr.LinkKey)
}

// watch registers the informer handlers that keep the store current.
func (s *Server) watch(ctx context.Context) error {
	integrations, err := s.cache.GetInformer(ctx, &hookv1.GitHubIntegration{})
	if err != nil {
		return fmt.Errorf("receiver: watch GitHubIntegrations: %w", err)
	}
	if _, err := integrations.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { s.onIntegration(obj) },
		UpdateFunc: func(_, obj any) { s.onIntegration(obj) },
		DeleteFunc: s.onIntegrationDeleted,
	}); err != nil {
		return fmt.Errorf("receiver: watch GitHubIntegrations: %w", err)
	}

	secretMeta := &metav1.PartialObjectMetadata{}
	secretMeta.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	secretsInformer, err := s.cache.GetInformer(ctx, secretMeta)
	if err != nil {
		return fmt.Errorf("receiver: watch Secret metadata: %w", err)
	}
	if _, err := secretsInformer.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc: s.onSecret,
		UpdateFunc: func(old, obj any) {
			if o, n := metaOf(old), metaOf(obj); o == nil || n == nil || o.GetResourceVersion() != n.GetResourceVersion() {
				s.onSecret(obj)
			}
		},
		DeleteFunc: s.onSecret,
	}); err != nil {
		return fmt.Errorf("receiver: watch Secret metadata: %w", err)
	}
	return nil
}

func (s *Server) onIntegration(obj any) {
	gi, ok := obj.(*hookv1.GitHubIntegration)
	if !ok {
		return
	}
	if s.store.upsert(newIntegration(gi)) {
		s.secretQ.Add(client.ObjectKeyFromObject(gi))
	}
}

func (s *Server) onIntegrationDeleted(obj any) {
	if tomb, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	if m := metaOf(obj); m != nil {
		s.store.remove(types.NamespacedName{Namespace: m.GetNamespace(), Name: m.GetName()})
	}
}

// onSecret re-reads the webhook secrets of the integrations that use the
// Secret. Other Secrets are ignored and nothing of them is kept.
func (s *Server) onSecret(obj any) {
	if tomb, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	m := metaOf(obj)
	if m == nil {
		return
	}
	for _, key := range s.store.referrersOf(types.NamespacedName{Namespace: m.GetNamespace(), Name: m.GetName()}) {
		s.secretQ.Add(key)
	}
}

func metaOf(obj any) metav1.Object {
	m, _ := obj.(metav1.Object)
	return m
}

// loadAllSecrets reads the secrets of every integration known at start, so
// the receiver is ready only when it can validate their deliveries.
func (s *Server) loadAllSecrets(ctx context.Context) {
	keys := s.store.keys()
	sem := make(chan struct{}, secretWorkers)
	var wg sync.WaitGroup
	for _, key := range keys {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := s.refreshSecrets(ctx, key); err != nil {
				s.secretQ.AddRateLimited(key)
			}
		})
	}
	wg.Wait()
}

// runSecretWorkers re-reads secrets as integrations and Secrets change.
func (s *Server) runSecretWorkers(ctx context.Context) {
	go func() {
		<-ctx.Done()
		s.secretQ.ShutDown()
	}()
	var wg sync.WaitGroup
	for range secretWorkers {
		wg.Go(func() {
			for {
				key, shutdown := s.secretQ.Get()
				if shutdown {
					return
				}
				if err := s.refreshSecrets(ctx, key); err != nil {
					s.secretQ.AddRateLimited(key)
				} else {
					s.secretQ.Forget(key)
				}
				s.secretQ.Done(key)
			}
		})
	}
	wg.Wait()
}

// refreshSecrets reads and stores one integration's webhook secrets.
func (s *Server) refreshSecrets(ctx context.Context, key types.NamespacedName) error {
	in, _, ok := s.store.lookup(key)
	if !ok {
		return nil
	}
	st, err := readSecrets(ctx, s.apiReader, in)
	if err != nil {
		s.log.Error(err, "Failed to read the webhook secret; retrying", "integration", key.String())
		return err
	}
	st.logProblem(s.log, key.String())
	s.store.setSecrets(key, st)
	return nil
}
