// Package release holds what can be checked of the release pipeline
// (.github/workflows/release.yaml) without GitHub: the workflow parses and
// asks for what a release needs, it builds with the flags of `make build`,
// every make target it runs exists, and the chart it publishes is pinned to
// the image it built.
package release

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
	"sigs.k8s.io/yaml"

	"github.com/hookwarden/hookwarden/internal/testenv"
)

type step struct {
	ID   string            `json:"id"`
	Name string            `json:"name"`
	Uses string            `json:"uses"`
	Run  string            `json:"run"`
	With map[string]string `json:"with"`
	Env  map[string]string `json:"env"`
}

type workflow struct {
	Name string `json:"name"`
	On   struct {
		Push struct {
			Tags []string `json:"tags"`
		} `json:"push"`
	} `json:"on"`
	Permissions map[string]string `json:"permissions"`
	Jobs        map[string]struct {
		RunsOn      string            `json:"runs-on"`
		Needs       any               `json:"needs"`
		Permissions map[string]string `json:"permissions"`
		Env         map[string]string `json:"env"`
		Steps       []step            `json:"steps"`
	} `json:"jobs"`
}

func readWorkflow(t *testing.T) workflow {
	t.Helper()
	var w workflow
	if err := yaml.UnmarshalStrict([]byte(testenv.ReadRepoFile(t, ".github/workflows/release.yaml")), &w); err != nil {
		// Strict: a misspelt key is an error here, not a silently ignored
		// setting on GitHub.
		t.Fatalf("release.yaml: %v", err)
	}
	return w
}

func (w workflow) steps() []step {
	var all []step
	for _, name := range []string{"test", "release"} {
		all = append(all, w.Jobs[name].Steps...)
	}
	return all
}

func TestReleaseWorkflowAsksForWhatAReleaseNeeds(t *testing.T) {
	w := readWorkflow(t)
	if !slices.Equal(w.On.Push.Tags, []string{"v*"}) {
		t.Errorf("runs for tags %v, want [v*]", w.On.Push.Tags)
	}
	if len(w.Permissions) != 0 {
		t.Errorf("workflow-wide permissions %v: grant them per job", w.Permissions)
	}
	rel, ok := w.Jobs["release"]
	if !ok || rel.Needs != "test" {
		t.Fatalf("no release job that needs the test job: %+v", w.Jobs)
	}
	for perm, want := range map[string]string{"contents": "write", "packages": "write", "id-token": "write"} {
		if rel.Permissions[perm] != want {
			t.Errorf("release job: permission %s is %q, want %q", perm, rel.Permissions[perm], want)
		}
	}
	var runs strings.Builder
	var image *step
	for i, s := range w.steps() {
		runs.WriteString(s.Run + "\n")
		if strings.HasPrefix(s.Uses, "actions/setup-go@") && s.With["go-version-file"] != "go.mod" {
			t.Errorf("setup-go without go-version-file: go.mod: the release would build with another Go than go.mod's")
		}
		if strings.HasPrefix(s.Uses, "docker/build-push-action@") {
			image = &w.steps()[i]
		}
	}
	if !strings.Contains(testenv.ReadRepoFile(t, ".ci/run"), "make test") || !strings.Contains(runs.String(), ".ci/run") {
		t.Error("the test job does not run .ci/run, the README's test command")
	}
	if image == nil {
		t.Fatal("no image build step")
	}
	for _, platform := range []string{"linux/amd64", "linux/arm64"} {
		if !strings.Contains(image.With["platforms"], platform) {
			t.Errorf("images built for %q, want %s among them", image.With["platforms"], platform)
		}
	}
	for _, arg := range []string{"VERSION=", "COMMIT="} {
		if !strings.Contains(image.With["build-args"], arg) {
			t.Errorf("image built without the build argument %s", arg)
		}
	}
	for _, want := range []string{"make sign", "make build-installer", "make chart-package", "helm push", "gh release create"} {
		if !strings.Contains(runs.String(), want) {
			t.Errorf("the workflow never runs %q", want)
		}
	}
}

// TestReleaseWorkflowRunsOnlyMakeTargetsThatExist: a renamed target fails
// here, not on the next tag.
func TestReleaseWorkflowRunsOnlyMakeTargetsThatExist(t *testing.T) {
	makefile := testenv.ReadRepoFile(t, "Makefile")
	makeRun := regexp.MustCompile(`\bmake (?:-s )?([a-z][a-z0-9-]*)`)
	for _, s := range readWorkflow(t).steps() {
		for _, m := range makeRun.FindAllStringSubmatch(s.Run, -1) {
			if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(m[1]) + `:`).MatchString(makefile) {
				t.Errorf("the workflow runs make %s, which the Makefile does not have", m[1])
			}
		}
	}
}

// goBuildFlags returns the flags of the go build command in line, from
// "go build" up to "-o".
func goBuildFlags(t *testing.T, line string) string {
	t.Helper()
	_, after, ok := strings.Cut(line, "go build ")
	if !ok {
		t.Fatalf("no go build in %q", line)
	}
	flags, _, ok := strings.Cut(after, " -o ")
	if !ok {
		t.Fatalf("no -o in %q", line)
	}
	return strings.TrimSpace(flags)
}

// TestImageIsBuiltWithTheFlagsOfMakeBuild: the image holds the binary the
// tests built and ran, stamped with the same version and commit.
func TestImageIsBuiltWithTheFlagsOfMakeBuild(t *testing.T) {
	root := testenv.RepoRoot()
	cmd := exec.Command("make", "-s", "-n", "build", "VERSION=v9.8.7", "COMMIT=0123abc")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make -n build: %v\n%s", err, out)
	}
	makeFlags := goBuildFlags(t, string(out))
	if !strings.Contains(string(out), "CGO_ENABLED=0") {
		t.Errorf("make build is not static: %s", out)
	}

	dockerfile := testenv.ReadRepoFile(t, "Dockerfile")
	build := regexp.MustCompile(`(?m)^\s+go build .*$`).FindString(dockerfile)
	if build == "" {
		t.Fatal("no go build command in the Dockerfile")
	}
	dockerLine := strings.NewReplacer("${VERSION}", "v9.8.7", "${COMMIT}", "0123abc").Replace(build)
	if got := goBuildFlags(t, dockerLine); got != makeFlags {
		t.Errorf("the Dockerfile builds with\n  %s\nmake build with\n  %s", got, makeFlags)
	}
	if !strings.Contains(dockerfile, "CGO_ENABLED=0") {
		t.Error("the Dockerfile's build is not static")
	}
}

// TestChartPackagePinsTheImage runs the release's `make chart-package` and
// renders the packaged chart: its Deployment runs the image by digest, and
// the chart carries the release's version.
func TestChartPackagePinsTheImage(t *testing.T) {
	dist := t.TempDir()
	const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	cmd := exec.Command("make", "-s", "chart-package", "CHART_VERSION=9.8.7",
		"IMAGE_REPOSITORY=registry.example/hookwarden", "IMAGE_DIGEST="+digest, "DIST="+dist)
	cmd.Dir = testenv.RepoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make chart-package: %v\n%s", err, out)
	}
	ch, err := loader.Load(filepath.Join(dist, "hookwarden-9.8.7.tgz"))
	if err != nil {
		t.Fatal(err)
	}
	if ch.Metadata.Version != "9.8.7" || ch.Metadata.AppVersion != "9.8.7" {
		t.Errorf("packaged chart version %s, appVersion %s, want 9.8.7", ch.Metadata.Version, ch.Metadata.AppVersion)
	}
	vals, err := util.ToRenderValues(ch, nil, common.ReleaseOptions{Name: "hookwarden", Namespace: "hookwarden-system", IsInstall: true}, common.DefaultCapabilities)
	if err != nil {
		t.Fatal(err)
	}
	files, err := engine.Render(ch, vals)
	if err != nil {
		t.Fatal(err)
	}
	deployment := files["hookwarden/templates/deployment.yaml"]
	if want := "image: registry.example/hookwarden@" + digest; !strings.Contains(deployment, want) {
		t.Errorf("the packaged chart's Deployment lacks %q:\n%s", want, deployment)
	}
	if entries, _ := os.ReadDir(dist); len(entries) != 1 {
		t.Errorf("dist holds %d files, want the chart only", len(entries))
	}
}

// TestCosignPinIsServed: the cosign `make sign` runs is a version the Go
// module proxy serves.
func TestCosignPinIsServed(t *testing.T) {
	root := testenv.RepoRoot()
	out, err := exec.Command("make", "-s", "-C", root, "-n", "sign", "IMG=registry.example/hookwarden@sha256:0").CombinedOutput()
	if err != nil {
		t.Fatalf("make -n sign: %v\n%s", err, out)
	}
	module := regexp.MustCompile(`github\.com/sigstore/cosign/v\d+`).FindString(string(out))
	version := regexp.MustCompile(`/cmd/cosign@(v[0-9.]+)`).FindStringSubmatch(string(out))
	if module == "" || version == nil {
		t.Fatalf("make sign does not run a pinned cosign: %s", out)
	}
	cmd := exec.Command("go", "list", "-m", module+"@"+version[1])
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("cosign %s is not served: %v\n%s", version[1], err, out)
	}
}
