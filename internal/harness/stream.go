package harness

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hookwarden/hookwarden/internal/githubsim"
)

// Attempt is GitHub's first attempt of one delivery of a stream.
type Attempt struct {
	GUID   string
	Target string
	HookID int64
	// Code is the answer's status code; 0 when nothing answered (refused,
	// reset, timed out).
	Code int
	At   time.Time
}

// Stream is a steady stream of push events GitHub delivers to the hooks of
// some repositories, with the first attempt of each delivery.
type Stream struct {
	mu       sync.Mutex
	attempts []Attempt
	errs     []error
	stop     chan struct{}
	done     chan struct{}
}

// StartStream triggers perSecond push events per second, on each target in
// turn, until stopped. Each trigger runs on its own (GitHub does not wait for
// one delivery before the next), at most 64 at once.
func StartStream(sim *githubsim.Server, targets []string, perSecond int) *Stream {
	s := &Stream{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		ticker := time.NewTicker(time.Second / time.Duration(perSecond))
		defer ticker.Stop()
		sem := make(chan struct{}, 64)
		var wg sync.WaitGroup
		defer wg.Wait()
		for n := 0; ; n++ {
			select {
			case <-s.stop:
				return
			case <-ticker.C:
			}
			target := targets[n%len(targets)]
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				s.trigger(sim, target, n)
			})
		}
	}()
	return s
}

func (s *Stream) trigger(sim *githubsim.Server, target string, n int) {
	deliveries, err := sim.TriggerEvent(target, "push", PushPayload(target, n))
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.errs = append(s.errs, fmt.Errorf("trigger push on %s: %w", target, err))
		return
	}
	for _, d := range deliveries {
		s.attempts = append(s.attempts, Attempt{GUID: d.GUID, Target: target, HookID: d.HookID, Code: d.StatusCode, At: d.DeliveredAt})
	}
}

// Attempts returns the attempts made so far.
func (s *Stream) Attempts() []Attempt {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Attempt(nil), s.attempts...)
}

// Stop stops the stream, waits for the triggers under way, and returns
// every attempt and the errors of triggers that could not be made.
func (s *Stream) Stop() ([]Attempt, error) {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	var err error
	if len(s.errs) > 0 {
		err = fmt.Errorf("%d triggers failed, first: %w", len(s.errs), s.errs[0])
	}
	return append([]Attempt(nil), s.attempts...), err
}

// PushPayload is a small push event on repo; n makes each one different.
func PushPayload(repo string, n int) []byte {
	owner, name, _ := strings.Cut(repo, "/")
	p, _ := json.Marshal(map[string]any{
		"ref":        "refs/heads/main",
		"before":     "0000000000000000000000000000000000000000",
		"after":      fmt.Sprintf("%040x", n),
		"repository": map[string]any{"id": 1, "name": name, "full_name": repo, "owner": map[string]any{"login": owner}},
		"sender":     map[string]any{"login": "octocat"},
		"commits":    []any{},
	})
	return p
}
