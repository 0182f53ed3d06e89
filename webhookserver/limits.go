package webhookserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"golang.org/x/time/rate"
)

const (
	// maxTrackedSources bounds the per-source limiters kept in memory.
	maxTrackedSources = 100000
	// sourceSweepInterval is how often idle per-source limiters are dropped.
	sourceSweepInterval = time.Minute
	// metaRetryInterval is how soon a failed read of GitHub's /meta is retried.
	metaRetryInterval = time.Minute
	// maxMetaBytes caps the /meta document read.
	maxMetaBytes = 4 << 20
)

// netAddr is the IP address of a connection's peer.
func netAddr(a net.Addr) (netip.Addr, bool) {
	if tcp, ok := a.(*net.TCPAddr); ok {
		addr := tcp.AddrPort().Addr()
		return addr.Unmap(), addr.IsValid()
	}
	if a == nil {
		return netip.Addr{}, false
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		host = a.String()
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return addr.Unmap(), true
}

// forwardedAddr is the address a request came from when its peer is a
// trusted proxy: the right-most X-Forwarded-For entry that is not a trusted
// proxy itself.
func forwardedAddr(peer netip.Addr, hops [][]byte, trusted []netip.Prefix) (netip.Addr, bool) {
	addr := peer
	for i := len(hops) - 1; i >= 0; i-- {
		parts := strings.Split(string(hops[i]), ",")
		for j := len(parts) - 1; j >= 0; j-- {
			hop, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
			if err != nil {
				return addr, true // a malformed entry: stop at the last one believed
			}
			addr = hop.Unmap()
			if !inPrefixes(addr, trusted) {
				return addr, true
			}
		}
	}
	return addr, true
}

func inPrefixes(addr netip.Addr, prefixes []netip.Prefix) bool {
	for _, p := range prefixes {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// sourceKey groups addresses for rate limiting: one IPv4 address, or one
// IPv6 /64 (a single host usually owns a whole /64).
func sourceKey(addr netip.Addr) netip.Prefix {
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return p
	}
	return netip.PrefixFrom(addr, 32)
}

// rejectLimiter limits the rejected requests (4xx) each source may cause.
// Sources within their budget are not slowed down at all.
type rejectLimiter struct {
	limit rate.Limit
	burst int

	mu      sync.Mutex
	sources map[netip.Prefix]*rate.Limiter
}

func newRejectLimiter(perSecond float64, burst int) *rejectLimiter {
	return &rejectLimiter{limit: rate.Limit(perSecond), burst: burst, sources: map[netip.Prefix]*rate.Limiter{}}
}

// exhausted reports whether the source has spent its budget, and when it
// may try again.
func (l *rejectLimiter) exhausted(addr netip.Addr, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	lim := l.sources[sourceKey(addr)]
	l.mu.Unlock()
	if lim == nil {
		return false, 0
	}
	tokens := lim.TokensAt(now)
	if tokens >= 1 {
		return false, 0
	}
	wait := time.Duration((1 - tokens) / float64(l.limit) * float64(time.Second))
	return true, wait
}

// charge spends one of the source's budget for a rejected request.
func (l *rejectLimiter) charge(addr netip.Addr, now time.Time) {
	key := sourceKey(addr)
	l.mu.Lock()
	lim := l.sources[key]
	if lim == nil {
		if len(l.sources) >= maxTrackedSources {
			l.mu.Unlock()
			return
		}
		lim = rate.NewLimiter(l.limit, l.burst)
		l.sources[key] = lim
	}
	l.mu.Unlock()
	lim.AllowN(now, 1)
}

// sweep drops the limiters of sources whose budget is full again.
func (l *rejectLimiter) sweep(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for key, lim := range l.sources {
		if lim.TokensAt(now) >= float64(l.burst) {
			delete(l.sources, key)
		}
	}
}

func (l *rejectLimiter) run(ctx context.Context) {
	ticker := time.NewTicker(sourceSweepInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-ticker.C:
			l.sweep(now)
		}
	}
}

// retryAfterSeconds renders a wait as a Retry-After value (whole seconds, at
// least 1).
func retryAfterSeconds(d time.Duration) string {
	return fmt.Sprint(max(1, int(math.Ceil(d.Seconds()))))
}

// sourceAllowlist decides which source addresses may deliver. With "github"
// it holds GitHub's hooks ranges, refreshed hourly; until they were read
// once, no source is allowed (and the receiver is not ready).
type sourceAllowlist struct {
	fromGitHub bool
	metaURL    string
	httpClient *http.Client
	log        logr.Logger
	// refreshEvery and retryEvery are how soon /meta is read again after a
	// successful and a failed read.
	refreshEvery, retryEvery time.Duration

	ranges atomic.Pointer[[]netip.Prefix]
}

func newSourceAllowlist(policy sourcePolicy, githubURL string, interval time.Duration, httpClient *http.Client, log logr.Logger) *sourceAllowlist {
	a := &sourceAllowlist{fromGitHub: policy.fromGitHub, httpClient: httpClient, log: log,
		metaURL:      strings.TrimRight(githubURL, "/") + "/meta",
		refreshEvery: metaRefreshInterval, retryEvery: metaRetryInterval}
	if interval > 0 {
		a.refreshEvery, a.retryEvery = interval, interval
	}
	if !policy.fromGitHub && len(policy.allowed) > 0 {
		ranges := policy.allowed
		a.ranges.Store(&ranges)
	}
	return a
}

// enabled reports whether sources are restricted at all.
func (a *sourceAllowlist) enabled() bool {
	return a.fromGitHub || a.ranges.Load() != nil
}

// loaded reports whether the allowed ranges are known.
func (a *sourceAllowlist) loaded() bool {
	return !a.fromGitHub || a.ranges.Load() != nil
}

// allows reports whether addr may deliver.
func (a *sourceAllowlist) allows(addr netip.Addr) bool {
	ranges := a.ranges.Load()
	if ranges == nil {
		return !a.fromGitHub
	}
	return inPrefixes(addr, *ranges)
}

// run keeps GitHub's hooks ranges current when they are used.
func (a *sourceAllowlist) run(ctx context.Context) {
	if !a.fromGitHub {
		return
	}
	for {
		next := a.refreshEvery
		if err := a.refresh(ctx); err != nil {
			a.log.Error(err, "Failed to read GitHub's hooks ranges; keeping the previous ones", "retryIn", a.retryEvery)
			next = a.retryEvery
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(next):
		}
	}
}

// refresh reads the "hooks" ranges of GitHub's /meta.
func (a *sourceAllowlist) refresh(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.metaURL, nil)
	if err != nil {
		return fmt.Errorf("read GitHub meta: %w", err)
	}
	req.Header.Set("Accept", "application/vnd.github+json")
	resp, err := a.httpClient.Do(req)
	if err != nil {
		return fmt.Errorf("read GitHub meta: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("read GitHub meta: %s answered %s", a.metaURL, resp.Status)
	}
	var meta struct {
		Hooks []string `json:"hooks"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxMetaBytes)).Decode(&meta); err != nil {
		return fmt.Errorf("decode GitHub meta: %w", err)
	}
	ranges := make([]netip.Prefix, 0, len(meta.Hooks))
	for _, s := range meta.Hooks {
		p, err := parsePrefix(s)
		if err != nil {
			return fmt.Errorf("GitHub meta hooks: %w", err)
		}
		ranges = append(ranges, p)
	}
	if len(ranges) == 0 {
		return errors.New("GitHub meta lists no hooks ranges")
	}
	a.ranges.Store(&ranges)
	return nil
}
