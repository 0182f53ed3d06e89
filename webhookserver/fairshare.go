package webhookserver

import (
	"net/netip"
	"sync"
)

// shareRefusal is why a fair share refused units to a source.
type shareRefusal int

const (
	// shareGranted: the units were taken.
	shareGranted shareRefusal = iota
	// shareOverSource: the source already holds its share.
	shareOverSource
	// shareExhausted: what is left is the reserve, or nothing.
	shareExhausted
)

// fairShare hands out a capacity (connections, in-flight deliveries, body
// bytes) so that no source can take it all: a source holds at most
// perSource units, and the last reserve units go only to sources that held
// nothing when they asked (newcomers). However many units other clients
// hold, a newcomer such as GitHub still gets in, unless as many sources as
// the reserve allows are all newcomers at once.
//
// One mutex and one small map of the sources holding units: a few map
// operations per request, and memory bounded by the capacity.
type fairShare struct {
	capacity, perSource, reserve int64

	mu   sync.Mutex
	used int64
	held map[netip.Prefix]int64
}

func newFairShare(capacity, perSource, reserve int64) *fairShare {
	perSource = max(1, min(perSource, capacity))
	reserve = max(0, min(reserve, capacity-1))
	return &fairShare{capacity: capacity, perSource: perSource, reserve: reserve, held: map[netip.Prefix]int64{}}
}

// take gives n units to the source key. newcomer lets the source draw on
// the reserve (decided once per request, by takeFirst); exempt sources
// (trusted proxies) are bound by the capacity only.
func (f *fairShare) take(key netip.Prefix, n int64, newcomer, exempt bool) shareRefusal {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.takeLocked(key, f.held[key], n, newcomer, exempt)
}

// takeFirst is take for the first units of a request: the source is a
// newcomer when it holds nothing yet. It reports whether it was one.
func (f *fairShare) takeFirst(key netip.Prefix, n int64, exempt bool) (refusal shareRefusal, newcomer bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	held := f.held[key]
	return f.takeLocked(key, held, n, held == 0, exempt), held == 0
}

func (f *fairShare) takeLocked(key netip.Prefix, held, n int64, newcomer, exempt bool) shareRefusal {
	switch {
	case f.used+n > f.capacity:
		return shareExhausted
	case exempt:
	case held+n > f.perSource:
		return shareOverSource
	case !newcomer && f.capacity-f.used-n < f.reserve:
		return shareExhausted
	}
	f.used += n
	f.held[key] = held + n
	return shareGranted
}

// give returns n units of the source key.
func (f *fairShare) give(key netip.Prefix, n int64) {
	if n == 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.used -= n
	if held := f.held[key] - n; held > 0 {
		f.held[key] = held
	} else {
		delete(f.held, key)
	}
}

// inUse is the units held by all sources.
func (f *fairShare) inUse() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.used
}
