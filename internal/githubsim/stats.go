package githubsim

import (
	"maps"
	"sync"
	"time"
)

// maxRequestLog bounds the request log; statistics keep counting beyond it.
const maxRequestLog = 100_000

// RequestRecord is one API request as the simulator saw it.
type RequestRecord struct {
	Method string
	Path   string
	// Route is the matched Route's String(), empty for unknown paths.
	Route string
	// Status is the answer's status code, 0 when a fault dropped it.
	Status int
	// Token is the credential used ("" for anonymous and App JWT requests).
	Token string
	// Mutating is true for POST, PATCH, PUT and DELETE.
	Mutating bool
	// Spent is true when the request counted against the primary limit
	// (false for 304 answers, /rate_limit, rate-limited and faulted ones).
	Spent bool
	// RateLimited is true when a primary or secondary limit denied it.
	RateLimited bool
	// Fault is "", "reset", "hang", "error" or "lost answer".
	Fault string
	// At is when the request arrived.
	At time.Time
}

type requestRecord = RequestRecord

// Stats counts the requests the simulator received.
type Stats struct {
	Total       int
	ByMethod    map[string]int
	ByRoute     map[string]int
	ByStatus    map[int]int
	ByToken     map[string]int
	Mutating    int
	Spent       int
	NotModified int
	RateLimited int
	Faults      int
}

type statsRecorder struct {
	mu    sync.Mutex
	stats Stats
	log   []RequestRecord
}

func (r *statsRecorder) init() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stats = Stats{ByMethod: map[string]int{}, ByRoute: map[string]int{}, ByStatus: map[int]int{}, ByToken: map[string]int{}}
	r.log = nil
}

func (r *statsRecorder) record(rec RequestRecord) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := &r.stats
	st.Total++
	st.ByMethod[rec.Method]++
	st.ByRoute[rec.Route]++
	st.ByStatus[rec.Status]++
	st.ByToken[rec.Token]++
	if rec.Mutating {
		st.Mutating++
	}
	if rec.Spent {
		st.Spent++
	}
	if rec.Status == 304 {
		st.NotModified++
	}
	if rec.RateLimited {
		st.RateLimited++
	}
	if rec.Fault != "" {
		st.Faults++
	}
	if len(r.log) < maxRequestLog {
		r.log = append(r.log, rec)
	}
}

// Stats returns a copy of the request counters.
func (s *Server) Stats() Stats {
	r := &s.stats
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.stats
	out.ByMethod = maps.Clone(r.stats.ByMethod)
	out.ByRoute = maps.Clone(r.stats.ByRoute)
	out.ByStatus = maps.Clone(r.stats.ByStatus)
	out.ByToken = maps.Clone(r.stats.ByToken)
	return out
}

// Requests returns the request log, oldest first (the first 100,000).
func (s *Server) Requests() []RequestRecord {
	r := &s.stats
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]RequestRecord(nil), r.log...)
}

// ResetStats clears the counters and the request log.
func (s *Server) ResetStats() { s.stats.init() }
