package webhookserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
)

// Results of an answer, as the deliveries metric and the log line name them.
const (
	resultProcessed = string(hookv1.DeliveryProcessed)
	resultIgnored   = string(hookv1.DeliveryIgnored)
	resultRejected  = string(hookv1.DeliveryRejected)
	resultDuplicate = "duplicate"
)

const (
	// queueFullRetryAfter is the Retry-After of a 503 for a full queue.
	queueFullRetryAfter = "5"
	// inflightRetryAfter is the Retry-After of a 503 for too many requests.
	inflightRetryAfter = "1"
	// maxPooledBuffer is the largest body buffer kept for reuse.
	maxPooledBuffer = 1 << 20
)

var (
	processedBody = []byte(`{"processed":true}` + "\n")
	duplicateBody = []byte(`{"processed":true,"duplicate":true}` + "\n")
	errTooLarge   = errors.New("body too large")
)

var bufferPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// answer is the receiver's reply to one request, and what it logs and counts.
type answer struct {
	code       int
	body       []byte
	retryAfter string
	result     string
	// reason is the error message of a rejection.
	reason string
	// integration, event and delivery name the delivery in the log line and
	// metrics; they are set only once known to be well-formed.
	integration string
	event       string
	delivery    string
	// charge counts the answer against the source's rejected-request budget.
	charge bool
}

func errorAnswer(code int, reason string) answer {
	return answer{code: code, body: jsonBody(map[string]string{"error": reason}), result: resultRejected, reason: reason,
		charge: code >= 400 && code < 500 && code != http.StatusTooManyRequests}
}

func jsonBody(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// Only maps of strings, booleans and numbers are marshalled here.
		panic(fmt.Sprintf("marshal answer: %v", err))
	}
	return append(b, '\n')
}

// routes returns the receiver's handler: the delivery route, a 405 for other
// methods on it and a JSON 404 elsewhere, behind the in-flight cap, the
// source allowlist and the rejected-request limit.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(hookv1.ReceiverPathPattern, s.serveDelivery)
	mux.HandleFunc(routeAnyMethod(), s.serveMethodNotAllowed)
	mux.HandleFunc("/", s.serveNotFound)
	return s.guard(mux)
}

// routeAnyMethod is the delivery route without its method.
func routeAnyMethod() string {
	_, path, _ := cutMethod(hookv1.ReceiverPathPattern)
	return path
}

func cutMethod(pattern string) (method, path string, ok bool) {
	for i := 0; i < len(pattern); i++ {
		if pattern[i] == ' ' {
			return pattern[:i], pattern[i+1:], true
		}
	}
	return "", pattern, false
}

// guard applies the abuse limits before any other work.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		select {
		case s.inflight <- struct{}{}:
			defer func() { <-s.inflight }()
		default:
			a := errorAnswer(http.StatusServiceUnavailable, "too many deliveries in flight: retry later")
			a.retryAfter = inflightRetryAfter
			s.finish(w, r, a, start)
			return
		}
		addr, ok := clientAddr(r, s.policy.trusted)
		if s.allowlist.enabled() && (!ok || !s.allowlist.allows(addr)) {
			s.finish(w, r, errorAnswer(http.StatusForbidden, "source address not allowed"), start)
			return
		}
		if ok {
			if exhausted, wait := s.rejects.exhausted(addr, start); exhausted {
				a := errorAnswer(http.StatusTooManyRequests, "too many rejected requests from this address: retry later")
				a.retryAfter = retryAfterSeconds(wait)
				s.finish(w, r, a, start)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) serveNotFound(w http.ResponseWriter, r *http.Request) {
	s.finish(w, r, errorAnswer(http.StatusNotFound, "not found"), time.Now())
}

func (s *Server) serveMethodNotAllowed(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Allow", http.MethodPost)
	s.finish(w, r, errorAnswer(http.StatusMethodNotAllowed, "method not allowed: GitHub delivers with POST"), time.Now())
}

// serveDelivery answers one delivery.
func (s *Server) serveDelivery(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	key := types.NamespacedName{Namespace: r.PathValue("namespace"), Name: r.PathValue("name")}
	s.finish(w, r, s.handleDelivery(w, r, key, start), start)
}

// handleDelivery runs the checks of SPEC §4 in order and hands the accepted
// delivery to the recording queue.
func (s *Server) handleDelivery(w http.ResponseWriter, r *http.Request, key types.NamespacedName, now time.Time) answer {
	in, secrets, ok := s.store.lookup(key)
	if !ok {
		return errorAnswer(http.StatusNotFound, "integration not found")
	}

	buf := bufferPool.Get().(*bytes.Buffer)
	defer putBuffer(buf)
	if err := readBody(w, r, buf); err != nil {
		a := errorAnswer(http.StatusBadRequest, "could not read the request body")
		if errors.Is(err, errTooLarge) {
			a = errorAnswer(http.StatusRequestEntityTooLarge, "payload larger than 25 MiB")
		}
		return s.rejected(in, r.Header, a, now)
	}

	d, rej := ValidateDelivery(r.Header, buf.Bytes(), secrets, now)
	if rej != nil {
		return s.rejected(in, r.Header, errorAnswer(rej.Code, rej.Reason), now)
	}

	dk := newDeliveryKey(key, d.HookID, d.ID)
	if !s.dedupe.reserve(dk) {
		s.enqueue(key, &record{time: now, duplicate: true})
		return answer{code: http.StatusOK, body: duplicateBody, result: resultDuplicate}
	}
	rec, a := classify(in, d, now)
	if !s.enqueue(key, rec) {
		s.dedupe.forget(dk)
		a = errorAnswer(http.StatusServiceUnavailable, "too many deliveries waiting to be recorded: retry later")
		a.retryAfter = queueFullRetryAfter
	}
	a.integration, a.event, a.delivery = key.String(), d.Event, d.ID
	return a
}

// rejected records a rejected delivery on its integration (best effort: a
// full queue drops the record, not the answer).
func (s *Server) rejected(in *integration, h http.Header, a answer, now time.Time) answer {
	a.integration = in.key.String()
	if event := h.Get(HeaderEvent); isEventName(event) {
		a.event = event
	}
	if id := h.Get(HeaderDelivery); isDeliveryID(id) {
		a.delivery = id
	}
	s.enqueue(in.key, &record{
		time:      now,
		result:    hookv1.DeliveryRejected,
		rejection: a.reason,
		delivery: &hookv1.DeliveryStatus{ID: a.delivery, Event: a.event, ReceivedTime: metav1.NewTime(now),
			Result: hookv1.DeliveryRejected},
	})
	return a
}

// classify decides what a valid delivery means: a ping, a subscribed and
// handled event (processed), or one that is not (ignored).
func classify(in *integration, d *Delivery, now time.Time) (*record, answer) {
	p := &d.Payload
	rec := &record{time: now, event: d.Event}
	last := &hookv1.DeliveryStatus{ID: d.ID, Event: d.Event, Action: p.Action, Target: d.Target,
		ReceivedTime: metav1.NewTime(now)}
	rec.delivery = last

	switch {
	case d.Event == "ping":
		rec.result = hookv1.DeliveryProcessed
		last.Result = rec.result
		return rec, answer{code: http.StatusOK, result: resultProcessed,
			body: jsonBody(map[string]any{"processed": true, "event": "ping", "hook_id": d.HookID})}
	case !in.subscribed(d.Event):
		return ignored(rec, fmt.Sprintf("event %q is not in spec.events", d.Event))
	case !handledEvents[d.Event]:
		return ignored(rec, fmt.Sprintf("event %q has no handler", d.Event))
	}

	rec.result = hookv1.DeliveryProcessed
	last.Result = rec.result
	switch d.Event {
	case "push":
		last.Ref, last.After = p.Ref, p.After
	case "pull_request":
		rec.pullRequest = pullRequestStatus(in, d, now)
	case "issues":
		rec.issue, rec.untrackIssue = issueStatus(in, d, now)
	}
	return rec, answer{code: http.StatusOK, body: processedBody, result: resultProcessed}
}

func ignored(rec *record, reason string) (*record, answer) {
	rec.result = hookv1.DeliveryIgnored
	rec.delivery.Result = rec.result
	return rec, answer{code: http.StatusAccepted, result: resultIgnored,
		body: jsonBody(map[string]any{"processed": false, "reason": reason})}
}

func pullRequestStatus(in *integration, d *Delivery, now time.Time) *hookv1.PullRequestStatus {
	pr := d.Payload.PullRequest
	if pr == nil || d.Target == "" {
		return nil
	}
	repo := d.Target
	if d.Payload.Repository != nil && d.Payload.Repository.FullName != "" {
		repo = d.Payload.Repository.FullName
	}
	return &hookv1.PullRequestStatus{
		Repository:  repo,
		Number:      pr.Number,
		Title:       pr.Title,
		URL:         pr.HTMLURL,
		State:       pr.state(),
		LinkKey:     LinkKey(pr.body(), in.pullRequestKey),
		UpdatedTime: metav1.NewTime(now),
	}
}

// untrackingActions remove an issue from status: it is gone from the
// repository.
var untrackingActions = map[string]bool{"deleted": true, "transferred": true}

func issueStatus(in *integration, d *Delivery, now time.Time) (*hookv1.IssueStatus, *itemKey) {
	is := d.Payload.Issue
	if is == nil || in.issueLabel == "" || d.Payload.Repository == nil || d.Payload.Repository.FullName == "" {
		return nil, nil
	}
	repo := d.Payload.Repository.FullName
	if !is.hasLabel(in.issueLabel) || untrackingActions[d.Payload.Action] {
		return nil, &itemKey{repo, is.Number}
	}
	return &hookv1.IssueStatus{
		Repository:  repo,
		Number:      is.Number,
		Title:       is.Title,
		URL:         is.HTMLURL,
		State:       is.state(),
		UpdatedTime: metav1.NewTime(now),
	}, nil
}

// readBody reads the body into buf, refusing more than MaxBodyBytes: it never
// reads more than MaxBodyBytes+1 bytes from the connection.
func readBody(w http.ResponseWriter, r *http.Request, buf *bytes.Buffer) error {
	if r.ContentLength > MaxBodyBytes {
		return errTooLarge
	}
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength) + bytes.MinRead)
	}
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return errTooLarge
	}
	return err
}

func putBuffer(buf *bytes.Buffer) {
	if buf.Cap() > maxPooledBuffer {
		return
	}
	buf.Reset()
	bufferPool.Put(buf)
}

// finish writes the answer, logs the one line of the request, counts it and
// charges rejections to the source.
func (s *Server) finish(w http.ResponseWriter, r *http.Request, a answer, start time.Time) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	if a.retryAfter != "" {
		h.Set("Retry-After", a.retryAfter)
	}
	w.WriteHeader(a.code)
	_, _ = w.Write(a.body)

	if a.charge {
		if addr, ok := clientAddr(r, s.policy.trusted); ok {
			s.rejects.charge(addr, start)
		}
	}
	elapsed := time.Since(start)
	labels := deliveryLabels{integration: a.integration, event: a.event, result: a.result}
	if a.result == resultRejected {
		// The event of a rejected request is not vouched for by a
		// signature: it would let anyone grow the label set.
		labels.event = ""
	}
	receiverMetrics.observe(labels, a.code, elapsed.Seconds())
	log := s.log
	if a.integration == "" {
		// Requests that name no known integration are logged only at V(1),
		// so that a scan of the receiver does not flood the log.
		log = log.V(1)
	}
	log.Info("Delivery answered", "delivery", a.delivery, "event", a.event, "integration", a.integration,
		"result", a.result, "code", a.code, "duration", elapsed)
}
