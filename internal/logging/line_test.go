package logging

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/zapr"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	ctrlzap "sigs.k8s.io/controller-runtime/pkg/log/zap"
)

// lineFields are the lines of TestLineWritesWhatZapWrites: values written
// as they are, and values zap escapes.
var lineFields = [][]zap.Field{
	{zap.String("delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"), zap.String("event", "push"),
		zap.String("integration", "team-a/experiments"), zap.String("result", "processed"), zap.Int("code", 200),
		zap.Duration("duration", 61234*time.Nanosecond)},
	{zap.String("delivery", ""), zap.String("event", ""), zap.String("integration", "team-a/experiments"),
		zap.String("result", "rejected"), zap.Int("code", 401), zap.Duration("duration", 3*time.Second)},
	{zap.String("delivery", `quote " backslash \ newline`+"\n"), zap.String("event", "tab\there"),
		zap.Int("code", -1), zap.Duration("duration", 0)},
	{zap.String("delivery", "non-ASCII é, invalid \xff, control \x01"), zap.Int("code", 503),
		zap.Duration("duration", time.Duration(1<<62))},
	{zap.String(`key "quoted"`, "v"), zap.Bool("bool", true), zap.Duration("duration", time.Nanosecond)},
	{},
}

// A Line writes the bytes the same logger writes through zap, whatever the
// encoder's options, so that the receiver's line per delivery reads the
// same as every other line of the operator.
func TestLineWritesWhatZapWrites(t *testing.T) {
	cases := []struct {
		name string
		opts ctrlzap.Options
		// fast: the line is encoded by Line itself, not through zap.
		fast bool
	}{
		{"default", ctrlzap.Options{}, true},
		{"rfc3339 timestamps", ctrlzap.Options{TimeEncoder: zapcore.RFC3339TimeEncoder}, true},
		{"epoch timestamps", ctrlzap.Options{TimeEncoder: zapcore.EpochTimeEncoder}, false},
		{"iso8601 timestamps", ctrlzap.Options{TimeEncoder: zapcore.ISO8601TimeEncoder}, false},
		{"console encoder", ctrlzap.Options{NewEncoder: func(opts ...ctrlzap.EncoderConfigOption) zapcore.Encoder {
			cfg := zap.NewProductionEncoderConfig()
			for _, o := range opts {
				o(&cfg)
			}
			return zapcore.NewConsoleEncoder(cfg)
		}}, false},
		{"caller", ctrlzap.Options{ZapOpts: []zap.Option{zap.AddCaller()}}, false},
		{"stack traces at info", ctrlzap.Options{StacktraceLevel: zap.NewAtomicLevelAt(zap.InfoLevel)}, false},
		{"development", ctrlzap.Options{Development: true}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			newLogger := func(out *bytes.Buffer) (*zap.Logger, func()) {
				opts := c.opts
				opts.DestWriter = out
				log, flush := New(opts)
				// The receiver's logger: a name and, here, some context.
				return underlying(t, log.WithName("receiver").WithValues("replica", "hookwarden-0")), flush
			}
			var viaLine, viaZap bytes.Buffer
			lineLog, flushLine := newLogger(&viaLine)
			zapLog, flushZap := newLogger(&viaZap)
			line := NewLine(lineLog, "Delivery answered")
			if fast := line.core != nil; fast != c.fast {
				t.Errorf("line encoded by Line itself: %t, want %t", fast, c.fast)
			}
			at := time.Date(2026, 11, 30, 21, 0, 0, 0, time.Local)
			for i, fields := range lineFields {
				now := at.Add(time.Duration(i) * 700 * time.Millisecond) // some lines within one second
				line.Log(now, fields...)
				zapLog.WithOptions(zap.WithClock(fixedClock{now})).Info("Delivery answered", fields...)
			}
			flushLine()
			flushZap()
			got, want := viaLine.String(), viaZap.String()
			// Lines a Line hands to zap carry zap's own timestamps: only
			// those it encodes itself can be compared byte for byte.
			if c.fast && got != want {
				t.Errorf("Line wrote\n%s\nzap wrote\n%s", got, want)
			}
			if n := strings.Count(got, "Delivery answered"); n != len(lineFields) {
				t.Errorf("%d lines written, want %d:\n%s", n, len(lineFields), got)
			}
		})
	}
}

// A Line writes nothing below the logger's level, and follows a level
// changed at run time.
func TestLineFollowsTheLevel(t *testing.T) {
	var out bytes.Buffer
	level := zap.NewAtomicLevelAt(zap.WarnLevel)
	log, flush := New(ctrlzap.Options{DestWriter: &out, Level: level})
	line := NewLine(underlying(t, log), "Delivery answered")
	if line.core == nil {
		t.Fatal("the default JSON line is not encoded by Line")
	}
	line.Log(time.Now(), zap.String("delivery", "d1"))
	flush()
	if out.Len() != 0 {
		t.Errorf("an info line was written at level warn: %s", out.String())
	}
	log, flush = New(ctrlzap.Options{DestWriter: &out, Level: level})
	line = NewLine(underlying(t, log), "Delivery answered")
	level.SetLevel(zap.InfoLevel)
	line.Log(time.Now(), zap.String("delivery", "d2"))
	flush()
	if !strings.Contains(out.String(), `"delivery":"d2"`) {
		t.Errorf("no line after the level was lowered to info: %q", out.String())
	}
}

func underlying(t *testing.T, log logr.Logger) *zap.Logger {
	t.Helper()
	u, ok := log.GetSink().(zapr.Underlier)
	if !ok {
		t.Fatalf("logger %T has no zap logger", log.GetSink())
	}
	return u.GetUnderlying()
}
