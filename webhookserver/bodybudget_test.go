package webhookserver

import "testing"

// TestBodyBuffersReuseTheLastReturned: the buffer a body gets is the one
// returned last (still in the CPU's caches), and no more idle buffers of a
// size are kept than bodyClassKept allows.
func TestBodyBuffersReuseTheLastReturned(t *testing.T) {
	b := newBodyBuffers()
	size := bodyClassSizes[0]
	first, second := b.get(size), b.get(size)
	b.put(first)
	b.put(second)
	if got := b.get(size); &got[:1][0] != &second[:1][0] {
		t.Errorf("got another buffer than the one returned last")
	}
	if got := b.get(size); &got[:1][0] != &first[:1][0] {
		t.Errorf("got another buffer than the one returned before it")
	}

	for range bodyClassKept[0] + 10 {
		b.put(make([]byte, 0, size))
	}
	if n := len(b.free[0]); n != bodyClassKept[0] {
		t.Errorf("%d idle buffers of %d bytes kept, want at most %d", n, size, bodyClassKept[0])
	}
	// A buffer of a size that is not pooled is never kept.
	b.put(make([]byte, 0, size+1))
	for i := range b.free {
		for _, buf := range b.free[i] {
			if cap(buf) != bodyClassSizes[i] {
				t.Errorf("kept a buffer of %d bytes among those of %d", cap(buf), bodyClassSizes[i])
			}
		}
	}
}
