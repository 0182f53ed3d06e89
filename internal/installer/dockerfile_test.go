package installer_test

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hookwarden/hookwarden/internal/testenv"
)

func readRepoFile(t *testing.T, name string) string { return testenv.ReadRepoFile(t, name) }

// TestDockerfileBuildsTheTestedBinary checks that the image's go build uses
// the flags of `make build` (the binary the tests run), is static, and ends
// in a distroless non-root image. No container engine is needed.
func TestDockerfileBuildsTheTestedBinary(t *testing.T) {
	makefile := readRepoFile(t, "Makefile")
	dockerfile := readRepoFile(t, "Dockerfile")

	m := regexp.MustCompile(`(?m)^BUILD_FLAGS \?= (.+)$`).FindStringSubmatch(makefile)
	if m == nil {
		t.Fatal("Makefile defines no BUILD_FLAGS")
	}
	buildFlags := strings.TrimSpace(m[1])
	if !regexp.MustCompile(`(?m)^\s*CGO_ENABLED=0 \$\(GO\) build \$\(BUILD_FLAGS\)`).MatchString(makefile) {
		t.Error("make build does not run CGO_ENABLED=0 $(GO) build $(BUILD_FLAGS)")
	}

	build := regexp.MustCompile(`go build (.+) -o /out/hookwarden \./cmd/hookwarden`).FindStringSubmatch(dockerfile)
	if build == nil {
		t.Fatal("Dockerfile has no 'go build ... -o /out/hookwarden ./cmd/hookwarden'")
	}
	// The Makefile's $(VERSION) and $(COMMIT) are the Dockerfile's
	// arguments of the same names.
	if want := strings.NewReplacer("$(VERSION)", "${VERSION}", "$(COMMIT)", "${COMMIT}").Replace(buildFlags); build[1] != want {
		t.Errorf("Dockerfile builds with %q, make build with %q: the image would not hold the tested binary", build[1], buildFlags)
	}
	if !strings.Contains(buildFlags, "-X main.version=$(VERSION)") || !strings.Contains(buildFlags, "-X main.commit=$(COMMIT)") {
		t.Errorf("BUILD_FLAGS %q do not set main.version and main.commit: hookwarden version would print dev", buildFlags)
	}
	if !strings.Contains(makefile, "--build-arg VERSION=$(VERSION) --build-arg COMMIT=$(COMMIT)") {
		t.Error("make docker-build does not pass VERSION and COMMIT to the Dockerfile")
	}
	for _, want := range []string{
		"ARG VERSION=dev",
		"ARG COMMIT=unknown",
		"CGO_ENABLED=0",
		"FROM --platform=$BUILDPLATFORM golang:" + goMinor(t) + " AS builder",
		"FROM gcr.io/distroless/static:nonroot",
		"USER 65532:65532",
		`ENTRYPOINT ["/hookwarden"]`,
	} {
		if !strings.Contains(dockerfile, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
}

// goMinor is the Go version of go.mod without its patch, e.g. "1.26".
func goMinor(t *testing.T) string {
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindStringSubmatch(readRepoFile(t, "go.mod"))
	if m == nil {
		t.Fatal("go.mod has no go directive")
	}
	return m[1]
}

// TestDockerignoreKeepsTheBuildInputs checks that no package the binary is
// built from lies in a directory the build context leaves out.
func TestDockerignoreKeepsTheBuildInputs(t *testing.T) {
	var ignoredDirs []string
	for _, line := range strings.Split(readRepoFile(t, ".dockerignore"), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasSuffix(line, "/") && !strings.ContainsAny(line, "*?[!") {
			ignoredDirs = append(ignoredDirs, line)
		}
	}
	if len(ignoredDirs) == 0 {
		t.Fatal(".dockerignore leaves out no directory: the build context would hold bin/ and .git/")
	}
	cmd := exec.Command("go", "list", "-deps", "-f", "{{if .Module}}{{if .Module.Main}}{{.Dir}}{{end}}{{end}}", "./cmd/hookwarden")
	cmd.Dir = testenv.RepoRoot()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	root := testenv.RepoRoot()
	for _, dir := range strings.Fields(string(out)) {
		rel, err := filepath.Rel(root, dir)
		if err != nil {
			t.Fatal(err)
		}
		rel = filepath.ToSlash(rel) + "/"
		for _, ignored := range ignoredDirs {
			if strings.HasPrefix(rel, ignored) {
				t.Errorf("package in %s is built into hookwarden but .dockerignore leaves out %s", rel, ignored)
			}
		}
	}
}
