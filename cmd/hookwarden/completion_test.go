package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// completionScript returns what `hookwarden completion shell` prints.
func completionScript(t *testing.T, shell string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := dispatch([]string{"completion", shell}, &stdout, &stderr); code != 0 {
		t.Fatalf("hookwarden completion %s: exit %d: %s", shell, code, stderr.String())
	}
	return stdout.String()
}

// TestBashCompletion loads the bash script into bash and asks it what a
// user's Tab would: subcommands, the operator's flags (past flag values
// given either way), send's flags, the shells.
func TestBashCompletion(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash on this machine")
	}
	script := filepath.Join(t.TempDir(), "hookwarden.bash")
	if err := os.WriteFile(script, []byte(completionScript(t, "bash")), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		words []string // as bash splits them; the last is being completed
		want  string
	}{
		{[]string{"hookwarden", ""}, "send version completion"},
		{[]string{"hookwarden", "ve"}, "version"},
		{[]string{"hookwarden", "--public-"}, "--public-url"},
		{[]string{"hookwarden", "--watch-namespaces", "team-a", "--leader-el"}, "--leader-elect --leader-election-namespace"},
		{[]string{"hookwarden", "--leader-elect", "se"}, "send"},
		{[]string{"hookwarden", "--public-url", "=", "https://hooks.example.com", "co"}, "completion"},
		{[]string{"hookwarden", "send", "--ev"}, "--event"},
		{[]string{"hookwarden", "send", "--event", "push", "--secret"}, "--secret --secret-file"},
		{[]string{"hookwarden", "completion", ""}, "bash zsh fish"},
	}
	for _, tc := range cases {
		quoted := make([]string, len(tc.words))
		for i, w := range tc.words {
			quoted[i] = "'" + w + "'"
		}
		prog := "source " + script + "\nCOMP_WORDS=(" + strings.Join(quoted, " ") + ")\nCOMP_CWORD=" +
			strconv.Itoa(len(tc.words)-1) + "\n_hookwarden\necho \"${COMPREPLY[*]}\"\n"
		out, err := exec.Command(bash, "--norc", "--noprofile", "-c", prog).CombinedOutput()
		if err != nil {
			t.Fatalf("bash: %v\n%s", err, out)
		}
		if got := strings.TrimSpace(string(out)); got != tc.want {
			t.Errorf("completing %q: %q, want %q", tc.words, got, tc.want)
		}
	}
}

// TestZshAndFishCompletion: zsh loads the bash completion through
// bashcompinit; fish gets one line per subcommand and flag, the flags that
// take a value marked -r.
func TestZshAndFishCompletion(t *testing.T) {
	zsh := completionScript(t, "zsh")
	if !strings.HasPrefix(zsh, "#compdef hookwarden\n") || !strings.Contains(zsh, "bashcompinit") ||
		!strings.Contains(zsh, completionScript(t, "bash")) {
		t.Errorf("zsh script is not the bash completion behind bashcompinit:\n%s", zsh)
	}
	fish := completionScript(t, "fish")
	for _, want := range []string{
		"complete -c hookwarden -n __fish_use_subcommand -a send ",
		"complete -c hookwarden -n __fish_use_subcommand -a completion ",
		"complete -c hookwarden -n '__fish_use_subcommand' -l public-url -d 'URL where GitHub reaches the receiver (e.g. the Ingress host); payload URLs default to it followed by the receiver path' -r\n",
		"complete -c hookwarden -n '__fish_use_subcommand' -l leader-elect -d 'Elect a leader so only one replica reconciles; every replica receives deliveries'\n",
		`-l allowed-source-cidrs -d 'Source addresses the receiver accepts: "github" for the hooks ranges of GitHub\'s /meta`,
		"complete -c hookwarden -n '__fish_seen_subcommand_from send' -l secret-file ",
		"complete -c hookwarden -n '__fish_seen_subcommand_from completion' -a 'bash zsh fish'",
	} {
		if !strings.Contains(fish, want) {
			t.Errorf("fish script lacks %q", want)
		}
	}
}
