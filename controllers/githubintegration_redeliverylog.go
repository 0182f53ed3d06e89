package controllers

import (
	"time"

	"k8s.io/apimachinery/pkg/types"
)

func (l *redeliveryLog) requested(key types.NamespacedName, hookID int64, guid string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.entries == nil {
		l.entries = map[types.NamespacedName]map[redeliveryKey]time.Time{}
	}
	if l.entries[key] == nil {
		l.entries[key] = map[redeliveryKey]time.Time{}
	}
	l.entries[key][redeliveryKey{hookID, guid}] = now
}

func (l *redeliveryLog) recent(key types.NamespacedName, hookID int64, guid string, now time.Time, interval time.Duration) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	t, ok := l.entries[key][redeliveryKey{hookID, guid}]
	return ok && now.Sub(t) < interval
}

// pingDue reports whether a ping may be sent (none within the interval)
// and, if so, records it.
func (l *redeliveryLog) pingDue(key types.NamespacedName, hookID int64, now time.Time, interval time.Duration) bool {
	if l.recent(key, hookID, "", now, interval) {
		return false
	}
	l.requested(key, hookID, "", now)
	return true
}

func (l *redeliveryLog) prune(key types.NamespacedName, now time.Time, interval time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, t := range l.entries[key] {
		if now.Sub(t) >= interval {
			delete(l.entries[key], k)
		}
	}
}

func (l *redeliveryLog) forgetIntegration(key types.NamespacedName) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.entries, key)
}
