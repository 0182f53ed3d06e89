package logging

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Line logs one message at info level, many times a second (the receiver's
// "Delivery answered"), with the bytes zap would write for it, at a fraction
// of the cost of zap's generic JSON encoder. Everything before the fields
// (level, timestamp, logger name, message and the logger's context) is
// encoded by the logger's own encoder once per second and reused; the
// fields (strings, integers and durations) are appended directly.
//
// It does so only for a logger New built whose output it reproduces byte
// for byte: NewLine encodes a sample line both ways and compares them, and
// a line with a value that would need escaping is handed to zap. Any other
// logger (the development or console encoder, a timestamp finer than a
// second, a caller or a stack trace per line, hooks, a filtered level) gets
// a Line that logs through zap as before.
type Line struct {
	log *zap.Logger
	msg string
	// core is the logger's core when the line is encoded here, else nil.
	core *syncOnError

	mu     sync.Mutex
	sec    int64  // the second prefix was encoded for
	prefix []byte // the line up to its fields, without the closing brace
	suffix []byte // the closing brace and line ending
	buf    []byte
}

// NewLine returns a Line logging msg through log.
func NewLine(log *zap.Logger, msg string) *Line {
	l := &Line{log: log, msg: msg}
	core, ok := log.Core().(syncOnError)
	if !ok || core.enc == nil {
		return l
	}
	l.core = &core
	if !l.reproduces() {
		l.core = nil
	}
	return l
}

// reproduces reports whether the line encoded here is what zap writes, on
// a sample with every kind of field and two times within one second.
func (l *Line) reproduces() bool {
	at := time.Unix(1_800_000_000, 0)
	sample := []zap.Field{zap.String("delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"), zap.String("event", ""),
		zap.Int("code", 200), zap.Duration("duration", 1234567*time.Nanosecond), zap.Duration("zero", 0),
		zap.Int("negative", -7), zap.Duration("long", 90*time.Minute+time.Nanosecond)}
	for _, t := range []time.Time{at, at.Add(999 * time.Millisecond)} {
		var zapped bytes.Buffer
		probe := l.log.WithOptions(zap.WrapCore(func(zapcore.Core) zapcore.Core {
			return zapcore.NewCore(l.core.enc, zapcore.AddSync(&zapped), zapcore.DebugLevel)
		}), zap.WithClock(fixedClock{t}))
		probe.Info(l.msg, sample...)
		line, ok := l.encode(t, sample)
		if !ok || !bytes.Equal(line, zapped.Bytes()) {
			return false
		}
	}
	return true
}

// Log writes the line with the fields, stamped now. Fields are strings,
// integers and durations; any other kind goes through zap.
func (l *Line) Log(now time.Time, fields ...zap.Field) {
	if l.core == nil {
		l.logZap(fields)
		return
	}
	if !l.core.Enabled(zapcore.InfoLevel) {
		return
	}
	l.mu.Lock()
	line, ok := l.encode(now, fields)
	var err error
	if ok {
		_, err = l.core.out.Write(line)
	}
	l.mu.Unlock()
	if !ok {
		// What zap's logger would do for this line (NewLine checked that
		// it adds no caller or stack trace), with its escaping. The fields
		// are copied so that Log's do not escape to the heap.
		err = l.core.Write(zapcore.Entry{Level: zapcore.InfoLevel, Time: now, LoggerName: l.log.Name(), Message: l.msg},
			append([]zap.Field(nil), fields...))
	}
	if err != nil {
		// As zap reports a failed write.
		fmt.Fprintf(l.core.errOut, "%v write error: %v\n", now, err)
		_ = l.core.errOut.Sync()
	}
}

// logZap logs through zap. The fields are copied so that Log's do not
// escape to the heap when the line is encoded here.
func (l *Line) logZap(fields []zap.Field) {
	if ce := l.log.Check(zapcore.InfoLevel, l.msg); ce != nil {
		ce.Write(append([]zap.Field(nil), fields...)...)
	}
}

// encode returns the line in l.buf, valid until the next call; false when
// a field is of a kind, or has a key or a value, that zap encodes
// differently from a plain copy. Called with l.mu held, or before l is
// shared.
func (l *Line) encode(now time.Time, fields []zap.Field) ([]byte, bool) {
	if sec := now.Unix(); l.prefix == nil || sec != l.sec {
		if !l.encodePrefix(now) {
			return nil, false
		}
		l.sec = sec
	}
	b := append(l.buf[:0], l.prefix...)
	for _, f := range fields {
		if !plain(f.Key) {
			return nil, false
		}
		b = appendSeparator(b)
		b = append(b, '"')
		b = append(b, f.Key...)
		b = append(b, '"', ':')
		switch f.Type {
		case zapcore.StringType:
			if !plain(f.String) {
				return nil, false
			}
			b = append(b, '"')
			b = append(b, f.String...)
			b = append(b, '"')
		case zapcore.Int64Type:
			b = strconv.AppendInt(b, f.Integer, 10)
		case zapcore.DurationType:
			// The production encoder's SecondsDurationEncoder.
			s := float64(f.Integer) / float64(time.Second)
			if math.IsNaN(s) || math.IsInf(s, 0) {
				return nil, false
			}
			b = strconv.AppendFloat(b, s, 'f', -1, 64)
		default:
			return nil, false
		}
	}
	b = append(b, l.suffix...)
	l.buf = b
	return b, true
}

// encodePrefix encodes, with the logger's encoder, the line of no fields
// at now, and splits it before its closing brace.
func (l *Line) encodePrefix(now time.Time) bool {
	buf, err := l.core.enc.EncodeEntry(zapcore.Entry{Level: zapcore.InfoLevel, Time: now, LoggerName: l.log.Name(),
		Message: l.msg}, nil)
	if err != nil {
		return false
	}
	defer buf.Free()
	line := buf.Bytes()
	end := bytes.LastIndexByte(line, '}')
	if end < 0 {
		return false
	}
	l.prefix = append(l.prefix[:0], line[:end]...)
	l.suffix = append(l.suffix[:0], line[end:]...)
	return true
}

// appendSeparator appends the comma zap's JSON encoder puts before an
// element.
func appendSeparator(b []byte) []byte {
	if len(b) == 0 {
		return b
	}
	switch b[len(b)-1] {
	case '{', '[', ':', ',', ' ':
		return b
	}
	return append(b, ',')
}

// plain reports whether zap's JSON encoder writes s as it is: printable
// ASCII without a quote or a backslash.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// fixedClock is a zapcore.Clock that always says t.
type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

func (c fixedClock) NewTicker(d time.Duration) *time.Ticker { return time.NewTicker(d) }
