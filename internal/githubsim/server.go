package githubsim

import (
	"crypto/tls"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultHookCIDRs are the "hooks" ranges GitHub publishes in /meta.
var DefaultHookCIDRs = []string{
	"192.30.252.0/22",
	"185.199.108.0/22",
	"140.82.112.0/20",
	"143.55.64.0/20",
	"2a0a:a440::/29",
	"2606:50c0::/32",
}

// Default limits, as GitHub documents them.
const (
	// DefaultPrimaryLimit is the hourly request limit of a personal access
	// token or an installation.
	DefaultPrimaryLimit = 5000
	// DefaultPrimaryWindow is the period after which the primary limit resets.
	DefaultPrimaryWindow = time.Hour
	// DefaultMutationsPerMinute is GitHub's secondary limit on
	// content-creating requests (POST, PATCH, PUT, DELETE).
	DefaultMutationsPerMinute = 80
	// DefaultMutationsPerHour is GitHub's hourly secondary limit on
	// content-creating requests.
	DefaultMutationsPerHour = 500
	// DefaultPointsPerMinute is GitHub's secondary limit on REST API
	// points: a GET, HEAD or OPTIONS costs 1 point, a POST, PATCH, PUT or
	// DELETE 5.
	DefaultPointsPerMinute = 900
	// DefaultMaxConcurrent is GitHub's secondary limit on concurrent
	// requests: "No more than 100 concurrent requests are allowed. This
	// limit is shared across the REST API and GraphQL API."
	DefaultMaxConcurrent = 100
	// DefaultDeliveryTimeout is how long GitHub waits for a hook's answer.
	DefaultDeliveryTimeout = 10 * time.Second
	// DefaultRedeliveryWindow is how old a delivery may be and still be
	// redelivered.
	DefaultRedeliveryWindow = 3 * 24 * time.Hour
	// MaxHooksPerEvent is how many hooks of one target may subscribe to the
	// same event.
	MaxHooksPerEvent = 20
)

// Option configures a Server.
type Option func(*options)

type options struct {
	seed             uint64
	primary          PrimaryLimit
	secondary        SecondaryLimit
	hookCIDRs        []string
	deliveryTimeout  time.Duration
	redeliveryWindow time.Duration
	deliveryTLS      *tls.Config
	syncPings        bool
	now              func() time.Time
	// enterprise: GitHub Enterprise Server (WithEnterprise).
	enterprise           bool
	installationTokenTTL time.Duration
}

// PrimaryLimit is the request budget of each token (or App, or anonymous
// client address) per window.
type PrimaryLimit struct {
	// Limit is the number of requests per window; 0 means DefaultPrimaryLimit.
	Limit int
	// Window is how long until the budget resets after the first request;
	// 0 means DefaultPrimaryWindow.
	Window time.Duration
}

// SecondaryLimit throttles the requests of each token.
type SecondaryLimit struct {
	// MutationsPerMinute is the number of POST/PATCH/PUT/DELETE requests a
	// token may make in any rolling Period; 0 means
	// DefaultMutationsPerMinute, negative disables the secondary limit
	// altogether (points too, unless PointsPerMinute is set).
	MutationsPerMinute int
	// PointsPerMinute is the number of points a token may spend in any
	// rolling Period (1 per read, 5 per mutation); 0 means
	// DefaultPointsPerMinute, negative disables this limit.
	PointsPerMinute int
	// Period is the rolling window the limit applies to; 0 means a minute.
	Period time.Duration
	// RetryAfter is the wait announced in the retry-after header; 0 means
	// the time until the oldest mutation leaves the window (at least 1 s).
	RetryAfter time.Duration
	// MutationsPerHour is the number of mutating requests a token may make
	// in any rolling hour; 0 means DefaultMutationsPerHour, negative
	// disables it. A negative MutationsPerMinute disables it too.
	MutationsPerHour int
	// MaxConcurrent is the number of requests of one budget (token user,
	// installation, App or client address) that may be in flight at once;
	// 0 means DefaultMaxConcurrent, negative disables it. A negative
	// MutationsPerMinute disables it too, unless MaxConcurrent is set.
	// GitHub does not say what it counts concurrent requests per; counting
	// them per budget, like its other limits, is a guess.
	MaxConcurrent int
}

// WithSeed makes fault injection draw from a generator seeded with seed, so
// a test that sends the same requests sees the same faults.
func WithSeed(seed uint64) Option { return func(o *options) { o.seed = seed } }

// WithPrimaryLimit sets the primary rate limit of every client.
func WithPrimaryLimit(l PrimaryLimit) Option { return func(o *options) { o.primary = l } }

// WithSecondaryLimit sets the secondary (mutation) rate limit.
func WithSecondaryLimit(l SecondaryLimit) Option { return func(o *options) { o.secondary = l } }

// WithHookCIDRs sets the "hooks" ranges that /meta serves, e.g.
// "127.0.0.1/32" so that a receiver restricted to GitHub's ranges accepts
// the simulator's deliveries.
func WithHookCIDRs(cidrs ...string) Option {
	return func(o *options) { o.hookCIDRs = append([]string(nil), cidrs...) }
}

// WithDeliveryTimeout sets how long a delivery waits for the hook's answer
// (DefaultDeliveryTimeout by default).
func WithDeliveryTimeout(d time.Duration) Option {
	return func(o *options) { o.deliveryTimeout = d }
}

// WithRedeliveryWindow sets how old a delivery may be and still be
// redelivered (DefaultRedeliveryWindow by default).
func WithRedeliveryWindow(d time.Duration) Option {
	return func(o *options) { o.redeliveryWindow = d }
}

// WithDeliveryTLSConfig sets the TLS configuration for deliveries to https
// hook URLs, e.g. to trust a test server's certificate. Hooks with
// insecure_ssl "1" skip verification regardless.
func WithDeliveryTLSConfig(c *tls.Config) Option {
	return func(o *options) { o.deliveryTLS = c.Clone() }
}

// WithSyncPings makes hook creation through the API deliver its ping before
// answering. GitHub pings asynchronously, which is the default.
func WithSyncPings() Option { return func(o *options) { o.syncPings = true } }

// WithClock replaces time.Now, for timestamps and rate-limit windows.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// Server is a running GitHub API simulator. All methods are safe for
// concurrent use.
type Server struct {
	opts           options
	http           *httptest.Server
	baseURL        string
	routes         []*route
	client         *http.Client // deliveries
	insecureClient *http.Client

	requestSeq atomic.Uint64

	closing   chan struct{}
	closeOnce sync.Once
	inflight  sync.WaitGroup // asynchronous deliveries

	mu            sync.Mutex
	rng           *rand.Rand
	ids           idSequences
	repos         map[string]*repoState // lower-case "owner/name"
	orgs          map[string]*orgState  // lower-case login
	tokens        map[string]*Token
	apps          map[int64]*appState
	installations map[int64]*installationState
	faults        map[string]Fault
	limits        *rateLimiter
	stats         statsRecorder
	hookCIDRs     []string
	// caPEM is the Enterprise simulator's CA certificate.
	caPEM []byte
}

type idSequences struct {
	owner, repo, hook, delivery, issue, label int64
}

// New starts a simulator on a loopback port.
func New(opts ...Option) *Server {
	o := options{
		seed:             1,
		hookCIDRs:        DefaultHookCIDRs,
		deliveryTimeout:  DefaultDeliveryTimeout,
		redeliveryWindow: DefaultRedeliveryWindow,
		now:              time.Now,

		installationTokenTTL: installationTokenTTL,
	}
	for _, opt := range opts {
		opt(&o)
	}
	o.primary = o.primary.withDefaults()
	o.secondary = o.secondary.withDefaults()

	s := &Server{
		opts:    o,
		closing: make(chan struct{}),
		rng:     rand.New(rand.NewPCG(o.seed, o.seed^0x9e3779b97f4a7c15)),
		ids: idSequences{
			owner:    91_203_000,
			repo:     708_412_000,
			hook:     476_318_000,
			delivery: 12_077_215_000,
			issue:    2_345_678_000,
			label:    6_123_456_000,
		},
		repos:         map[string]*repoState{},
		orgs:          map[string]*orgState{},
		tokens:        map[string]*Token{},
		apps:          map[int64]*appState{},
		installations: map[int64]*installationState{},
		faults:        map[string]Fault{},
		hookCIDRs:     append([]string(nil), o.hookCIDRs...),
	}
	s.limits = newRateLimiter(o.primary, o.secondary, o.now)
	s.stats.init()
	s.client = s.newDeliveryClient(false)
	s.insecureClient = s.newDeliveryClient(true)
	s.routes = routeTable()

	mux := http.NewServeMux()
	for _, rt := range s.routes {
		mux.Handle(rt.Method+" "+rt.Path, s.handler(rt))
	}
	mux.HandleFunc("/", s.notFound)
	s.http = httptest.NewUnstartedServer(mux)
	if o.enterprise {
		if err := s.startEnterprise(mux); err != nil {
			panic("githubsim: make the Enterprise CA: " + err.Error())
		}
		return s
	}
	s.http.Start()
	s.baseURL = s.http.URL
	return s
}

// URL returns the API base URL, e.g. "http://127.0.0.1:41234", or
// "https://127.0.0.1:41234/api/v3" for an Enterprise simulator (no trailing
// slash; go-github wants URL()+"/").
func (s *Server) URL() string { return s.baseURL }

// Close stops the server: hung requests are released, asynchronous
// deliveries finish or time out, and no goroutine is left behind.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.closing)
		s.http.CloseClientConnections()
		s.http.Close()
		s.inflight.Wait()
		s.client.CloseIdleConnections()
		s.insecureClient.CloseIdleConnections()
	})
}

// Drain waits until every asynchronous delivery (pings on creation,
// redeliveries requested through the API) has been attempted and logged.
func (s *Server) Drain() { s.inflight.Wait() }

func (s *Server) now() time.Time { return s.opts.now().UTC() }

func (s *Server) newDeliveryClient(insecure bool) *http.Client {
	tlsConfig := s.opts.deliveryTLS.Clone()
	if tlsConfig == nil {
		tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if insecure {
		tlsConfig.InsecureSkipVerify = true //nolint:gosec // the hook asked for insecure_ssl=1, as on GitHub
	}
	transport := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: s.opts.deliveryTimeout}).DialContext,
		TLSClientConfig:     tlsConfig,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     30 * time.Second,
	}
	return &http.Client{
		Transport: transport,
		Timeout:   s.opts.deliveryTimeout,
		// GitHub does not follow redirects; a 3xx is a failed delivery.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func (l PrimaryLimit) withDefaults() PrimaryLimit {
	if l.Limit <= 0 {
		l.Limit = DefaultPrimaryLimit
	}
	if l.Window <= 0 {
		l.Window = DefaultPrimaryWindow
	}
	return l
}

func (l SecondaryLimit) withDefaults() SecondaryLimit {
	// A negative MutationsPerMinute disables the limits left unset.
	disabled := l.MutationsPerMinute < 0
	l.PointsPerMinute = defaultUnlessDisabled(l.PointsPerMinute, DefaultPointsPerMinute, disabled)
	l.MaxConcurrent = defaultUnlessDisabled(l.MaxConcurrent, DefaultMaxConcurrent, disabled)
	if l.MutationsPerMinute == 0 {
		l.MutationsPerMinute = DefaultMutationsPerMinute
	}
	if l.Period <= 0 {
		l.Period = time.Minute
	}
	if l.MutationsPerHour == 0 {
		l.MutationsPerHour = DefaultMutationsPerHour
	}
	if l.MutationsPerMinute < 0 {
		l.MutationsPerHour = -1
	}
	return l
}

// defaultUnlessDisabled is v when it is set (not 0), else -1 (disabled)
// when disabled, else def.
func defaultUnlessDisabled(v, def int, disabled bool) int {
	switch {
	case v != 0:
		return v
	case disabled:
		return -1
	}
	return def
}

func (s *Server) nextID(seq *int64) int64 {
	*seq++
	return *seq
}
