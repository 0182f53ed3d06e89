// Package logging builds hookwarden's logger: controller-runtime's zap
// options and encoders, never sampled, written through a buffer.
package logging

import (
	"errors"
	"os"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/zapr"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	ctrlzap "sigs.k8s.io/controller-runtime/pkg/log/zap"
)

const (
	// bufferSize and flushInterval bound how much and how long log lines
	// wait in memory before they are written: writing a burst of delivery
	// lines as one write instead of one system call per line is most of
	// what a line costs the receiver.
	bufferSize    = 64 << 10
	flushInterval = 100 * time.Millisecond
)

// New builds the operator's logger from the --zap-* flags, as
// controller-runtime's zap.New does, with two differences. It never samples:
// controller-runtime's production logger keeps only every 100th identical
// message beyond 100 a second, and the receiver logs one line per delivery
// ("Delivery answered"), which must not be dropped under load. And lines are
// buffered for at most flushInterval (errors are written at once); flush
// writes what is buffered and must be called before the process exits.
func New(o ctrlzap.Options) (log logr.Logger, flush func()) {
	if o.Development {
		// The development logger does not sample, and is not buffered.
		return ctrlzap.New(ctrlzap.UseFlagOptions(&o)), func() {}
	}
	dest := o.DestWriter
	if dest == nil {
		dest = os.Stderr
	}
	level := o.Level
	if level == nil {
		level = zap.NewAtomicLevelAt(zap.InfoLevel)
	}
	stacktrace := o.StacktraceLevel
	if stacktrace == nil {
		stacktrace = zap.NewAtomicLevelAt(zap.ErrorLevel)
	}
	timeEncoder := o.TimeEncoder
	if timeEncoder == nil {
		timeEncoder = zapcore.RFC3339TimeEncoder
	}
	encoder := o.Encoder
	if encoder == nil {
		newEncoder := o.NewEncoder
		if newEncoder == nil {
			newEncoder = func(opts ...ctrlzap.EncoderConfigOption) zapcore.Encoder {
				cfg := zap.NewProductionEncoderConfig()
				for _, opt := range opts {
					opt(&cfg)
				}
				return zapcore.NewJSONEncoder(cfg)
			}
		}
		opts := append([]ctrlzap.EncoderConfigOption{func(c *zapcore.EncoderConfig) { c.EncodeTime = timeEncoder }}, o.EncoderConfigOptions...)
		encoder = newEncoder(opts...)
	}
	out := ignoreSyncErrors{zapcore.AddSync(dest)}
	// The buffer's flushes (every flushInterval, and after an error) only
	// write: a write is what a line needs to survive the process. Syncing
	// the output as well, as zap's buffer does at every flush, would fsync
	// a log file ten times a second while holding the buffer's lock, so
	// that every line logged meanwhile (one per delivery) waits for the
	// disk. The output is synced once, when the process stops.
	buffered := &zapcore.BufferedWriteSyncer{WS: writeOnly{out}, Size: bufferSize, FlushInterval: flushInterval}
	kubeEncoder := &ctrlzap.KubeAwareEncoder{Encoder: encoder}
	core := syncOnError{Core: zapcore.NewCore(kubeEncoder, buffered, level), enc: kubeEncoder, out: buffered, errOut: out}
	zapOpts := append([]zap.Option{zap.ErrorOutput(out), zap.AddStacktrace(stacktrace)}, o.ZapOpts...)
	return zapr.NewLogger(zap.New(core, zapOpts...)), func() {
		_ = buffered.Stop()
		_ = out.Sync()
	}
}

// writeOnly is a WriteSyncer whose Sync does nothing: the writes reach the
// operating system, which keeps them when the process ends.
type writeOnly struct{ zapcore.WriteSyncer }

func (writeOnly) Sync() error { return nil }

// syncOnError writes errors, and what was buffered before them, at once: an
// error is often the last thing a failing process says.
//
// It also keeps what its Core was built of, which a Line uses to write
// its lines: the encoder, with the fields of the logger's context, the
// buffered output and the output of zap's own errors.
type syncOnError struct {
	zapcore.Core
	enc    zapcore.Encoder
	out    zapcore.WriteSyncer
	errOut zapcore.WriteSyncer
}

func (c syncOnError) With(fields []zapcore.Field) zapcore.Core {
	// The same fields on a clone of the encoder, as the Core adds them.
	enc := c.enc.Clone()
	for i := range fields {
		fields[i].AddTo(enc)
	}
	return syncOnError{Core: c.Core.With(fields), enc: enc, out: c.out, errOut: c.errOut}
}

func (c syncOnError) Check(ent zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(ent.Level) {
		return ce.AddCore(ent, c)
	}
	return ce
}

func (c syncOnError) Write(ent zapcore.Entry, fields []zapcore.Field) error {
	if err := c.Core.Write(ent, fields); err != nil {
		return err
	}
	if ent.Level >= zapcore.ErrorLevel {
		return c.Sync()
	}
	return nil
}

// ignoreSyncErrors drops the error fsync returns for a stream that cannot be
// synced: a pipe (every container's stderr), a terminal or a socket answer
// EINVAL (or ENOTSUP, ENOTTY); there is nothing to sync and nothing wrong.
// zap would print such an error after every error line, as a line that is
// not JSON ("write error: sync /dev/stderr: invalid argument"). Other errors,
// such as a full disk under a log file, are still returned.
type ignoreSyncErrors struct{ zapcore.WriteSyncer }

func (w ignoreSyncErrors) Sync() error {
	err := w.WriteSyncer.Sync()
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTSUP) || errors.Is(err, syscall.ENOTTY) {
		return nil
	}
	return err
}
