package webhookserver

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
)

// TestDeltaKeepsNoPointerIntoRecords: a queued record is recycled once
// added (releaseRecord); what the delta shows as the last delivery stays
// the one added, whatever the record holds next.
func TestDeltaKeepsNoPointerIntoRecords(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	rec := newRecord()
	rec.time, rec.event, rec.result = t0, "push", hookv1.DeliveryProcessed
	rec.status = hookv1.DeliveryStatus{ID: "first", Event: "push", ReceivedTime: metav1.NewTime(t0), Result: hookv1.DeliveryProcessed}
	rec.delivery = &rec.status
	d := newStatusDelta(t0)
	d.add(rec)
	// The record reused for another delivery of another integration.
	rec.status = hookv1.DeliveryStatus{ID: "second", Event: "issues", ReceivedTime: metav1.NewTime(t0.Add(time.Second))}
	releaseRecord(rec)
	var st hookv1.GitHubIntegrationStatus
	d.applyTo(&st)
	if st.LastDelivery == nil || st.LastDelivery.ID != "first" || st.LastDelivery.Event != "push" {
		t.Fatalf("lastDelivery = %+v, want the delivery added (first, push)", st.LastDelivery)
	}
}

// Two workers may record an issue's deliveries in either order; status must
// show the issue as the newest delivery left it.
func TestIssueTrackingIgnoresRecordingOrder(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	k := itemKey{"acme/api", 1}
	labeled := &record{time: t0, result: hookv1.DeliveryProcessed, issue: &hookv1.IssueStatus{
		Repository: "acme/api", Number: 1, State: "open", Title: "Spelling", UpdatedTime: metav1.NewTime(t0)}}
	unlabeled := &record{time: t0.Add(time.Second), result: hookv1.DeliveryProcessed, untrackIssue: &k}

	for name, order := range map[string][]*record{
		"in order":     {labeled, unlabeled},
		"out of order": {unlabeled, labeled},
	} {
		t.Run(name, func(t *testing.T) {
			d := newStatusDelta(time.Now())
			for _, r := range order {
				d.add(r)
			}
			st := &hookv1.GitHubIntegrationStatus{}
			d.applyTo(st)
			if len(st.Issues) != 0 {
				t.Errorf("issues = %+v, want none: the label was removed last", st.Issues)
			}
		})
	}
}

// TestEventCountsStayBounded: status.eventCounts never grows past its
// maximum, and names that are not GitHub's, which an earlier receiver may
// have written, are dropped so that the status can be written again.
func TestEventCountsStayBounded(t *testing.T) {
	at := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	st := hookv1.GitHubIntegrationStatus{EventCounts: []hookv1.EventCount{
		{Event: "invented_a", Count: 5}, {Event: "issues", Count: 2}, {Event: "invented_b", Count: 1}, {Event: "push", Count: 7},
	}}
	d := newStatusDelta(time.Now())
	for _, event := range []string{"push", "release", "star", "watch"} {
		d.addEvent(event, 1, at)
	}
	st.EventCounts = applyEventCounts(st.EventCounts, d.events, 3)

	var got []string
	for _, ec := range st.EventCounts {
		got = append(got, fmt.Sprintf("%s=%d", ec.Event, ec.Count))
		if ec.Event != "issues" && (ec.LastTime == nil || !ec.LastTime.Time.Equal(at)) {
			t.Errorf("%s lastTime = %v, want %v", ec.Event, ec.LastTime, at)
		}
	}
	// push is counted; of the new names, release (first by name) fills the
	// last place; star and watch are counted in deliveries only.
	if want := "issues=2 push=8 release=1"; strings.Join(got, " ") != want {
		t.Errorf("eventCounts = %s, want %s", strings.Join(got, " "), want)
	}
	if len(st.EventCounts) > 3 {
		t.Errorf("%d eventCounts, more than the maximum", len(st.EventCounts))
	}

	// A status holding more than the maximum, as the unbounded receiver
	// could leave it, is cut back to it.
	var flooded []hookv1.EventCount
	for i := range 24000 {
		flooded = append(flooded, hookv1.EventCount{Event: inventedEvent(i), Count: 1})
	}
	flooded = append(flooded, hookv1.EventCount{Event: "push", Count: 3})
	flooded = applyEventCounts(flooded, d.events, maxEventCounts)
	if len(flooded) != 4 || flooded[0].Event != "push" || flooded[0].Count != 4 {
		t.Errorf("flooded eventCounts became %d entries starting %+v, want push, release, star, watch", len(flooded), flooded[0])
	}
}

// TestAcknowledgeKeepsOneEntryPerReplicaOfTheRotation: a replica's
// acknowledgement replaces its earlier one, keeps the other replicas'
// entries of the same rotation, and drops those of earlier rotations, so
// status.receivers never grows with pod churn.
func TestAcknowledgeKeepsOneEntryPerReplicaOfTheRotation(t *testing.T) {
	st := &hookv1.GitHubIntegrationStatus{Receivers: []hookv1.ReceiverStatus{
		{Name: "receiver-b", SecretFingerprint: "hmac-sha256:00000002"},
		{Name: "receiver-a", SecretFingerprint: "hmac-sha256:00000001"},
		{Name: "receiver-old", SecretFingerprint: "hmac-sha256:00000001"},
	}}
	d := newStatusDelta(time.Now())
	d.ack = &hookv1.ReceiverStatus{Name: "receiver-a", SecretFingerprint: "hmac-sha256:00000002"}
	d.applyTo(st)
	var got []string
	for _, rs := range st.Receivers {
		got = append(got, rs.Name+"="+rs.SecretFingerprint)
	}
	if want := []string{"receiver-a=hmac-sha256:00000002", "receiver-b=hmac-sha256:00000002"}; !slices.Equal(got, want) {
		t.Errorf("status.receivers = %v, want %v", got, want)
	}

	many := &hookv1.GitHubIntegrationStatus{}
	for i := range maxReceivers + 5 {
		d := newStatusDelta(time.Now())
		d.ack = &hookv1.ReceiverStatus{Name: fmt.Sprintf("receiver-%03d", i), SecretFingerprint: "hmac-sha256:00000002"}
		d.applyTo(many)
	}
	if n := len(many.Receivers); n != maxReceivers {
		t.Errorf("%d entries after %d replicas acknowledged, want the CRD's MaxItems %d", n, maxReceivers+5, maxReceivers)
	}
	if !slices.ContainsFunc(many.Receivers, func(rs hookv1.ReceiverStatus) bool { return rs.Name == fmt.Sprintf("receiver-%03d", maxReceivers+4) }) {
		t.Error("the newest acknowledgement was cut")
	}
}

// TestDeltaStaysBounded: however long a delta waits for its write, it
// holds at most the newest 50 pull requests, 50 tracked issues and 50
// removals, and writes the status an unbounded delta would have written.
func TestDeltaStaysBounded(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	st := &hookv1.GitHubIntegrationStatus{}
	// Status already lists issues 1..30, newer than the issues delivered
	// below and older than their removals.
	for n := int64(1); n <= 30; n++ {
		st.Issues = append(st.Issues, hookv1.IssueStatus{Repository: "acme/api", Number: n, State: "open",
			UpdatedTime: metav1.NewTime(t0.Add(30 * time.Minute))})
	}
	d := newStatusDelta(t0)
	for i := int64(1); i <= 200; i++ {
		at := t0.Add(time.Duration(i) * time.Second)
		d.add(&record{time: at, result: hookv1.DeliveryProcessed, pullRequest: &hookv1.PullRequestStatus{
			Repository: "acme/api", Number: 1000 + i, State: "open", UpdatedTime: metav1.NewTime(at)}})
		d.add(&record{time: at, result: hookv1.DeliveryProcessed, issue: &hookv1.IssueStatus{
			Repository: "acme/api", Number: 2000 + i, State: "open", UpdatedTime: metav1.NewTime(at)}})
	}
	// The last 40 removals concern issues 1..30 of status and 10 others.
	for i := int64(1); i <= 100; i++ {
		n := 5000 + i
		if i > 60 {
			n = i - 60
		}
		k := itemKey{"acme/api", n}
		d.add(&record{time: t0.Add(time.Hour + time.Duration(i)*time.Second), result: hookv1.DeliveryProcessed, untrackIssue: &k})
	}
	tracked, removals := 0, 0
	for _, is := range d.issues {
		if is == nil {
			removals++
		} else {
			tracked++
		}
	}
	if len(d.pullRequests) != maxTrackedItems || tracked != maxTrackedItems || removals != maxTrackedItems || len(d.untrackedAt) != maxTrackedItems {
		t.Errorf("delta holds %d pull requests, %d issues, %d removals (%d times), want %d of each",
			len(d.pullRequests), tracked, removals, len(d.untrackedAt), maxTrackedItems)
	}
	if d.counters.Received != 500 || d.counters.Processed != 500 {
		t.Errorf("counters = %+v, want every delivery", d.counters)
	}

	d.applyTo(st)
	if len(st.PullRequests) != maxTrackedItems || st.PullRequests[0].Number != 1200 || st.PullRequests[maxTrackedItems-1].Number != 1151 {
		t.Errorf("pull requests %d..%d (%d), want the newest 50: 1200..1151", st.PullRequests[0].Number,
			st.PullRequests[len(st.PullRequests)-1].Number, len(st.PullRequests))
	}
	if len(st.Issues) != maxTrackedItems || st.Issues[0].Number != 2200 || st.Issues[maxTrackedItems-1].Number != 2151 {
		t.Errorf("issues %d..%d (%d), want the newest 50: 2200..2151, and none of those whose label was removed",
			st.Issues[0].Number, st.Issues[len(st.Issues)-1].Number, len(st.Issues))
	}
	for _, is := range st.Issues {
		if is.Number <= 30 {
			t.Errorf("issue %d listed after its label was removed", is.Number)
		}
	}
}
