package cliflag

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

// TestExplain: a bad value is answered with the form the flag accepts, a
// good one still sets the flag, and a boolean flag still needs no value.
func TestExplain(t *testing.T) {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	interval := fs.Duration("interval", time.Second, "")
	elect := fs.Bool("leader-elect", false, "")
	count := fs.Int("count", 1, "")
	Explain(fs)

	if err := fs.Parse([]string{"--leader-elect", "--interval=5m", "--count", "3"}); err != nil {
		t.Fatal(err)
	}
	if !*elect || *interval != 5*time.Minute || *count != 3 {
		t.Errorf("parsed leader-elect=%v interval=%v count=%v", *elect, *interval, *count)
	}
	for args, want := range map[string]string{
		"--interval=soon":     `invalid value "soon" for flag -interval: want a duration such as 30s, 5m or 1h30m`,
		"--leader-elect=sure": `invalid boolean value "sure" for -leader-elect: want true or false`,
		"--count=many":        `invalid value "many" for flag -count: want a whole number such as 64`,
	} {
		if err := fs.Parse([]string{args}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", args, err, want)
		}
	}
}
