package webhooksecret

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// TestOwnPatches: a noted patch says the data is the same from its first
// version to its second, and nothing else: not for other versions or
// Secrets, not for versions that are not numbers, and not once it is older
// than ownPatchMemory; two patches in a row join.
func TestOwnPatches(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	p := NewOwnPatches()
	p.now = func() time.Time { return now }
	creds := types.NamespacedName{Namespace: "team", Name: "creds"}
	other := types.NamespacedName{Namespace: "team", Name: "other"}

	p.Note(creds, "100", "105")
	p.Note(other, "opaque", "106")
	for _, c := range []struct {
		key      types.NamespacedName
		from, to uint64
		want     bool
	}{
		{creds, 100, 105, true},
		{creds, 99, 105, false},
		{creds, 100, 106, false},
		{creds, 0, 105, false},
		{other, 100, 105, false},
		{other, 0, 106, false},
	} {
		if got := p.SameData(c.key, c.from, c.to); got != c.want {
			t.Errorf("SameData(%s, %d, %d) = %v, want %v", c.key.Name, c.from, c.to, got, c.want)
		}
	}

	p.Note(creds, "105", "109")
	if !p.SameData(creds, 100, 109) {
		t.Error("two patches in a row: the data at the second's end is not the first's start")
	}
	now = now.Add(ownPatchMemory + time.Second)
	if p.SameData(creds, 100, 109) {
		t.Error("a patch older than ownPatchMemory is still believed")
	}
	p.Note(other, "200", "201")
	p.prune()
	if n := len(p.patches); n != 1 {
		t.Errorf("%d patches kept after the old ones expired, want 1", n)
	}
	now = now.Add(ownPatchMemory + time.Second)
	p.prune()
	if n := len(p.patches); n != 0 || p.pruning != nil {
		t.Errorf("%d patches kept once all expired (still pruning: %v), want none", n, p.pruning != nil)
	}

	var none *OwnPatches
	none.Note(creds, "1", "2")
	if none.SameData(creds, 1, 2) {
		t.Error("a nil OwnPatches remembered a patch")
	}
}

// TestOwnPatchesForgetTheirBurst: once every patch of a burst expired,
// OwnPatches holds none of the room the burst took.
func TestOwnPatchesForgetTheirBurst(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	p := NewOwnPatches()
	p.now = func() time.Time { return now }
	heap := func() int64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return int64(ms.HeapAlloc)
	}
	before := heap()
	for i := range 100_000 {
		p.Note(types.NamespacedName{Namespace: "team", Name: fmt.Sprintf("creds-%06d", i)}, "100", "105")
	}
	during := heap()
	now = now.Add(ownPatchMemory + time.Second)
	p.prune()
	after := heap()
	if during-before < 4<<20 {
		t.Fatalf("100,000 patches took %d bytes: too few to tell", during-before)
	}
	if after-before > 1<<20 {
		t.Errorf("after every patch expired %d bytes are still held of the %d the burst took", after-before, during-before)
	}
	runtime.KeepAlive(p)
}
