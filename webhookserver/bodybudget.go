package webhookserver

import (
	"errors"
	"io"
	"net/netip"
	"sync"

	"github.com/valyala/fasthttp"
)

// Body buffers grow as bytes arrive, never from a declared length: a
// request that declares 25 MiB and sends 10 bytes holds one small buffer.
// Each growth is charged to the body budget (Options.BodyBudget) before it
// is allocated, shared fairly between sources (see fairShare), so the
// bytes held by bodies being read never exceed the budget whatever clients
// declare or send.
var (
	// bodyClassSizes are the pooled buffer sizes, each four times the one
	// before: a body starts in the smallest and moves up as it fills one.
	// Past the largest, buffers double, up to the body's length or the cap.
	bodyClassSizes = [...]int{16 << 10, 64 << 10, 256 << 10, 1 << 20}
	// bodyClassKept is how many idle buffers of each size are kept for
	// reuse: 4 MiB per size, bodyIdleMemory in all.
	bodyClassKept = [...]int{256, 64, 16, 4}
)

// bodyIdleMemory is the most memory idle pooled body buffers hold.
const bodyIdleMemory = 4 * 4 << 20

var (
	errTooLarge = errors.New("body too large")
	// errBodyBudget: the budget has no room for this body's next bytes.
	errBodyBudget = errors.New("body budget exhausted")
	// errBodyShare: the source holds its share of the budget.
	errBodyShare = errors.New("body budget share of the source exhausted")
)

// bodyBuffers keeps idle body buffers of the pooled sizes, a bounded
// number of each, so that idle memory has a fixed ceiling (a sync.Pool
// would keep whatever the last burst left until the next collections).
// Each size is a stack: the buffer handed out is the one returned last,
// still in the CPU's caches, instead of the one idle longest (a queue
// cycles through all of them, megabytes that no cache holds, and every
// body is then copied into memory the CPU has to fetch first).
type bodyBuffers struct {
	mu   sync.Mutex
	free [len(bodyClassSizes)][][]byte
}

func newBodyBuffers() *bodyBuffers {
	b := &bodyBuffers{}
	for i, n := range bodyClassKept {
		b.free[i] = make([][]byte, 0, n)
	}
	return b
}

func bodyClass(size int) int {
	for i, c := range bodyClassSizes {
		if c == size {
			return i
		}
	}
	return -1
}

// get returns an empty buffer of capacity size.
func (b *bodyBuffers) get(size int) []byte {
	if i := bodyClass(size); i >= 0 {
		b.mu.Lock()
		if n := len(b.free[i]); n > 0 {
			buf := b.free[i][n-1]
			b.free[i][n-1] = nil
			b.free[i] = b.free[i][:n-1]
			b.mu.Unlock()
			return buf
		}
		b.mu.Unlock()
	}
	return make([]byte, 0, size)
}

// put keeps buf for reuse if it has a pooled size and room is left.
func (b *bodyBuffers) put(buf []byte) {
	if i := bodyClass(cap(buf)); i >= 0 {
		b.mu.Lock()
		if len(b.free[i]) < bodyClassKept[i] {
			b.free[i] = append(b.free[i], buf[:0])
		}
		b.mu.Unlock()
	}
}

// nextBodySize is the capacity a full buffer of capacity current grows to
// when more bytes arrive, for a body of at most bound bytes.
func nextBodySize(current, bound int) int {
	for _, c := range bodyClassSizes {
		if c > current {
			return c
		}
	}
	return min(2*current, bound)
}

// bodyGrowthPeak is the most budget one body of bound bytes holds at once:
// while its buffer grows, the old and the new one.
func bodyGrowthPeak(bound int) int64 {
	size, peak := bodyClassSizes[0], bodyClassSizes[0]
	for size < bound {
		next := nextBodySize(size, bound)
		peak = max(peak, size+next)
		size = next
	}
	return int64(peak)
}

// bodyReader reads one request's body, charging its buffer to the budget
// share of its source.
type bodyReader struct {
	s   *Server
	key netip.Prefix
	// newcomer: the source held no in-flight delivery when this one was
	// admitted, so it may draw on the budget's reserve.
	newcomer bool
	buf      []byte
}

// grow moves the body to a buffer of capacity size, charged first.
func (r *bodyReader) grow(size int) error {
	switch r.s.bodies.take(r.key, int64(size), r.newcomer, false) {
	case shareOverSource:
		return errBodyShare
	case shareExhausted:
		return errBodyBudget
	}
	buf := append(r.s.buffers.get(size), r.buf...)
	r.release()
	r.buf = buf
	return nil
}

// release returns the buffer and its charge.
func (r *bodyReader) release() {
	if c := cap(r.buf); c > 0 {
		r.s.buffers.put(r.buf)
		r.s.bodies.give(r.key, int64(c))
		r.buf = nil
	}
}

// read reads the body, refusing more than MaxBodyBytes: a declared length
// over the cap never gets here (screen answers 413 from the headers), and
// a chunked body is read to at most MaxBodyBytes+1 bytes. The body is valid
// until release.
func (r *bodyReader) read(ctx *fasthttp.RequestCtx) ([]byte, error) {
	declared := ctx.Request.Header.ContentLength()
	stream := ctx.RequestBodyStream()
	if stream == nil || declared == 0 {
		// Nothing to stream: the body, if any, is in memory already.
		body := ctx.Request.Body()
		if len(body) > MaxBodyBytes {
			return nil, errTooLarge
		}
		if len(body) == 0 {
			return nil, nil
		}
		if err := r.grow(len(body)); err != nil {
			return nil, err
		}
		r.buf = append(r.buf, body...)
		return r.buf, nil
	}
	bound := MaxBodyBytes + 1
	if declared > 0 {
		bound = min(declared, bound)
	}
	if err := r.grow(bodyClassSizes[0]); err != nil {
		return nil, err
	}
	for len(r.buf) < bound {
		if len(r.buf) == cap(r.buf) {
			if err := r.grow(nextBodySize(cap(r.buf), bound)); err != nil {
				return nil, err
			}
		}
		n, err := stream.Read(r.buf[len(r.buf):cap(r.buf)])
		r.buf = r.buf[:len(r.buf)+n]
		switch {
		case len(r.buf) > MaxBodyBytes:
			return nil, errTooLarge
		case errors.Is(err, io.EOF):
			return r.buf, nil
		case err != nil:
			return nil, err
		}
	}
	if len(r.buf) > MaxBodyBytes {
		return nil, errTooLarge
	}
	return r.buf, nil
}
