package main

import (
	"bytes"
	"runtime"
	"strings"
	"testing"
)

// TestCommandLine: the subcommands answer, and an unknown subcommand or a
// stray argument is a usage error that never starts the operator (no
// kubeconfig is needed to get it).
func TestCommandLine(t *testing.T) {
	t.Setenv("KUBECONFIG", "/nonexistent/kubeconfig")
	cases := []struct {
		name       string
		args       []string
		env        map[string]string
		code       int
		stdout     []string
		stderr     []string
		noStderrOf []string
	}{
		{"version", []string{"version"}, nil, 0, []string{"hookwarden dev (commit unknown", runtime.Version()}, nil, nil},
		{"version with an argument", []string{"version", "extra"}, nil, 2, nil, []string{`unexpected argument "extra"`}, nil},
		{"help lists the subcommands", []string{"--help"}, nil, 0, nil,
			[]string{"hookwarden send", "hookwarden version", "hookwarden completion", "-public-url", "HOOKWARDEN_"}, nil},
		{"help shows the flags' types and defaults", []string{"--help"}, nil, 0, nil,
			[]string{"-status-flush-interval duration", "-leader-elect\n", `(default ":9292")`}, []string{"panic calling String"}},
		{"unknown subcommand", []string{"serve"}, nil, 2, nil, []string{`unknown command "serve"`, "Usage:"}, []string{"Starting manager"}},
		{"stray argument after flags", []string{"--public-url=https://hooks.example.com", "extra"}, nil, 2, nil,
			[]string{`unexpected argument "extra"`, "Usage:"}, []string{"Starting manager"}},
		{"bad flag value names the flag and the form", []string{"--status-flush-interval=soon"}, nil, 2, nil,
			[]string{`invalid value "soon" for flag -status-flush-interval: want a duration such as 30s`}, []string{"Starting manager"}},
		{"bad number names the form", []string{"--receiver-max-inflight=lots"}, nil, 2, nil,
			[]string{"-receiver-max-inflight: want a whole number"}, nil},
		{"bad environment value names the variable, the flag and the form", nil, map[string]string{"HOOKWARDEN_LEADER_ELECT": "maybe"}, 2, nil,
			[]string{`HOOKWARDEN_LEADER_ELECT="maybe" (flag --leader-elect): want true or false`}, []string{"Starting manager"}},
		{"a flag the process's components do not read is refused", []string{"--components=controller", "--allowed-source-cidrs=github"},
			map[string]string{"POD_NAMESPACE": "hookwarden-system"}, 2, nil,
			[]string{"--allowed-source-cidrs: only the receiver reads it, and this process runs --components=controller"}, []string{"Starting manager"}},
		{"the earlier manifests' receiver settings do not stop the controller", []string{"--components=controller", "--receiver-bind-address=:9292"},
			// Exit 1: it goes on to the kubeconfig, which is missing; a
			// refusal would exit 2 and say so on stderr.
			map[string]string{"POD_NAMESPACE": "hookwarden-system", "HOOKWARDEN_TRUSTED_PROXIES": "10.0.0.0/8"}, 1, nil,
			nil, []string{"only the receiver reads it"}},
		{"bad send flag names the form", []string{"send", "--timeout=forever"}, nil, 2, nil,
			[]string{"-timeout: want a duration such as 30s"}, nil},
		{"completion needs a shell", []string{"completion"}, nil, 2, nil, []string{"give one shell (bash, zsh, fish)"}, nil},
		{"completion of an unknown shell", []string{"completion", "tcsh"}, nil, 2, nil, []string{`unknown shell "tcsh"`}, nil},
		{"completion help", []string{"completion", "--help"}, nil, 0, []string{"source <(hookwarden completion bash)"}, nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			var stdout, stderr bytes.Buffer
			if code := dispatch(tc.args, &stdout, &stderr); code != tc.code {
				t.Fatalf("exit code %d, want %d; stderr:\n%s", code, tc.code, stderr.String())
			}
			for _, want := range tc.stdout {
				if !strings.Contains(stdout.String(), want) {
					t.Errorf("stdout %q lacks %q", stdout.String(), want)
				}
			}
			for _, want := range tc.stderr {
				if !strings.Contains(stderr.String(), strings.ReplaceAll(want, "\\n", "\n")) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
				}
			}
			for _, not := range tc.noStderrOf {
				if strings.Contains(stderr.String(), not) {
					t.Errorf("stderr has %q:\n%s", not, stderr.String())
				}
			}
		})
	}
}
