package webhookserver

import (
	"crypto/sha256"
	"strconv"
	"sync"
)

// deliveryKey identifies a delivery: a hash of the integration, the hook ID
// and the delivery GUID, so that every entry has the same small size.
type deliveryKey [16]byte

func newDeliveryKey(integration string, hookID int64, guid string) deliveryKey {
	h := sha256.New()
	h.Write([]byte(integration))
	h.Write([]byte{0})
	h.Write(strconv.AppendInt(nil, hookID, 10))
	h.Write([]byte{0})
	h.Write([]byte(guid))
	var k deliveryKey
	copy(k[:], h.Sum(nil))
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
