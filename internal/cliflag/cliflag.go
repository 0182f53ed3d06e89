// Package cliflag makes hookwarden's command-line errors say what to fix: a
// bad value of a flag, or of the HOOKWARDEN_* variable standing in for it,
// is reported with the flag's name and the form it accepts, where Go's flag
// package says only "parse error".
package cliflag

import (
	"flag"
	"fmt"
	"time"
)

// Form is the form a flag accepts, in words with an example, for the
// value types of Go's flag package; empty for other values, whose Set
// errors already say what they want.
func Form(f *flag.Flag) string {
	getter, ok := f.Value.(flag.Getter)
	if !ok {
		return ""
	}
	switch getter.Get().(type) {
	case time.Duration:
		return "a duration such as 30s, 5m or 1h30m"
	case bool:
		return "true or false"
	case int, int64:
		return "a whole number such as 64"
	case uint, uint64:
		return "a whole number of 0 or more, such as 64"
	case float64:
		return "a number such as 0.5"
	}
	return ""
}

// Explain makes every flag of fs whose value type has a Form answer a bad
// value with that form. Call it once the flags are defined, and print usage
// from a flag set without it: the flag package names the value types of
// its own values only.
func Explain(fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		form := Form(f)
		if form == "" {
			return
		}
		e := explained{Value: f.Value, form: form}
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			f.Value = &explainedBool{e}
			return
		}
		f.Value = &e
	})
}

// explained is a flag value whose Set error says what form it accepts.
type explained struct {
	flag.Value
	form string
}

func (e *explained) Set(v string) error {
	if err := e.Value.Set(v); err != nil {
		return fmt.Errorf("want %s", e.form)
	}
	return nil
}

func (e *explained) String() string {
	if e == nil || e.Value == nil {
		return ""
	}
	return e.Value.String()
}

// explainedBool keeps a boolean flag usable without a value (--leader-elect).
type explainedBool struct{ explained }

func (*explainedBool) IsBoolFlag() bool { return true }

// SetFromEnv sets the flag f from the environment variable env holding v,
// and on a bad value names both the variable and the flag, with the form
// the flag accepts.
func SetFromEnv(fs *flag.FlagSet, f *flag.Flag, env, v string) error {
	if err := fs.Set(f.Name, v); err != nil {
		if form := Form(f); form != "" {
			return fmt.Errorf("%s=%q (flag --%s): want %s", env, v, f.Name, form)
		}
		return fmt.Errorf("%s=%q (flag --%s): %w", env, v, f.Name, err)
	}
	return nil
}
