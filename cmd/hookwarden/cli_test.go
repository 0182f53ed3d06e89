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
		code       int
		stdout     []string
		stderr     []string
		noStderrOf []string
	}{
		{"version", []string{"version"}, 0, []string{"hookwarden dev", runtime.Version()}, nil, nil},
		{"version with an argument", []string{"version", "extra"}, 2, nil, []string{`unexpected argument "extra"`}, nil},
		{"help lists the subcommands", []string{"--help"}, 0, nil, []string{"hookwarden send", "hookwarden version", "-public-url", "HOOKWARDEN_"}, nil},
		{"unknown subcommand", []string{"serve"}, 2, nil, []string{`unknown command "serve"`, "Usage:"}, []string{"Starting manager"}},
		{"stray argument after flags", []string{"--public-url=https://hooks.example.com", "extra"}, 2, nil,
			[]string{`unexpected argument "extra"`, "Usage:"}, []string{"Starting manager"}},
		{"bad flag value names the flag", []string{"--status-flush-interval=soon"}, 2, nil, []string{"status-flush-interval"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
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
				if !strings.Contains(stderr.String(), want) {
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
