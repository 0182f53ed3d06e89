package controllers

import (
	"slices"
	"sync"

	"k8s.io/apimachinery/pkg/types"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
)

// writtenHooks remembers, per integration and target, the hook ID and
// secret fingerprint this process has put on GitHub and written to status,
// until the manager's cache shows them (the expectations of
// kube-controller-manager's ReplicaSet controller, for hooks).
//
// Why: right after a reconcile creates a hook, the next reconcile of the
// same integration (woken, for example, by a spec edit, a rotation or a
// reconcile request) often reads the integration from a cache that has not
// yet seen the status write. Without the hook ID it finds the hook by its
// payload URL, rightly adopts it, but must set its secret again, since
// GitHub never shows it: a second paced mutation for every hook. Waiting at
// the end of each reconcile until the cache shows a newer resourceVersion
// would also avoid that, but it holds a worker for as long as the cache
// lags (longest exactly when many integrations converge at once) and still
// fails when the wait's bound runs out; this record costs no wait and is
// right however late the cache is. It is lost with the process, which is
// harmless: a new process starts from a cache listed after every write of
// the old one, and a hook whose status write was lost is adopted as before.
type writtenHooks struct {
	mu      sync.Mutex
	entries map[types.NamespacedName]map[string]writtenHook
}

type writtenHook struct {
	id          int64
	fingerprint string
}

// overlay returns read (the hook statuses as read from the cache) with the
// ID and fingerprint of every hook this process wrote and read does not
// show yet, those of targets read lacks appended in order of target; it
// drops the entries read shows.
func (w *writtenHooks) overlay(key types.NamespacedName, read []hookv1.HookStatus) []hookv1.HookStatus {
	out := slices.Clone(read)
	w.mu.Lock()
	defer w.mu.Unlock()
	pending := w.entries[key]
	for i, hs := range out {
		h, ok := pending[hs.Target]
		if !ok {
			continue
		}
		if hs.ID == h.id && hs.SecretFingerprint == h.fingerprint {
			delete(pending, hs.Target)
			continue
		}
		out[i].ID, out[i].SecretFingerprint = h.id, h.fingerprint
	}
	var missing []string
	for target := range pending {
		if !slices.ContainsFunc(read, func(hs hookv1.HookStatus) bool { return hs.Target == target }) {
			missing = append(missing, target)
		}
	}
	slices.Sort(missing)
	for _, target := range missing {
		h := pending[target]
		out = append(out, hookv1.HookStatus{Target: target, ID: h.id, SecretFingerprint: h.fingerprint})
	}
	if len(pending) == 0 {
		delete(w.entries, key)
	}
	return out
}

// remember records the hooks of hooks (the statuses about to be written)
// whose ID or fingerprint differs from read (the statuses as read from the
// cache). It replaces what was remembered of the integration, so targets
// dropped from the spec are forgotten with it.
func (w *writtenHooks) remember(key types.NamespacedName, read, hooks []hookv1.HookStatus) {
	was := make(map[string]writtenHook, len(read))
	for _, hs := range read {
		was[hs.Target] = writtenHook{id: hs.ID, fingerprint: hs.SecretFingerprint}
	}
	pending := map[string]writtenHook{}
	for _, hs := range hooks {
		now := writtenHook{id: hs.ID, fingerprint: hs.SecretFingerprint}
		if hs.ID != 0 && was[hs.Target] != now {
			pending[hs.Target] = now
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(pending) == 0 {
		delete(w.entries, key)
		return
	}
	if w.entries == nil {
		w.entries = map[types.NamespacedName]map[string]writtenHook{}
	}
	w.entries[key] = pending
}

// forget drops what is remembered of an integration.
func (w *writtenHooks) forget(key types.NamespacedName) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.entries, key)
}
