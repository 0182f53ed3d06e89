package testenv

import (
	"bytes"
	"sync"
)

// Buffer collects what a process or a logger writes while the test reads
// it: Write and String may be called from different goroutines, which a
// bytes.Buffer does not allow.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns all written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
