package webhookserver

import (
	"encoding/binary"
	"runtime"
	"testing"
)

// dedupeKey is the i-th of distinct delivery keys.
func dedupeKey(i int) deliveryKey {
	var k deliveryKey
	binary.LittleEndian.PutUint64(k[:], uint64(i)) //nolint:gosec // i ≥ 0
	return k
}

// TestDedupeCacheMemoryGrowsWithDeliveries: a receiver that has remembered
// no delivery holds no memory for the deliveries it may remember (made at
// its full default size, the cache held about 3 MB from the start, which
// the Go collector's target doubled), and a full cache stays within the
// bound the receiver's memory budget counts per entry, remembering the
// newest deliveries and forgetting the oldest.
func TestDedupeCacheMemoryGrowsWithDeliveries(t *testing.T) {
	before := heapInUse()
	empty := newDedupeCache(DefaultDedupeSize)
	if grown := heapInUse() - before; grown > 4<<10 {
		t.Fatalf("an empty cache of %d deliveries holds %d bytes of heap, want at most 4 KiB", DefaultDedupeSize, grown)
	}
	runtime.KeepAlive(empty)

	const size = 8192
	before = heapInUse()
	c := newDedupeCache(size)
	for i := range 3 * size {
		if !c.reserve(dedupeKey(i)) {
			t.Fatalf("delivery %d, never seen, answered as a duplicate", i)
		}
	}
	perEntry := float64(heapInUse()-before) / size
	t.Logf("a full cache of %d deliveries: %.1f bytes of heap per entry", size, perEntry)
	if perEntry > dedupeEntryMemory {
		t.Fatalf("a full cache holds %.1f bytes of heap per entry, more than the %d the receiver's memory budget counts", perEntry, dedupeEntryMemory)
	}
	if len(c.ring) != size || cap(c.ring) != size {
		t.Fatalf("the ring holds %d keys in a capacity of %d, want %d in %d", len(c.ring), cap(c.ring), size, size)
	}
	if c.reserve(dedupeKey(3*size - size)) {
		t.Fatalf("the oldest of the last %d deliveries is forgotten", size)
	}
	if !c.reserve(dedupeKey(3*size - size - 1)) {
		t.Fatalf("a delivery %d deliveries ago is still remembered", size+1)
	}
	runtime.KeepAlive(c)
}
