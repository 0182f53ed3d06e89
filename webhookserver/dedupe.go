package webhookserver

import (
	"crypto/sha256"
	"encoding/binary"
	"hash/maphash"
	"sync"

	"k8s.io/apimachinery/pkg/types"
)

// deliveryKey identifies a delivery: a 128-bit hash of the integration, the
// delivery GUID and the HMAC-SHA256 of its body, so that every entry has the
// same small size.
type deliveryKey [16]byte

// deliveryKeySeeds are random per process: nobody outside can aim two
// deliveries at the same key (and only GitHub can sign one).
var deliveryKeySeeds = [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}

// newDeliveryKey keys a delivery by what cannot be varied without the
// webhook secret, besides the GUID GitHub gives it: the signed body. The
// headers are not signed, so a key holding the hook ID (or the event) would
// let one captured delivery be processed again under every value an
// attacker cares to send. The GUID alone would not do either: an attacker
// who guessed the GUID of a coming delivery could send a captured body
// under it first and have GitHub's delivery answered as a duplicate.
//
// The body's digest is its HMAC-SHA256, which the signature check has just
// computed and matched (mac): keyed by the secret, it changes with every
// byte of the body and only GitHub can produce it. Hashing the body again
// would cost a pass over up to 25 MiB per delivery (a seeded maphash runs
// at about 4.7 GB/s, ~55 µs for a 256 KB push, a sixth of what the receiver
// spends on such a delivery) for no more protection: a captured delivery
// sent again has the same body, GUID and signature, whatever its headers
// say. The one difference is harmless: GitHub sending the same delivery
// again signed with another secret (redelivered after the webhook secret
// changed) is processed again.
//
// maphash, seeded per process, is enough to shorten the key: the inputs are
// not chosen freely (the digest is GitHub's), and the seed is unknown to
// anyone who could try to make two keys collide.
func newDeliveryKey(integration types.NamespacedName, guid string, mac *[sha256.Size]byte) deliveryKey {
	var k deliveryKey
	for i, seed := range deliveryKeySeeds {
		var h maphash.Hash
		h.SetSeed(seed)
		// Names hold neither '/' nor NUL and the digest has a fixed size,
		// so no two triples write the same bytes.
		_, _ = h.WriteString(integration.Namespace)
		_ = h.WriteByte('/')
		_, _ = h.WriteString(integration.Name)
		_ = h.WriteByte(0)
		_, _ = h.Write(mac[:])
		_, _ = h.WriteString(guid)
		binary.LittleEndian.PutUint64(k[i*8:], h.Sum64())
	}
	return k
}

// dedupeCache remembers the last deliveries answered 2xx, at most size of
// them (the oldest are forgotten first), so a delivery GitHub sends again is
// answered as a duplicate and not recorded twice. Its memory grows with the
// deliveries remembered, up to about 52 bytes per entry once size are: a
// cache made at its full size up front would hold its 3 MB (at the default
// size) from the start, and the Go collector, whose target is twice the
// heap it finds live, would let the heap grow by as much again before
// collecting, whether a single delivery had come or not.
type dedupeCache struct {
	mu   sync.Mutex
	size int
	seen map[deliveryKey]struct{}
	// ring holds the keys in the order reserved; once it holds size, next
	// is the oldest, overwritten by the next key.
	ring []deliveryKey
	next int
}

// minDedupeRing is the ring's first capacity.
const minDedupeRing = 64

func newDedupeCache(size int) *dedupeCache {
	return &dedupeCache{size: size, seen: map[deliveryKey]struct{}{}}
}

// reserve records k and reports true when it was not seen before. A
// reservation whose delivery ends up not accepted is dropped with forget.
func (c *dedupeCache) reserve(k deliveryKey) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.seen[k]; ok {
		return false
	}
	if len(c.ring) < c.size {
		if len(c.ring) == cap(c.ring) {
			// Doubled, but never past size: append could round the
			// capacity up beyond it.
			grown := make([]deliveryKey, len(c.ring), min(max(2*cap(c.ring), minDedupeRing), c.size))
			copy(grown, c.ring)
			c.ring = grown
		}
		c.ring = append(c.ring, k)
	} else {
		delete(c.seen, c.ring[c.next])
		c.ring[c.next] = k
		c.next = (c.next + 1) % c.size
	}
	c.seen[k] = struct{}{}
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
