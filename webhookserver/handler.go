package webhookserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	"github.com/hookwarden/hookwarden/internal/delivery"
)

// Results of an answer, as the deliveries metric and the log line name them.
const (
	resultProcessed = string(hookv1.DeliveryProcessed)
	resultIgnored   = string(hookv1.DeliveryIgnored)
	resultRejected  = string(hookv1.DeliveryRejected)
	resultDuplicate = "duplicate"
)

// deliveryAnswered is the message of the line logged for every request.
const deliveryAnswered = "Delivery answered"

const (
	// queueFullRetryAfter is the Retry-After of a 503 for a full queue.
	queueFullRetryAfter = "5"
	// inflightRetryAfter is the Retry-After of the answers to a receiver
	// (or a source's share of it) that is full: in-flight deliveries, body
	// budget, connections.
	inflightRetryAfter = "1"
)

var (
	processedBody = []byte(`{"processed":true}` + "\n")
	duplicateBody = []byte(`{"processed":true,"duplicate":true}` + "\n")

	contentTypeJSONBytes = []byte(delivery.ContentTypeJSON)
)

// answer is the receiver's reply to one request, and what it logs and counts.
type answer struct {
	code       int
	body       []byte
	retryAfter string
	// allow is the Allow header of a 405.
	allow string
	// bodyRead is true once the request's body was read to its end. A
	// request answered without reading its body has its connection closed
	// rather than drained.
	bodyRead bool
	result   string
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

// serve answers one request: what its headers decide first, then, for a
// request that may be a delivery, its body within the source's fair share,
// and last the per-source budget of rejected requests. It is the
// receiver's fasthttp handler; the server runs it once the headers (and at
// most the first 8 KiB of a body within the cap) are in, so a body is read
// only for a known integration, with the cap.
func (s *Server) serve(ctx *fasthttp.RequestCtx) {
	defer s.recoverPanic(ctx)
	start := ctx.Time() // when the server had read the request's headers
	src := s.source(ctx)
	s.finish(ctx, s.limitRejected(s.route(ctx, src, start), src, start), src, start)
}

// expect answers the headers of a request that asked for 100 Continue: 100
// only when its body would be read (a known integration, an acceptable
// length and headers), else at once the final answer, which the client
// reads instead of sending its body. It is the HTTP server's
// ExpectHandler: the server writes what it sets and closes the connection.
func (s *Server) expect(ctx *fasthttp.RequestCtx) (code int) {
	start := time.Now()
	defer func() {
		if r := recover(); r != nil {
			s.answerPanic(ctx, r)
			code = http.StatusInternalServerError
		}
	}()
	src := s.source(ctx)
	a, in, _ := s.screen(ctx, src, start)
	if in != nil {
		return fasthttp.StatusContinue
	}
	a = s.limitRejected(a, src, start)
	s.finish(ctx, a, src, start)
	return a.code
}

// recoverPanic answers 500 for a request whose handling panicked, and logs
// the panic, instead of letting it end the process (the HTTP server does
// not recover handlers). A panic is a bug in the receiver, never an answer
// to bad input.
func (s *Server) recoverPanic(ctx *fasthttp.RequestCtx) {
	if r := recover(); r != nil {
		s.answerPanic(ctx, r)
	}
}

func (s *Server) answerPanic(ctx *fasthttp.RequestCtx, r any) {
	s.log.Error(fmt.Errorf("panic: %v", r), "Receiver failed to answer a request", "stack", string(debug.Stack()))
	a := errorAnswer(http.StatusInternalServerError, "internal error: the delivery was not processed")
	a.charge = false
	ctx.Response.Reset()
	s.finish(ctx, a, source{}, ctx.Time())
	ctx.SetConnectionClose()
}

// source is the address a request comes from, as the abuse limits see it.
type source struct {
	addr netip.Addr
	ok   bool
}

// key groups the source's requests in the fair shares: its sourceKey, or
// one key for all requests without an address.
func (src source) key() netip.Prefix {
	if !src.ok {
		return netip.Prefix{}
	}
	return sourceKey(src.addr)
}

func (s *Server) source(ctx *fasthttp.RequestCtx) source {
	peer, ok := netAddr(ctx.RemoteAddr())
	if !ok || !inPrefixes(peer, s.policy.trusted) {
		return source{peer, ok}
	}
	addr, ok := forwardedAddr(peer, ctx.Request.Header.PeekAll("X-Forwarded-For"), s.policy.trusted)
	return source{addr, ok}
}

// route answers what the headers decide, or hands a possible delivery on.
func (s *Server) route(ctx *fasthttp.RequestCtx, src source, now time.Time) answer {
	a, in, secrets := s.screen(ctx, src, now)
	if in == nil {
		return a
	}
	return s.handleDelivery(ctx, in, secrets, src, now)
}

// limitRejected applies the per-source budget of rejected requests to an
// answer: a source that spent it gets 429 instead of a rejection. Only
// what would be rejected anyway is refused so: a delivery that would be
// accepted is verified and accepted whatever its source did before, so
// nobody sharing GitHub's address (or its proxy's, with no trusted
// X-Forwarded-For) can get GitHub's deliveries refused.
func (s *Server) limitRejected(a answer, src source, now time.Time) answer {
	if !a.charge || !src.ok {
		return a
	}
	exhausted, wait := s.rejects.exhausted(src.addr, now)
	if !exhausted {
		return a
	}
	limited := errorAnswer(http.StatusTooManyRequests, "too many rejected requests from this address: retry later")
	limited.retryAfter = retryAfterSeconds(wait)
	limited.integration, limited.event, limited.delivery, limited.bodyRead =
		a.integration, a.event, a.delivery, a.bodyRead
	return limited
}

// handleDelivery reads a delivery's body within its source's fair share of
// the in-flight deliveries and of the body budget, runs the checks of
// docs/receiver.md and hands the accepted delivery to the recording queue.
func (s *Server) handleDelivery(ctx *fasthttp.RequestCtx, in *integration, secrets delivery.Secrets, src source,
	now time.Time) answer {
	key := src.key()
	refusal, newcomer := s.inflight.takeFirst(key, 1, false)
	if refusal != shareGranted {
		return busyAnswer(refusal, "deliveries in flight")
	}
	defer s.inflight.give(key, 1)

	header := requestHeader{&ctx.Request.Header}
	body := bodyReader{s: s, key: key, newcomer: newcomer}
	defer body.release()
	raw, err := body.read(ctx)
	switch {
	case err == nil:
	case errors.Is(err, errTooLarge):
		return s.rejected(in, header, errorAnswer(http.StatusRequestEntityTooLarge, "payload larger than 25 MiB"), now)
	case errors.Is(err, errBodyShare):
		return busyAnswer(shareOverSource, "request bodies being read")
	case errors.Is(err, errBodyBudget):
		return busyAnswer(shareExhausted, "request bodies being read")
	default:
		return s.rejected(in, header, errorAnswer(http.StatusBadRequest, "could not read the request body"), now)
	}

	a := s.validated(in, in.key, &ctx.Request.Header, raw, secrets, now)
	a.bodyRead = true
	return a
}

// busyAnswer is the answer to a request refused for want of capacity: 429
// when its source holds its share, 503 when the receiver is full. Neither
// is a rejection: it is not charged to the source.
func busyAnswer(refusal shareRefusal, what string) answer {
	a := errorAnswer(http.StatusServiceUnavailable, "too many "+what+": retry later")
	if refusal == shareOverSource {
		a = errorAnswer(http.StatusTooManyRequests, "too many "+what+" from this address: retry later")
	}
	a.retryAfter, a.charge = inflightRetryAfter, false
	return a
}

// validated answers a delivery whose body was read.
func (s *Server) validated(in *integration, key types.NamespacedName, header *fasthttp.RequestHeader, body []byte,
	secrets delivery.Secrets, now time.Time) answer {
	// Validate copies what it keeps of the headers.
	d, rej := delivery.Validate(peekedHeader{header}, body, secrets, now)
	if rej != nil {
		return s.rejected(in, requestHeader{header}, errorAnswer(rej.Code, rej.Reason), now)
	}

	dk := newDeliveryKey(key, d.ID, &d.MAC)
	if !s.dedupe.reserve(dk) {
		s.enqueue(key, &record{time: now, duplicate: true})
		return answer{code: http.StatusOK, body: duplicateBody, result: resultDuplicate}
	}
	rec, a := classify(in, d, now)
	// The answer's event names the metric series and the log line: the
	// recorded name, never one that only the unsigned header vouches for.
	// Read before the record is queued: a worker may have recycled it by
	// the time enqueue returns.
	event := rec.event
	if !s.enqueue(key, rec) {
		releaseRecord(rec)
		s.dedupe.forget(dk)
		a = errorAnswer(http.StatusServiceUnavailable, "too many deliveries waiting to be recorded: retry later")
		a.retryAfter = queueFullRetryAfter
	}
	a.integration, a.event, a.delivery = in.name, event, d.ID
	return a
}

// requestHeader gives delivery.Validate the request's headers. Values are
// copied: they outlive the request in the records.
type requestHeader struct{ h *fasthttp.RequestHeader }

// Get returns the first value of the header key, "" when it is absent.
func (r requestHeader) Get(key string) string { return string(peekHeader(r.h, key)) }

// peekedHeader gives delivery.CheckHeaders and delivery.Validate the
// request's headers without copying them: neither keeps a string it reads.
type peekedHeader struct{ h *fasthttp.RequestHeader }

// Get returns the first value of the header key, "" when it is absent,
// valid only while the request is.
func (r peekedHeader) Get(key string) string { return unsafeString(peekHeader(r.h, key)) }

// deliveryHeaders are the headers read from every delivery, each with its
// name in the form the HTTP server stores header names in (normalized).
var deliveryHeaders = func() []headerName {
	names := []string{fasthttp.HeaderContentType, delivery.HeaderEvent, delivery.HeaderDelivery,
		delivery.HeaderSignature256, delivery.HeaderHookID, delivery.HeaderTargetType}
	headers := make([]headerName, len(names))
	for i, name := range names {
		headers[i] = headerName{name: name, normalized: fasthttp.AppendNormalizedHeaderKey(nil, name)}
	}
	return headers
}()

type headerName struct {
	name       string
	normalized []byte
}

// peekHeader returns the first value of the header key, as h.Peek does,
// without normalizing the name of a header read from every delivery at
// every call (a copy and a pass over the name, a dozen times a request).
func peekHeader(h *fasthttp.RequestHeader, key string) []byte {
	for i := range deliveryHeaders {
		if deliveryHeaders[i].name == key {
			return h.PeekCanonical(deliveryHeaders[i].normalized)
		}
	}
	return h.Peek(key)
}

// rejected records a rejected delivery on its integration.
func (s *Server) rejected(in *integration, h delivery.Header, a answer, now time.Time) answer {
	a.integration = in.name
	if event := h.Get(delivery.HeaderEvent); delivery.IsEventName(event) {
		a.event = event
	}
	if id := h.Get(delivery.HeaderDelivery); delivery.IsDeliveryID(id) {
		a.delivery = id
	}
	// Recorded directly, not through the recording queue: rejections are
	// what anonymous clients can send at will, and they must never fill
	// the queue that accepted deliveries wait in.
	s.recorder.add(in.key, &record{
		time:      now,
		result:    hookv1.DeliveryRejected,
		rejection: a.reason,
		delivery: &hookv1.DeliveryStatus{ID: a.delivery, Event: publishedEvent(a.event), ReceivedTime: metav1.NewTime(now),
			Result: hookv1.DeliveryRejected},
	})
	return a
}

// publishedEvent is event when GitHub publishes it, else "": status.
// lastDelivery never shows a name that only an unsigned header vouches for.
func publishedEvent(event string) string {
	if delivery.Known(event) {
		return event
	}
	return ""
}

// classify turns what a valid delivery means (the event table of package
// delivery) into the answer and what it records in status. Only the name
// Classify vouches for is counted: X-GitHub-Event is not signed.
func classify(in *integration, d *delivery.Delivery, now time.Time) (*record, answer) {
	out := delivery.Classify(d, delivery.Settings{
		Subscribed:     in.subscribed(d.Event),
		PullRequestKey: in.pullRequestKey,
		IssueLabel:     in.issueLabel,
	})
	at := metav1.NewTime(now)
	result := hookv1.DeliveryIgnored
	if out.Processed {
		result = hookv1.DeliveryProcessed
	}
	rec := newRecord()
	rec.time, rec.event, rec.result = now, out.Event, result
	rec.status = hookv1.DeliveryStatus{ID: d.ID, Event: publishedEvent(d.Event), Action: d.Action, Target: d.Target,
		Ref: out.Ref, After: out.After, ReceivedTime: at, Result: result}
	rec.delivery = &rec.status
	if pr := out.PullRequest; pr != nil {
		rec.pullRequest = &hookv1.PullRequestStatus{Repository: pr.Repository, Number: pr.Number, Title: pr.Title,
			URL: pr.URL, State: pr.State, LinkKey: pr.LinkKey, UpdatedTime: at}
	}
	if is := out.Issue; is != nil {
		rec.issue = &hookv1.IssueStatus{Repository: is.Repository, Number: is.Number, Title: is.Title,
			URL: is.URL, State: is.State, UpdatedTime: at}
	}
	if k := out.UntrackIssue; k != nil {
		rec.untrackIssue = &itemKey{k.Repository, k.Number}
	}

	switch {
	case !out.Processed:
		return rec, answer{code: http.StatusAccepted, result: resultIgnored,
			body: jsonBody(map[string]any{"processed": false, "reason": out.Reason})}
	case out.AnswerHookID:
		return rec, answer{code: http.StatusOK, result: resultProcessed,
			body: jsonBody(map[string]any{"processed": true, "event": d.Event, "hook_id": d.HookID})}
	}
	return rec, answer{code: http.StatusOK, body: processedBody, result: resultProcessed}
}

// finish writes the answer, logs the one line of the request, counts it and
// charges rejections to the source.
func (s *Server) finish(ctx *fasthttp.RequestCtx, a answer, src source, start time.Time) {
	ctx.SetStatusCode(a.code)
	ctx.SetContentTypeBytes(contentTypeJSONBytes)
	if a.retryAfter != "" {
		ctx.Response.Header.Set("Retry-After", a.retryAfter)
	}
	if a.allow != "" {
		ctx.Response.Header.Set("Allow", a.allow)
	}
	ctx.SetBody(a.body)
	if !a.bodyRead && bodyPending(&ctx.Request.Header) {
		// The rest of the body is not read: close the connection, after
		// the client has had the time to read the answer.
		ctx.SetConnectionClose()
		s.lingerOnClose(ctx.Conn(), src)
	}

	if a.charge && src.ok {
		s.rejects.charge(src.addr, start)
	}
	now := time.Now()
	s.logAnswer(a, now, now.Sub(start))
}

// logAnswer counts the answer and logs its one line, stamped now.
func (s *Server) logAnswer(a answer, now time.Time, elapsed time.Duration) {
	// a.integration is "namespace/name"; neither part can hold a slash.
	namespace, name, _ := strings.Cut(a.integration, "/")
	labels := deliveryLabels{namespace: namespace, name: name, event: a.event, result: a.result}
	if a.result == resultRejected {
		// The event of a rejected request is not vouched for by a
		// signature: it would let anyone grow the label set.
		labels.event = ""
	}
	receiverMetrics.observe(labels, a.code, elapsed.Seconds(), s.store.has)
	// Requests that name no known integration are logged only at V(1), so
	// that a scan of the receiver does not flood the log.
	verbosity := 0
	if a.integration == "" {
		verbosity = 1
	}
	if s.answerLine != nil && verbosity == 0 {
		s.answerLine.Log(now, zap.String("delivery", a.delivery), zap.String("event", a.event),
			zap.String("integration", a.integration), zap.String("result", a.result), zap.Int("code", a.code),
			zap.Duration("duration", elapsed))
		return
	}
	if s.zapLog != nil {
		// logr's V(n) is zap's level -n.
		if ce := s.zapLog.Check(zapcore.Level(-verbosity), deliveryAnswered); ce != nil {
			ce.Write(zap.String("delivery", a.delivery), zap.String("event", a.event), zap.String("integration", a.integration),
				zap.String("result", a.result), zap.Int("code", a.code), zap.Duration("duration", elapsed))
		}
		return
	}
	s.log.V(verbosity).Info(deliveryAnswered, "delivery", a.delivery, "event", a.event, "integration", a.integration,
		"result", a.result, "code", a.code, "duration", elapsed)
}
