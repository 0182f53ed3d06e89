package operator

import (
	"os"

	"github.com/go-logr/logr"
	"github.com/go-logr/zapr"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	ctrlzap "sigs.k8s.io/controller-runtime/pkg/log/zap"
)

// NewLogger builds the operator's logger from the --zap-* flags, as
// controller-runtime's zap.New does, but never samples. controller-runtime's
// production logger keeps only every 100th identical message beyond 100 a
// second, and the receiver logs one line per delivery ("Delivery answered"),
// which must not be dropped under load.
func NewLogger(o ctrlzap.Options) logr.Logger {
	if o.Development {
		// The development logger does not sample.
		return ctrlzap.New(ctrlzap.UseFlagOptions(&o))
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
	sink := zapcore.AddSync(dest)
	core := zapcore.NewCore(&ctrlzap.KubeAwareEncoder{Encoder: encoder}, sink, level)
	zapOpts := append([]zap.Option{zap.ErrorOutput(sink), zap.AddStacktrace(stacktrace)}, o.ZapOpts...)
	return zapr.NewLogger(zap.New(core, zapOpts...))
}
