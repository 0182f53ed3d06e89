package logging

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	ctrlzap "sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/hookwarden/hookwarden/internal/testenv"
)

// One line per delivery means no line is dropped, however many identical
// messages arrive in a second.
func TestLoggerKeepsEveryLine(t *testing.T) {
	var out bytes.Buffer
	log, flush := New(ctrlzap.Options{DestWriter: &out})
	const n = 500
	for i := range n {
		log.Info("Delivery answered", "delivery", i)
	}
	flush()
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != n {
		t.Fatalf("%d lines logged for %d identical messages within a second, want all of them", len(lines), n)
	}
	var entry map[string]any
	if err := json.Unmarshal([]byte(lines[n-1]), &entry); err != nil {
		t.Fatalf("production logs are JSON: %v", err)
	}
	if entry["msg"] != "Delivery answered" || entry["delivery"] != float64(n-1) || entry["level"] != "info" {
		t.Errorf("last line = %v", entry)
	}
	if _, ok := entry["ts"].(string); !ok {
		t.Errorf("timestamp %v, want an RFC 3339 string", entry["ts"])
	}

	out.Reset()
	log, flush = New(ctrlzap.Options{DestWriter: &out})
	log.V(1).Info("debug detail")
	flush()
	if out.Len() != 0 {
		t.Errorf("V(1) logged at the default info level: %s", out.String())
	}
}

// Lines wait in the buffer for at most the flush interval; an error is
// written at once, with what was buffered before it.
func TestLoggerBuffersBriefly(t *testing.T) {
	out := &testenv.Buffer{}
	log, flush := New(ctrlzap.Options{DestWriter: out})
	defer flush()
	log.Info("Delivery answered", "delivery", "d1")
	deadline := time.Now().Add(10 * flushInterval)
	for !strings.Contains(out.String(), `"d1"`) {
		if time.Now().After(deadline) {
			t.Fatalf("an info line was not written within %s", 10*flushInterval)
		}
		time.Sleep(5 * time.Millisecond)
	}

	log.Info("Delivery answered", "delivery", "d2")
	log.Error(errors.New("boom"), "Failed to record status")
	got := out.String()
	if !strings.Contains(got, `"d2"`) || !strings.Contains(got, `"Failed to record status"`) {
		t.Errorf("an error did not write the buffered lines at once: %q", got)
	}
}

// The buffer's flushes, on its timer and after an error, write the lines
// without syncing the output: a log file is not fsynced ten times a second.
// The output is synced once, when the logger is flushed at the end.
func TestFlushesWriteWithoutSync(t *testing.T) {
	out := &syncCounter{}
	log, flush := New(ctrlzap.Options{DestWriter: out})
	log.Info("Delivery answered", "delivery", "d1")
	log.Error(errors.New("boom"), "Failed to record status")
	time.Sleep(5 * flushInterval)
	log.Info("Delivery answered", "delivery", "d2")
	time.Sleep(5 * flushInterval)
	if got := out.String(); !strings.Contains(got, `"d1"`) || !strings.Contains(got, `"boom"`) || !strings.Contains(got, `"d2"`) {
		t.Fatalf("lines not written by the flushes: %q", got)
	}
	if n := out.syncs.Load(); n != 0 {
		t.Errorf("the output was synced %d times before the logger was flushed, want 0", n)
	}
	flush()
	if n := out.syncs.Load(); n != 1 {
		t.Errorf("the output was synced %d times by the final flush, want 1", n)
	}
}

type syncCounter struct {
	testenv.Buffer
	syncs atomic.Int32
}

func (s *syncCounter) Sync() error {
	s.syncs.Add(1)
	return nil
}

// Written to a pipe, as stderr is in every container, the log stays JSON:
// an error line (which syncs the stream) is not followed by the error that
// syncing a pipe returns, and the lines before it are written with it.
func TestLogToPipeStaysJSON(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := w.Sync(); err == nil {
		t.Fatal("syncing a pipe succeeded: this test needs a platform where it fails, as on Linux")
	}
	read := make(chan []string, 1)
	go func() {
		var lines []string
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			lines = append(lines, sc.Text())
		}
		read <- lines
	}()

	log, flush := New(ctrlzap.Options{DestWriter: w})
	log.Info("Delivery answered", "delivery", "d1")
	log.Error(errors.New("boom"), "Failed to record status")
	log.Error(errors.New("boom again"), "Failed to record status")
	flush()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	lines := <-read

	var messages []string
	for _, line := range lines {
		var entry map[string]any
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			t.Errorf("line %q is not JSON: %v", line, err)
			continue
		}
		messages = append(messages, entry["msg"].(string))
	}
	want := []string{"Delivery answered", "Failed to record status", "Failed to record status"}
	if strings.Join(messages, "|") != strings.Join(want, "|") {
		t.Errorf("messages %q, want %q", messages, want)
	}
}

// A sync error that is not a stream's "cannot sync" is still reported.
func TestOtherSyncErrorsAreKept(t *testing.T) {
	failing := errors.New("disk full")
	if err := (ignoreSyncErrors{failingSyncer{failing}}).Sync(); !errors.Is(err, failing) {
		t.Errorf("Sync() = %v, want %v", err, failing)
	}
}

type failingSyncer struct{ err error }

func (failingSyncer) Write(p []byte) (int, error) { return len(p), nil }
func (f failingSyncer) Sync() error               { return f.err }
