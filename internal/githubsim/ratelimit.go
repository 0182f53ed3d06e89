package githubsim

import (
	"math"
	"sync"
	"time"
)

// rateState is what the x-ratelimit-* headers announce.
type rateState struct {
	Limit     int
	Remaining int
	Used      int
	Reset     time.Time
	// retryAfter is set when the secondary limit denied the request.
	retryAfter time.Duration
}

func (st rateState) retryAfterSeconds() int {
	return max(1, int(math.Ceil(st.retryAfter.Seconds())))
}

type denial int

const (
	allowed denial = iota
	deniedPrimary
	deniedSecondary
)

// rateLimiter keeps GitHub's two limits per budget (token user, installation,
// App or client address): the primary budget per window, and a rolling
// window of mutations for the secondary limit.
type rateLimiter struct {
	primary   PrimaryLimit
	secondary SecondaryLimit
	now       func() time.Time

	mu      sync.Mutex
	budgets map[string]*budget
	// inFlight counts the requests of each budget being served, for the
	// limit on concurrent requests; a budget with none has no entry.
	inFlight map[string]int
}

type budget struct {
	used      int
	reset     time.Time
	mutations []time.Time
	// hourly are the mutations of the last hour.
	hourly []time.Time
	points []spent
}

// spent is the points of one request, for the points limit.
type spent struct {
	at     time.Time
	points int
}

// Points of a request toward the secondary limit, as GitHub documents them
// for most REST endpoints ("Calculating points for the secondary rate
// limit"). GitHub counts its 900 points per endpoint; counting them across
// all endpoints of a token is stricter, so a client within this limit is
// within GitHub's. Whether a 304 answer costs points GitHub does not say:
// here it does.
const (
	readPoints     = 1
	mutationPoints = 5
)

func newRateLimiter(p PrimaryLimit, sec SecondaryLimit, now func() time.Time) *rateLimiter {
	return &rateLimiter{primary: p, secondary: sec, now: now, budgets: map[string]*budget{}, inFlight: map[string]int{}}
}

func (l *rateLimiter) budget(key string, now time.Time) *budget {
	b := l.budgets[key]
	if b == nil {
		b = &budget{}
		l.budgets[key] = b
	}
	if b.reset.IsZero() || !now.Before(b.reset) {
		b.used = 0
		b.reset = now.Add(l.primary.Window).Truncate(time.Second)
		if !b.reset.After(now) {
			b.reset = b.reset.Add(time.Second)
		}
	}
	return b
}

func (l *rateLimiter) state(b *budget, limit int) rateState {
	return rateState{Limit: limit, Remaining: max(0, limit-b.used), Used: b.used, Reset: b.reset}
}

// take spends one request from the budget, or says which limit denies it.
// Denied requests spend nothing.
func (l *rateLimiter) take(key string, limit int, mutating bool) (rateState, denial) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.budget(key, now)
	if b.used >= limit {
		return l.state(b, limit), deniedPrimary
	}
	cutoff := now.Add(-l.secondary.Period)
	cost := readPoints
	if mutating {
		cost = mutationPoints
	}
	if l.secondary.PointsPerMinute > 0 {
		kept, total := b.points[:0], 0
		for _, p := range b.points {
			if p.at.After(cutoff) {
				kept = append(kept, p)
				total += p.points
			}
		}
		b.points = kept
		if total+cost > l.secondary.PointsPerMinute {
			st := l.state(b, limit)
			st.retryAfter = l.secondary.RetryAfter
			if st.retryAfter <= 0 {
				// Until enough points have left the window.
				freed := 0
				for _, p := range b.points {
					freed += p.points
					if total-freed+cost <= l.secondary.PointsPerMinute {
						st.retryAfter = p.at.Add(l.secondary.Period).Sub(now)
						break
					}
				}
			}
			return st, deniedSecondary
		}
	}
	if mutating {
		windows := []struct {
			sent   *[]time.Time
			limit  int
			period time.Duration
		}{
			{&b.mutations, l.secondary.MutationsPerMinute, l.secondary.Period},
			{&b.hourly, l.secondary.MutationsPerHour, time.Hour},
		}
		for _, w := range windows {
			if w.limit <= 0 {
				continue
			}
			*w.sent = recentSince(*w.sent, now.Add(-w.period))
			if len(*w.sent) >= w.limit {
				st := l.state(b, limit)
				st.retryAfter = l.secondary.RetryAfter
				if st.retryAfter <= 0 {
					st.retryAfter = (*w.sent)[0].Add(w.period).Sub(now)
				}
				return st, deniedSecondary
			}
		}
		for _, w := range windows {
			if w.limit > 0 {
				*w.sent = append(*w.sent, now)
			}
		}
	}
	if l.secondary.PointsPerMinute > 0 {
		b.points = append(b.points, spent{at: now, points: cost})
	}
	b.used++
	return l.state(b, limit), allowed
}

// enter counts one more request of the budget in flight, or reports false
// when the limit on concurrent requests denies it (and counts nothing).
// Every true answer is paired with one leave.
func (l *rateLimiter) enter(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if limit := l.secondary.MaxConcurrent; limit > 0 && l.inFlight[key] >= limit {
		return false
	}
	l.inFlight[key]++
	return true
}

// leave ends a request that enter admitted.
func (l *rateLimiter) leave(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.inFlight[key] <= 1 {
		delete(l.inFlight, key)
		return
	}
	l.inFlight[key]--
}

// recentSince keeps the times after cutoff.
func recentSince(times []time.Time, cutoff time.Time) []time.Time {
	kept := times[:0]
	for _, t := range times {
		if t.After(cutoff) {
			kept = append(kept, t)
		}
	}
	return kept
}

// refund gives back one request, for answers that cost nothing (304).
func (l *rateLimiter) refund(key string, limit int) rateState {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.budget(key, l.now())
	if b.used > 0 {
		b.used--
	}
	return l.state(b, limit)
}

// peek reports a budget without spending it.
func (l *rateLimiter) peek(key string, limit int) rateState {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.state(l.budget(key, l.now()), limit)
}

// SetRemaining sets how many requests the budget of a token (its user, or
// its installation) has left in the current window, e.g. to test a client's
// behaviour near exhaustion without sending thousands of requests.
func (s *Server) SetRemaining(token string, remaining int) {
	s.mu.Lock()
	t, ok := s.tokens[token]
	s.mu.Unlock()
	if !ok {
		return
	}
	key, _ := (&principal{kind: tokenPrincipal, token: t}).bucket()
	l := s.limits
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.budget(key, l.now())
	b.used = max(0, l.primary.Limit-remaining)
}

// RateLimit reports the primary budget of a token: limit, remaining, used
// and reset time, as the x-ratelimit-* headers would.
func (s *Server) RateLimit(token string) (limit, remaining, used int, reset time.Time) {
	s.mu.Lock()
	t, ok := s.tokens[token]
	s.mu.Unlock()
	if !ok {
		return 0, 0, 0, time.Time{}
	}
	key, _ := (&principal{kind: tokenPrincipal, token: t}).bucket()
	st := s.limits.peek(key, s.opts.primary.Limit)
	return st.Limit, st.Remaining, st.Used, st.Reset
}
