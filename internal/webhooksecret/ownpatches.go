package webhooksecret

import (
	"strconv"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// ownPatchMemory is how long OwnPatches remembers a patch: long enough for
// the watch to deliver it to the receiver of the same process and for its
// secret queue to take the integration up, even behind a burst.
const ownPatchMemory = time.Minute

// OwnPatches remembers, for a while, the Secrets that hookwarden's own
// metadata patches changed, from one resourceVersion to the next. Such a
// patch is guarded by the resourceVersion it was computed from and writes
// labels or finalizers only, so the Secret's data at the second version is
// its data at the first. In the one-process layout the reconciler notes the
// label and protection finalizer it adds to each Secret an integration
// references when it first reads it, and the receiver, which reads a Secret
// again when its resourceVersion changes, does not read it for them
// (Cache.SameData). A nil *OwnPatches remembers nothing.
type OwnPatches struct {
	mu      sync.Mutex
	patches map[types.NamespacedName]ownPatch
	// pruning forgets the patches older than ownPatchMemory, while there
	// are any.
	pruning *time.Timer
	now     func() time.Time
}

type ownPatch struct {
	from, to uint64
	at       time.Time
}

// NewOwnPatches returns an empty OwnPatches.
func NewOwnPatches() *OwnPatches {
	return &OwnPatches{patches: map[types.NamespacedName]ownPatch{}, now: time.Now}
}

// Note records that a metadata patch guarded by resourceVersion from moved
// the Secret key to resourceVersion to. Versions that are not numbers are
// not recorded.
func (p *OwnPatches) Note(key types.NamespacedName, from, to string) {
	f, t := ParseVersion(from), ParseVersion(to)
	if p == nil || f == 0 || t == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if p.pruning == nil {
		p.pruning = time.AfterFunc(ownPatchMemory, p.prune)
	}
	if last, ok := p.patches[key]; ok && last.to == f {
		// A second patch right after the first: the data is still that of
		// the first one's start.
		f = last.from
	}
	p.patches[key] = ownPatch{from: f, to: t, at: now}
}

// SameData reports whether the Secret key holds at resourceVersion to the
// data it held at from, as a noted patch says.
func (p *OwnPatches) SameData(key types.NamespacedName, from, to uint64) bool {
	if p == nil || from == 0 {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	patch, ok := p.patches[key]
	return ok && patch.from == from && patch.to == to && p.now().Sub(patch.at) <= ownPatchMemory
}

// prune forgets the patches older than ownPatchMemory, and comes back
// while some are left.
func (p *OwnPatches) prune() {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	for k, patch := range p.patches {
		if now.Sub(patch.at) > ownPatchMemory {
			delete(p.patches, k)
		}
	}
	if len(p.patches) == 0 {
		// A new map: a Go map keeps the room it grew to, and a burst
		// (every integration's Secret labelled at start) grows it to
		// one entry per Secret.
		p.patches = map[types.NamespacedName]ownPatch{}
		p.pruning = nil
		return
	}
	p.pruning.Reset(ownPatchMemory)
}

// ParseVersion is a resourceVersion as a number; 0 when it is not one.
func ParseVersion(resourceVersion string) uint64 {
	v, err := strconv.ParseUint(resourceVersion, 10, 64)
	if err != nil {
		return 0
	}
	return v
}
