package webhookserver

import (
	"maps"
	"slices"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	"github.com/hookwarden/hookwarden/internal/delivery"
)

const (
	// maxTrackedItems is how many pull requests and issues status keeps.
	maxTrackedItems = 50
	// maxEventCounts is the most events status.eventCounts lists, its
	// MaxItems in the CRD: room for every event GitHub publishes today and
	// those it adds.
	maxEventCounts = 100
	// maxReceivers is the MaxItems of status.receivers.
	maxReceivers = 100
)

// itemKey identifies a pull request or an issue.
type itemKey struct {
	repository string
	number     int64
}

// record is what one answered delivery changes in status.
type record struct {
	time      time.Time
	result    hookv1.DeliveryResult
	duplicate bool
	// delivery becomes status.lastDelivery; nil for duplicates.
	delivery *hookv1.DeliveryStatus
	// rejection becomes status.lastRejection.
	rejection string
	// event is counted in status.eventCounts (valid deliveries only).
	event       string
	pullRequest *hookv1.PullRequestStatus
	issue       *hookv1.IssueStatus
	// untrackIssue removes an issue that no longer carries the label.
	untrackIssue *itemKey

	// status holds delivery for records from newRecord, which are
	// recycled once added (releaseRecord): adding one keeps no pointer
	// into it.
	status hookv1.DeliveryStatus
}

// records recycles the records of valid deliveries: one per delivery,
// with its DeliveryStatus, were two allocations of some 250 bytes.
var records = sync.Pool{New: func() any { return new(record) }}

// newRecord returns an empty record from the pool.
func newRecord() *record { return records.Get().(*record) }

// releaseRecord returns rec to the pool once it was added, or could not be
// queued; nothing may use it afterwards. Only records from newRecord are
// released.
func releaseRecord(rec *record) {
	*rec = record{}
	records.Put(rec)
}

// eventDelta counts one event's deliveries since the last patch.
type eventDelta struct {
	count int64
	last  time.Time
}

// statusDelta is what the receiver observed for one integration since its
// last status patch. It is applied to a freshly read object on every patch
// attempt, so concurrent writers (other replicas, the reconciler) never lose
// each other's counts.
//
// A delta waits for its write one flush interval while the write budget
// allows, longer when it does not. Whatever the wait, its size is bounded:
// counters, events (GitHub's names only), and at most maxTrackedItems pull
// requests, as many tracked issues and as many untracked ones, the newest.
// Status keeps only the newest maxTrackedItems pull requests and issues,
// so an older one could never reach it. Only an issue's removal can be
// lost, when more than maxTrackedItems issues lose the label while one
// delta waits; that issue then stays listed until its next delivery.
type statusDelta struct {
	counters      hookv1.DeliveryCounters
	events        map[string]*eventDelta
	lastDelivery  *hookv1.DeliveryStatus
	lastRejection *hookv1.Rejection
	pullRequests  map[itemKey]hookv1.PullRequestStatus
	issues        map[itemKey]*hookv1.IssueStatus // nil value: untrack
	// untrackedAt is when each nil entry of issues was untracked, so that a
	// delivery recorded out of order wins only when it is newer.
	untrackedAt map[itemKey]time.Time
	// ack is this replica's entry of status.receivers, when it loaded the
	// secret of a rotation.
	ack *hookv1.ReceiverStatus
	// since is when the oldest change the delta holds was recorded: the
	// recorder writes the deltas waiting longest first.
	since time.Time
}

func newStatusDelta(since time.Time) *statusDelta {
	return &statusDelta{
		since:        since,
		events:       map[string]*eventDelta{},
		pullRequests: map[itemKey]hookv1.PullRequestStatus{},
		issues:       map[itemKey]*hookv1.IssueStatus{},
		untrackedAt:  map[itemKey]time.Time{},
	}
}

// add accounts for one delivery.
func (d *statusDelta) add(r *record) {
	d.counters.Received++
	switch {
	case r.duplicate:
		d.counters.Duplicates++
		return
	case r.result == hookv1.DeliveryProcessed:
		d.counters.Processed++
	case r.result == hookv1.DeliveryIgnored:
		d.counters.Ignored++
	case r.result == hookv1.DeliveryRejected:
		d.counters.Rejected++
	}
	if r.event != "" {
		d.addEvent(r.event, 1, r.time)
	}
	if r.delivery != nil && (d.lastDelivery == nil || !r.delivery.ReceivedTime.Before(&d.lastDelivery.ReceivedTime)) {
		// A copy: the record goes back to its pool once added.
		if d.lastDelivery == nil {
			d.lastDelivery = new(hookv1.DeliveryStatus)
		}
		*d.lastDelivery = *r.delivery
	}
	if r.rejection != "" {
		d.setRejection(&hookv1.Rejection{Time: metav1.NewTime(r.time), Reason: r.rejection})
	}
	// Workers may record deliveries out of order: the newest one wins.
	if pr := r.pullRequest; pr != nil {
		k := itemKey{pr.Repository, pr.Number}
		if old, ok := d.pullRequests[k]; !ok || !pr.UpdatedTime.Before(&old.UpdatedTime) {
			d.pullRequests[k] = *pr
			d.capPullRequests()
		}
	}
	if is := r.issue; is != nil {
		d.trackIssue(itemKey{is.Repository, is.Number}, is, is.UpdatedTime.Time)
	}
	if r.untrackIssue != nil {
		d.trackIssue(*r.untrackIssue, nil, r.time)
	}
}

// trackIssue records the newest state of an issue: is, or nil when it is no
// longer tracked (its label was removed), as of at.
func (d *statusDelta) trackIssue(k itemKey, is *hookv1.IssueStatus, at time.Time) {
	if old, seen := d.issues[k]; seen {
		last := d.untrackedAt[k]
		if old != nil {
			last = old.UpdatedTime.Time
		}
		if at.Before(last) {
			return
		}
	}
	d.issues[k] = is
	if is == nil {
		d.untrackedAt[k] = at
	} else {
		delete(d.untrackedAt, k)
	}
	d.capIssues(is == nil)
}

// capPullRequests drops the oldest pull request beyond maxTrackedItems.
func (d *statusDelta) capPullRequests() {
	if len(d.pullRequests) <= maxTrackedItems {
		return
	}
	var oldest itemKey
	var oldestPR *hookv1.PullRequestStatus
	for k, pr := range d.pullRequests {
		if oldestPR == nil || newestFirst(pr.UpdatedTime, oldestPR.UpdatedTime, k.repository, oldest.repository, k.number, oldest.number) > 0 {
			oldest, oldestPR = k, &pr
		}
	}
	delete(d.pullRequests, oldest)
}

// capIssues drops the oldest tracked issue (untracked: the oldest removal)
// when there are more than maxTrackedItems of them.
func (d *statusDelta) capIssues(untracked bool) {
	n := 0
	for _, is := range d.issues {
		if (is == nil) == untracked {
			n++
		}
	}
	if n <= maxTrackedItems {
		return
	}
	var oldest itemKey
	var oldestAt time.Time
	found := false
	for k, is := range d.issues {
		if (is == nil) != untracked {
			continue
		}
		at := d.untrackedAt[k]
		if is != nil {
			at = is.UpdatedTime.Time
		}
		if !found || newestFirst(metav1.NewTime(at), metav1.NewTime(oldestAt), k.repository, oldest.repository, k.number, oldest.number) > 0 {
			oldest, oldestAt, found = k, at, true
		}
	}
	delete(d.issues, oldest)
	delete(d.untrackedAt, oldest)
}

func (d *statusDelta) addEvent(event string, n int64, at time.Time) {
	e := d.events[event]
	if e == nil {
		e = &eventDelta{}
		d.events[event] = e
	}
	e.count += n
	if at.After(e.last) {
		e.last = at
	}
}

func (d *statusDelta) setRejection(r *hookv1.Rejection) {
	if d.lastRejection == nil || !r.Time.Before(&d.lastRejection.Time) {
		d.lastRejection = r
	}
}

// addCounters adds the receiver's counters of src to dst.
func addCounters(dst *hookv1.DeliveryCounters, src hookv1.DeliveryCounters) {
	dst.Received += src.Received
	dst.Processed += src.Processed
	dst.Ignored += src.Ignored
	dst.Rejected += src.Rejected
	dst.Duplicates += src.Duplicates
}

// merge adds older, a delta whose patch failed, back into d (the newer one).
func (d *statusDelta) merge(older *statusDelta) {
	if older.since.Before(d.since) {
		d.since = older.since
	}
	addCounters(&d.counters, older.counters)
	for event, e := range older.events {
		d.addEvent(event, e.count, e.last)
	}
	if older.lastDelivery != nil && d.lastDelivery == nil {
		d.lastDelivery = older.lastDelivery
	}
	if older.lastRejection != nil {
		d.setRejection(older.lastRejection)
	}
	for k, pr := range older.pullRequests {
		if _, newer := d.pullRequests[k]; !newer {
			d.pullRequests[k] = pr
		}
	}
	if older.ack != nil && d.ack == nil {
		d.ack = older.ack
	}
	for k, is := range older.issues {
		at := older.untrackedAt[k]
		if is != nil {
			at = is.UpdatedTime.Time
		}
		d.trackIssue(k, is, at)
	}
}

// applyTo adds the delta to st: counters are added, the newest delivery and
// rejection win, pull requests and issues are upserted and cut to the newest
// 50. It touches only the fields the receiver owns.
func (d *statusDelta) applyTo(st *hookv1.GitHubIntegrationStatus) {
	addCounters(&st.Deliveries, d.counters)

	if len(d.events) > 0 {
		st.EventCounts = applyEventCounts(st.EventCounts, d.events, maxEventCounts)
	}
	if d.lastDelivery != nil && (st.LastDelivery == nil || !d.lastDelivery.ReceivedTime.Before(&st.LastDelivery.ReceivedTime)) {
		st.LastDelivery = d.lastDelivery.DeepCopy()
	}
	if d.lastRejection != nil && (st.LastRejection == nil || !d.lastRejection.Time.Before(&st.LastRejection.Time)) {
		st.LastRejection = d.lastRejection.DeepCopy()
	}
	if len(d.pullRequests) > 0 {
		st.PullRequests = upsertPullRequests(st.PullRequests, d.pullRequests)
	}
	if len(d.issues) > 0 {
		st.Issues = upsertIssues(st.Issues, d.issues, d.untrackedAt)
	}
	if d.ack != nil {
		st.Receivers = acknowledge(st.Receivers, *d.ack)
	}
}

// acknowledge puts ack, one replica's entry, into list, and drops the
// entries of earlier rotations (another fingerprint), and beyond MaxItems
// others of this one: the list never grows with pod churn, and each replica
// writes it only once per rotation.
func acknowledge(list []hookv1.ReceiverStatus, ack hookv1.ReceiverStatus) []hookv1.ReceiverStatus {
	out := []hookv1.ReceiverStatus{ack}
	for _, rs := range list {
		if rs.Name != ack.Name && rs.SecretFingerprint == ack.SecretFingerprint {
			out = append(out, rs)
		}
	}
	if len(out) > maxReceivers {
		out = out[:maxReceivers]
	}
	slices.SortFunc(out, func(a, b hookv1.ReceiverStatus) int { return compareStrings(a.Name, b.Name) })
	return out
}

// applyEventCounts adds events to counts, which it keeps at most max long
// (the MaxItems of status.eventCounts) and to GitHub's event names. Names
// that are not GitHub's, which receivers before hookwarden bounded the names
// may have written, are dropped: a status holding more than max would
// refuse every write. A name that would make the list longer than max is
// not added; its deliveries are counted in status.deliveries only.
func applyEventCounts(counts []hookv1.EventCount, events map[string]*eventDelta, limit int) []hookv1.EventCount {
	counts = slices.DeleteFunc(counts, func(c hookv1.EventCount) bool { return !delivery.Known(c.Event) })
	if len(counts) > limit {
		counts = counts[:limit]
	}
	added := false
	// In name order, so that which names fit is the same on every replica.
	for _, event := range slices.Sorted(maps.Keys(events)) {
		e := events[event]
		i := slices.IndexFunc(counts, func(c hookv1.EventCount) bool { return c.Event == event })
		if i < 0 {
			if len(counts) >= limit {
				continue
			}
			counts = append(counts, hookv1.EventCount{Event: event})
			i, added = len(counts)-1, true
		}
		c := &counts[i]
		c.Count += e.count
		if last := metav1.NewTime(e.last); c.LastTime == nil || c.LastTime.Before(&last) {
			c.LastTime = &last
		}
	}
	if added {
		slices.SortFunc(counts, func(a, b hookv1.EventCount) int { return compareStrings(a.Event, b.Event) })
	}
	return counts
}

func upsertPullRequests(list []hookv1.PullRequestStatus, changes map[itemKey]hookv1.PullRequestStatus) []hookv1.PullRequestStatus {
	out := make([]hookv1.PullRequestStatus, 0, len(list)+len(changes))
	stale := map[itemKey]bool{} // status already holds a newer record
	for _, pr := range list {
		k := itemKey{pr.Repository, pr.Number}
		if next, ok := changes[k]; ok && !next.UpdatedTime.Before(&pr.UpdatedTime) {
			continue // replaced below
		} else if ok {
			stale[k] = true
		}
		out = append(out, pr)
	}
	for k, pr := range changes {
		if !stale[k] {
			out = append(out, pr)
		}
	}
	slices.SortStableFunc(out, func(a, b hookv1.PullRequestStatus) int {
		return newestFirst(a.UpdatedTime, b.UpdatedTime, a.Repository, b.Repository, a.Number, b.Number)
	})
	return out[:min(len(out), maxTrackedItems)]
}

func upsertIssues(list []hookv1.IssueStatus, changes map[itemKey]*hookv1.IssueStatus, untrackedAt map[itemKey]time.Time) []hookv1.IssueStatus {
	out := make([]hookv1.IssueStatus, 0, len(list)+len(changes))
	stale := map[itemKey]bool{} // status already holds a newer record
	for _, is := range list {
		k := itemKey{is.Repository, is.Number}
		next, ok := changes[k]
		switch {
		case !ok:
			out = append(out, is)
		case next == nil:
			// untracked (the label was removed), unless status holds a
			// newer record
			if is.UpdatedTime.After(untrackedAt[k]) {
				out = append(out, is)
			}
		case next.UpdatedTime.Before(&is.UpdatedTime):
			stale[k] = true
			out = append(out, is)
		}
	}
	for k, is := range changes {
		if is != nil && !stale[k] {
			out = append(out, *is)
		}
	}
	slices.SortStableFunc(out, func(a, b hookv1.IssueStatus) int {
		return newestFirst(a.UpdatedTime, b.UpdatedTime, a.Repository, b.Repository, a.Number, b.Number)
	})
	return out[:min(len(out), maxTrackedItems)]
}

// newestFirst orders by time, newest first, then by repository and number so
// that the order is stable whichever replica writes it.
func newestFirst(at, bt metav1.Time, ar, br string, an, bn int64) int {
	switch {
	case at.After(bt.Time):
		return -1
	case bt.After(at.Time):
		return 1
	case ar != br:
		return compareStrings(ar, br)
	case an > bn:
		return -1
	case an < bn:
		return 1
	}
	return 0
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
