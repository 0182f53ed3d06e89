package webhookserver

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	testingclock "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	"github.com/hookwarden/hookwarden/internal/metrics/metricstest"
	"github.com/hookwarden/hookwarden/internal/testenv"
)

// budgetRig is a status recorder on a fake clock writing to a fake API
// server that holds n integrations.
type budgetRig struct {
	rec   *statusRecorder
	cl    client.Client
	clock *testingclock.FakeClock
	keys  []types.NamespacedName
	// writes counts the status writes sent, conflicts included; the first
	// conflictsLeft of them are answered with a conflict.
	writes        atomic.Int64
	conflictsLeft atomic.Int64
	added         map[types.NamespacedName]int64
}

func newBudgetRig(t *testing.T, n int, interval time.Duration, writeRate float64) *budgetRig {
	t.Helper()
	b := &budgetRig{clock: testingclock.NewFakeClock(time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)),
		added: map[types.NamespacedName]int64{}}
	builder := fake.NewClientBuilder().WithScheme(testenv.NewScheme())
	for i := range n {
		gi := testIntegration()
		gi.Name = fmt.Sprintf("integration-%03d", i)
		builder = builder.WithObjects(gi).WithStatusSubresource(gi)
		b.keys = append(b.keys, client.ObjectKeyFromObject(gi))
	}
	b.cl = builder.Build()
	counted := countingStatusClient{StatusClient: conflictingStatusClient{StatusClient: b.cl, left: &b.conflictsLeft},
		patches: &b.writes, conflicts: &atomic.Int64{}}
	b.rec = newStatusRecorder(b.cl, b.cl, counted, logr.Discard(), interval, writeRate, b.clock)
	return b
}

// deliver records one processed push delivery to key, now.
func (b *budgetRig) deliver(key types.NamespacedName) {
	now := b.clock.Now()
	b.rec.add(key, &record{time: now, result: hookv1.DeliveryProcessed, event: "push",
		delivery: &hookv1.DeliveryStatus{ReceivedTime: metav1.NewTime(now), Event: "push"}})
	b.added[key]++
}

// received is what the API server holds in status.deliveries.received.
func (b *budgetRig) received(t *testing.T, key types.NamespacedName) int64 {
	t.Helper()
	gi := &hookv1.GitHubIntegration{}
	if err := b.cl.Get(context.Background(), key, gi); err != nil {
		t.Fatal(err)
	}
	return gi.Status.Deliveries.Received
}

// written lists the integrations whose status counts every delivery
// recorded for them.
func (b *budgetRig) written(t *testing.T) map[types.NamespacedName]bool {
	t.Helper()
	out := map[types.NamespacedName]bool{}
	for _, key := range b.keys {
		if got := b.received(t, key); got == b.added[key] && got > 0 {
			out[key] = true
		}
	}
	return out
}

// TestStatusWriteBudgetOldestFirst: with more integrations pending than the
// budget allows in one flush, the flush writes the ones waiting longest,
// the others wait for the next flushes, and none starves behind an
// integration that keeps receiving.
func TestStatusWriteBudgetOldestFirst(t *testing.T) {
	const interval = 2 * time.Second
	b := newBudgetRig(t, 30, interval, 5) // 10 writes per flush
	for _, key := range b.keys {
		b.deliver(key)
		b.clock.Step(time.Millisecond)
	}
	ctx := context.Background()

	b.rec.flushDue(ctx)
	if got, want := b.writes.Load(), int64(10); got != want {
		t.Fatalf("first flush sent %d writes, want the budget's %d", got, want)
	}
	written := b.written(t)
	for i, key := range b.keys {
		if want := i < 10; written[key] != want {
			t.Errorf("after the first flush, %s written = %v, want %v (the 10 waiting longest)", key.Name, written[key], want)
		}
	}
	if age, _ := metricstest.Value(t, "hookwarden_receiver_status_pending_age_seconds", nil); age < 0.029 {
		t.Errorf("pending age = %v s, want the 30 ms the oldest delta waited", age)
	}
	if pending, _ := metricstest.Value(t, "hookwarden_receiver_status_pending_integrations", nil); pending != 30 {
		t.Errorf("pending integrations = %v, want 30", pending)
	}

	// The first integration keeps receiving: its new delta is younger than
	// those still waiting, which go first.
	b.deliver(b.keys[0])
	for round := 1; round <= 2; round++ {
		b.clock.Step(interval)
		b.rec.flushDue(ctx)
		written = b.written(t)
		for _, key := range b.keys[10*round : 10*(round+1)] {
			if !written[key] {
				t.Errorf("round %d: %s (waiting since before the new delivery of %s) not written", round, key.Name, b.keys[0].Name)
			}
		}
		if written[b.keys[0]] {
			t.Errorf("round %d: %s written again before the integrations waiting longer", round, b.keys[0].Name)
		}
	}
	if age, _ := metricstest.Value(t, "hookwarden_receiver_status_pending_age_seconds", nil); age < 2*interval.Seconds() {
		t.Errorf("pending age at the third flush = %v s, want at least the two intervals the last ten waited", age)
	}
	b.clock.Step(interval)
	b.rec.flushDue(ctx)
	if got := b.received(t, b.keys[0]); got != 2 {
		t.Errorf("%s: status counts %d deliveries after its turn came, want 2", b.keys[0].Name, got)
	}
	if got, want := b.writes.Load(), int64(31); got != want {
		t.Errorf("%d writes in all, want one per integration and one more for the integration delivered to twice: %d", got, want)
	}
}

// TestStatusWriteBudgetRespected: 100 integrations each receiving a
// delivery every second for a minute, with a budget of 10 writes a second:
// the writes stay within the budget, every integration is written in turn,
// and after the shutdown flush every counter is exact.
func TestStatusWriteBudgetRespected(t *testing.T) {
	const (
		interval  = 2 * time.Second
		writeRate = 10
		duration  = time.Minute
	)
	b := newBudgetRig(t, 100, interval, writeRate)
	ctx := context.Background()
	writtenDuringRun := map[types.NamespacedName]int{}
	var last = map[types.NamespacedName]int64{}
	for elapsed := time.Duration(0); elapsed < duration; elapsed += time.Second {
		for _, key := range b.keys {
			b.deliver(key)
		}
		b.clock.Step(time.Second)
		if elapsed%interval == interval-time.Second {
			b.rec.flushDue(ctx)
			for _, key := range b.keys {
				if got := b.received(t, key); got != last[key] {
					writtenDuringRun[key]++
					last[key] = got
				}
			}
		}
	}
	// The bucket starts full: one flush's worth more than the rate.
	limit := int64(writeRate*duration.Seconds()) + int64(writeBurst(writeRate, interval))
	if got := b.writes.Load(); got > limit || got < limit/2 {
		t.Errorf("%d writes in %s at a budget of %d a second, want at most %d and not far below", got, duration, writeRate, limit)
	}
	for _, key := range b.keys {
		// 100 integrations at 20 writes a flush: each is written every
		// fifth flush, six times in 30 flushes.
		if writtenDuringRun[key] < 5 {
			t.Errorf("%s written %d times in %s, want its turn every 5 flushes", key.Name, writtenDuringRun[key], duration)
		}
	}

	stopped, stop := context.WithCancel(ctx)
	stop()
	b.rec.run(stopped)
	for _, key := range b.keys {
		if got, want := b.received(t, key), b.added[key]; got != want {
			t.Errorf("%s: status counts %d deliveries after the shutdown flush, want %d", key.Name, got, want)
		}
	}
}

// TestStatusWriteBudgetSingleIntegration: an integration alone is written
// at every flush interval, as without a budget.
func TestStatusWriteBudgetSingleIntegration(t *testing.T) {
	const interval = 2 * time.Second
	b := newBudgetRig(t, 1, interval, DefaultStatusWriteRate)
	key := b.keys[0]
	for flush := 1; flush <= 5; flush++ {
		for range 40 { // 20 a second
			b.deliver(key)
			b.clock.Step(interval / 40)
		}
		b.rec.flushDue(context.Background())
		if got, want := b.received(t, key), b.added[key]; got != want {
			t.Fatalf("flush %d: status counts %d deliveries, want all %d answered before it", flush, got, want)
		}
	}
	if got := b.writes.Load(); got != 5 {
		t.Errorf("%d writes in 5 intervals, want 5", got)
	}
}

// TestStatusWriteBudgetRunsOnTheClock: run flushes at every tick of the
// interval within the budget, and on shutdown writes everything pending
// whatever the budget.
func TestStatusWriteBudgetRunsOnTheClock(t *testing.T) {
	const interval = 2 * time.Second
	b := newBudgetRig(t, 50, interval, 1) // 2 writes per flush
	for _, key := range b.keys {
		b.deliver(key)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		b.rec.run(ctx)
		close(done)
	}()
	eventually(t, 10*time.Second, "the flush ticker", func() error {
		if !b.clock.HasWaiters() {
			return fmt.Errorf("run has no ticker yet")
		}
		return nil
	})
	b.clock.Step(interval)
	eventually(t, 10*time.Second, "the first flush", func() error {
		if got := b.writes.Load(); got != 2 {
			return fmt.Errorf("%d writes after one interval, want the budget's 2", got)
		}
		return nil
	})
	stop()
	<-done
	for _, key := range b.keys {
		if got := b.received(t, key); got != 1 {
			t.Errorf("%s: status counts %d deliveries after the shutdown flush, want 1", key.Name, got)
		}
	}
	if got := b.writes.Load(); got != 50 {
		t.Errorf("%d writes, want one per integration", got)
	}
}

// TestStatusWriteBudgetAcknowledgementFirst: a replica's acknowledgement
// of a rotation's secret is written with the next flush even when older
// deltas wait, since the rotation waits for it.
func TestStatusWriteBudgetAcknowledgementFirst(t *testing.T) {
	b := newBudgetRig(t, 20, 2*time.Second, 1) // 2 writes per flush
	for _, key := range b.keys {
		b.deliver(key)
		b.clock.Step(time.Millisecond)
	}
	acked := b.keys[len(b.keys)-1]
	b.rec.acknowledge(acked, hookv1.ReceiverStatus{Name: "hookwarden-0", SecretFingerprint: "sha256:0123"})
	b.rec.flushDue(context.Background())
	gi := &hookv1.GitHubIntegration{}
	if err := b.cl.Get(context.Background(), acked, gi); err != nil {
		t.Fatal(err)
	}
	if len(gi.Status.Receivers) != 1 || gi.Status.Receivers[0].Name != "hookwarden-0" {
		t.Errorf("status.receivers = %+v after the first flush, want this replica's acknowledgement", gi.Status.Receivers)
	}
	if written := b.written(t); !written[b.keys[0]] || len(written) != 2 {
		t.Errorf("written %v, want the acknowledgement and the oldest delta", written)
	}
}

// TestStatusWriteBudgetChargesRetries: a write that lost a conflict and was
// sent again counts twice against the budget.
func TestStatusWriteBudgetChargesRetries(t *testing.T) {
	b := newBudgetRig(t, 10, 2*time.Second, 2) // 4 writes per flush
	b.conflictsLeft.Store(4)
	for _, key := range b.keys {
		b.deliver(key)
		b.clock.Step(time.Millisecond)
	}
	b.rec.flushDue(context.Background())
	if got := b.writes.Load(); got != 8 {
		t.Fatalf("%d writes, want 4 integrations written, each after one conflict", got)
	}
	// 8 writes of a budget of 4 per 2 s: nothing is left for the next 2 s.
	b.clock.Step(2 * time.Second)
	b.rec.flushDue(context.Background())
	if got := b.writes.Load(); got != 8 {
		t.Errorf("%d writes after the next flush, want none: the retries spent its budget", got)
	}
	b.clock.Step(2 * time.Second)
	b.rec.flushDue(context.Background())
	if got := b.writes.Load(); got != 12 {
		t.Errorf("%d writes after two more intervals, want 4 more", got)
	}
	if written := b.written(t); len(written) != 8 {
		t.Errorf("%d integrations written, want 8 exactly counted", len(written))
	}
}

// conflictingStatusClient answers the first *left status writes with a
// conflict, as when another replica wrote the integration first.
type conflictingStatusClient struct {
	client.StatusClient
	left *atomic.Int64
}

func (c conflictingStatusClient) Status() client.SubResourceWriter {
	return conflictingWriter{SubResourceWriter: c.StatusClient.Status(), left: c.left}
}

type conflictingWriter struct {
	client.SubResourceWriter
	left *atomic.Int64
}

func (w conflictingWriter) Apply(ctx context.Context, obj runtime.ApplyConfiguration, opts ...client.SubResourceApplyOption) error {
	if w.left.Add(-1) >= 0 {
		return apierrors.NewConflict(hookv1.GroupVersion.WithResource("githubintegrations").GroupResource(), "", errors.New("the object has been modified"))
	}
	return w.SubResourceWriter.Apply(ctx, obj, opts...)
}
