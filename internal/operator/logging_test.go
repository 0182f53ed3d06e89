package operator

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	ctrlzap "sigs.k8s.io/controller-runtime/pkg/log/zap"
)

// One line per delivery means no line is dropped, however many identical
// messages arrive in a second.
func TestLoggerKeepsEveryLine(t *testing.T) {
	var out bytes.Buffer
	log := NewLogger(ctrlzap.Options{DestWriter: &out})
	const n = 500
	for i := range n {
		log.Info("Delivery answered", "delivery", i)
	}
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
	log.V(1).Info("debug detail")
	if out.Len() != 0 {
		t.Errorf("V(1) logged at the default info level: %s", out.String())
	}
}
