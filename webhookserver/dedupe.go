package webhookserver

import (
	"encoding/binary"
	"hash/maphash"
	"sync"

	"k8s.io/apimachinery/pkg/types"
)

// deliveryKey identifies a delivery: a 128-bit hash of the integration, the
// hook ID and the delivery GUID, so that every entry has the same small size.
type deliveryKey [16]byte

// deliveryKeySeeds are random per process: nobody outside can aim two
// deliveries at the same key (and only GitHub can sign one).
var deliveryKeySeeds = [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}

func newDeliveryKey(integration types.NamespacedName, hookID int64, guid string) deliveryKey {
	var id [8]byte
	binary.LittleEndian.PutUint64(id[:], uint64(hookID)) //nolint:gosec // hashed as bits, the sign is irrelevant
	var k deliveryKey
	for i, seed := range deliveryKeySeeds {
		var h maphash.Hash
		h.SetSeed(seed)
		// Names hold neither '/' nor NUL and the hook ID has a fixed
		// size, so no two triples write the same bytes.
		_, _ = h.WriteString(integration.Namespace)
		_ = h.WriteByte('/')
		_, _ = h.WriteString(integration.Name)
		_ = h.WriteByte(0)
		_, _ = h.Write(id[:])
		_, _ = h.WriteString(guid)
		binary.LittleEndian.PutUint64(k[i*8:], h.Sum64())
	}
	return k
}

// dedupeCache remembers the last deliveries answered 2xx, at most size of
// them (the oldest are forgotten first), so a delivery GitHub sends again is
// answered as a duplicate and not recorded twice. Memory is fixed: about 40
// bytes per entry.
type dedupeCache struct {
	mu   sync.Mutex
	seen map[deliveryKey]struct{}
	ring []deliveryKey
	next int
	full bool
}

func newDedupeCache(size int) *dedupeCache {
	return &dedupeCache{seen: make(map[deliveryKey]struct{}, size), ring: make([]deliveryKey, size)}
}

// reserve records k and reports true when it was not seen before. A
// reservation whose delivery ends up not accepted is dropped with forget.
func (c *dedupeCache) reserve(k deliveryKey) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.seen[k]; ok {
		return false
	}
	if c.full {
		delete(c.seen, c.ring[c.next])
	}
	c.ring[c.next] = k
	c.seen[k] = struct{}{}
	c.next++
	if c.next == len(c.ring) {
		c.next, c.full = 0, true
	}
	return true
}

// forget drops k, so that a later delivery with the same key is processed.
// Its ring slot stays until overwritten, so the key, if reserved again, is
// forgotten a little earlier than its turn: as for any delivery older than the
// cache, a resend is then processed again.
func (c *dedupeCache) forget(k deliveryKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.seen, k)
}
