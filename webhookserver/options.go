package webhookserver

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/hookwarden/hookwarden/internal/webhooksecret"
)

// Defaults of Options. docs/receiver.md lists them with the flags that set them.
const (
	// DefaultBindAddress is where the receiver listens (--receiver-bind-address).
	DefaultBindAddress = ":9292"
	// DefaultMaxInflight caps the deliveries whose bodies are read and
	// verified at once (--receiver-max-inflight).
	DefaultMaxInflight = 512
	// DefaultBodyBudget caps the memory of the request bodies being read at
	// once, all requests together (--receiver-body-budget).
	DefaultBodyBudget = 128 << 20
	// DefaultMaxConnections caps the receiver's open connections
	// (--receiver-max-connections).
	DefaultMaxConnections = 1024
	// DefaultMaxConnectionsPerIP caps the open connections of one peer
	// address; trusted proxies are exempt (--receiver-max-connections-per-ip).
	DefaultMaxConnectionsPerIP = 64
	// DefaultStatusFlushInterval is the shortest time between two status
	// patches of one integration (--status-flush-interval).
	DefaultStatusFlushInterval = 2 * time.Second
	// DefaultStatusWriteRate is the most status writes per second one
	// receiver sends, all integrations together (--status-write-rate): half
	// of the 20 requests a second that controller-runtime long gave a
	// controller's client, so that the receiver never takes more of the API
	// server than a well-behaved controller, and at 500 deliveries a second
	// it writes at most 0.02 times per delivery. docs/receiver.md explains
	// the choice.
	DefaultStatusWriteRate = 10.0
	// DefaultQueueSize bounds the deliveries waiting to be recorded
	// (--receiver-queue-size).
	DefaultQueueSize = 4096
	// DefaultDedupeSize is how many (hook ID, delivery GUID) pairs are
	// remembered to answer duplicates (--receiver-dedupe-size).
	DefaultDedupeSize = 65536
	// DefaultRejectedRate is the sustained rate of rejected requests per
	// second one source address may cause before it is answered 429.
	DefaultRejectedRate = 1.0
	// DefaultRejectedBurst is how many rejected requests one source address
	// may cause at once before it is answered 429.
	DefaultRejectedBurst = 30
	// DefaultGitHubURL is the GitHub API whose /meta lists the hooks ranges.
	DefaultGitHubURL = "https://api.github.com/"

	// MaxBodyBytes is the largest delivery accepted: GitHub caps payloads at
	// 25 MiB.
	MaxBodyBytes = 25 << 20
	// maxHeaderBytes caps request headers; GitHub's are a few hundred bytes.
	maxHeaderBytes = 16 << 10
	// readHeaderTimeout, readTimeout, writeTimeout and idleTimeout bound how
	// long a client may hold a connection. GitHub itself gives up after 10 s.
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 30 * time.Second
	// idleTimeout closes keep-alive connections that carry nothing: long
	// enough to outlast ingress-nginx's upstream keep-alive (60 s), so that
	// the proxy, not the receiver, closes an idle connection and never sends
	// a request on one the receiver is closing.
	idleTimeout = 65 * time.Second
	// metaRefreshInterval is how often GitHub's hooks ranges are re-read.
	metaRefreshInterval = time.Hour
)

// GitHubSources is the value of AllowedSourceCIDRs that allows the "hooks"
// ranges GitHub publishes on its /meta endpoint.
const GitHubSources = "github"

// Options configure the receiver. The zero value of each field means its
// default.
type Options struct {
	// BindAddress is the address the receiver listens on. Default ":9292".
	BindAddress string

	// CertDir, when set, holds tls.crt and tls.key; the receiver then serves
	// HTTPS and reloads the pair when the files change.
	CertDir string

	// MaxInflight caps the deliveries whose bodies are read and verified at
	// once; beyond it the receiver answers 503 with Retry-After. One source
	// address holds at most an eighth of them, and the last eighth is kept
	// for sources that hold none. Default 512.
	MaxInflight int

	// BodyBudget caps the bytes of the request bodies being read at once,
	// all requests together; beyond it the receiver answers 503 with
	// Retry-After. Buffers grow as bytes arrive and are charged as they
	// grow. One source holds at most a quarter of the budget (at least what
	// one 25 MiB delivery needs), and that much is kept for sources that
	// hold none. Default 128 MiB.
	BodyBudget int64

	// MaxConnections caps the open connections. One peer address holds at
	// most MaxConnectionsPerIP of them, and that many are kept for peers
	// that hold none; trusted proxies are only bound by MaxConnections.
	// Defaults 1024 and 64.
	MaxConnections      int
	MaxConnectionsPerIP int

	// StatusFlushInterval is the shortest time between two status patches
	// of one integration. Default 2s.
	StatusFlushInterval time.Duration

	// StatusWriteRate caps the status writes per second, all integrations
	// together, conflict retries included. When more integrations have
	// changes pending than it allows per flush interval, those waiting
	// longest are written first and each integration is written every
	// (pending integrations / StatusWriteRate) seconds instead. Default 10.
	StatusWriteRate float64

	// QueueSize bounds the accepted deliveries waiting to be recorded; when
	// it is full the receiver answers 503 with Retry-After. Default 4096.
	QueueSize int

	// DedupeSize is how many processed (hook ID, delivery GUID) pairs are
	// remembered to answer redeliveries as duplicates. Default 65536.
	DedupeSize int

	// RejectedRate and RejectedBurst limit rejected requests (4xx) per
	// source address; beyond them the source is answered 429 until its
	// budget refills. Defaults 1 per second, burst 30.
	RejectedRate  float64
	RejectedBurst int

	// AllowedSourceCIDRs, when not empty, lists the source ranges allowed
	// to deliver: CIDRs (or single addresses), or the single value "github"
	// for the hooks ranges of GitHub's /meta, read from GitHubURL and
	// refreshed hourly. Other sources are answered 403.
	AllowedSourceCIDRs []string

	// TrustedProxies lists the CIDRs of proxies (an Ingress controller, a
	// load balancer) whose X-Forwarded-For header is believed when deciding
	// the source address of a request.
	TrustedProxies []string

	// GitHubURL is the GitHub API server whose /meta is read when
	// AllowedSourceCIDRs is "github". Default https://api.github.com/.
	GitHubURL string

	// MirrorNamespace, when set, is the operator's namespace: the receiver
	// runs apart from the reconciler (the split layout) and reads each
	// integration's webhook secrets only from the mirror Secret the
	// reconciler keeps there (internal/webhooksecret), from the manager's
	// cache, which must hold those Secrets whole. Empty: it reads the
	// integration's own Secret and the two kept beside it, as in the
	// single-process layout.
	MirrorNamespace string

	// ReplicaName names this replica (its Pod) in status.receivers, where
	// it acknowledges, in the split layout, the webhook secret a rotation
	// is about to send to GitHub.
	ReplicaName string

	// BeforeRecord, when set, is called by a recording worker before it
	// records each queued delivery. Tests block it to make the queue
	// overflow deterministically; it has no flag.
	BeforeRecord func()

	// SecretPatches, in the one-process layout, are the reconciler's own
	// metadata patches of Secrets: the receiver does not read a Secret
	// again for them. It has no flag.
	SecretPatches *webhooksecret.OwnPatches

	// metaInterval, when set, replaces both the hourly refresh of GitHub's
	// hooks ranges and the retry after a failed read, so that tests see a
	// change of /meta in moments; it has no flag.
	metaInterval time.Duration
}

// withDefaults returns the options with every unset field defaulted.
func (o Options) withDefaults() Options {
	defaultTo(&o.BindAddress, DefaultBindAddress)
	defaultTo(&o.MaxInflight, DefaultMaxInflight)
	defaultTo(&o.BodyBudget, DefaultBodyBudget)
	defaultTo(&o.MaxConnections, DefaultMaxConnections)
	defaultTo(&o.MaxConnectionsPerIP, DefaultMaxConnectionsPerIP)
	defaultTo(&o.StatusFlushInterval, DefaultStatusFlushInterval)
	defaultTo(&o.StatusWriteRate, DefaultStatusWriteRate)
	defaultTo(&o.QueueSize, DefaultQueueSize)
	defaultTo(&o.DedupeSize, DefaultDedupeSize)
	defaultTo(&o.RejectedRate, DefaultRejectedRate)
	defaultTo(&o.RejectedBurst, DefaultRejectedBurst)
	defaultTo(&o.GitHubURL, DefaultGitHubURL)
	return o
}

// defaultTo sets *v to def when it is unset (zero, or negative).
func defaultTo[T int | int64 | float64 | time.Duration | string](v *T, def T) {
	var zero T
	if *v == zero || *v < zero {
		*v = def
	}
}

// MinBodyBudget is the smallest body budget that lets a delivery of the
// largest size (MaxBodyBytes) through: its buffer, and the one before it
// while it grows.
func MinBodyBudget() int64 {
	return bodyGrowthPeak(MaxBodyBytes + 1)
}

// bodyShare is the most of the body budget one source holds: a quarter of
// it, and at least what one delivery of the largest size needs while its
// buffer grows.
func (o Options) bodyShare() int64 {
	return min(o.BodyBudget, max(o.BodyBudget/4, bodyGrowthPeak(MaxBodyBytes+1)))
}

// bodyReserve is the part of the body budget kept for sources that hold
// none of it: what one delivery of the largest size needs, at most half of
// the budget.
func (o Options) bodyReserve() int64 {
	return min(o.BodyBudget/2, bodyGrowthPeak(MaxBodyBytes+1))
}

// sourcePolicy is the parsed form of AllowedSourceCIDRs and TrustedProxies.
type sourcePolicy struct {
	// fromGitHub: the allowed ranges come from GitHub's /meta.
	fromGitHub bool
	// allowed ranges; nil allows every source (unless fromGitHub).
	allowed []netip.Prefix
	trusted []netip.Prefix
}

// parseSourcePolicy checks and parses the source address options.
func parseSourcePolicy(o Options) (sourcePolicy, error) {
	var p sourcePolicy
	var errs []error
	for _, s := range o.AllowedSourceCIDRs {
		s = strings.TrimSpace(s)
		switch {
		case s == "":
			continue
		case strings.EqualFold(s, GitHubSources):
			p.fromGitHub = true
		default:
			prefix, err := parsePrefix(s)
			if err != nil {
				errs = append(errs, fmt.Errorf("allowed source CIDRs: %w", err))
				continue
			}
			p.allowed = append(p.allowed, prefix)
		}
	}
	if p.fromGitHub && len(p.allowed) > 0 {
		errs = append(errs, errors.New(`allowed source CIDRs: use either "github" or a list of CIDRs, not both`))
	}
	for _, s := range o.TrustedProxies {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		prefix, err := parsePrefix(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("trusted proxies: %w", err))
			continue
		}
		p.trusted = append(p.trusted, prefix)
	}
	return p, errors.Join(errs...)
}

// parsePrefix parses a CIDR or a single address (as a /32 or /128).
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		prefix, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not a CIDR: %w", s, err)
		}
		return prefix.Masked(), nil
	}
	addr, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not a CIDR or an IP address: %w", s, err)
	}
	addr = addr.Unmap()
	return netip.PrefixFrom(addr, addr.BitLen()), nil
}
