# hookwarden — declarative GitHub webhooks for Kubernetes.
# `make help` lists the targets.

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec
.DEFAULT_GOAL := help

IMG ?= hookwarden:dev
GO ?= go
CONTROLLER_GEN ?= $(GO) tool controller-gen
GOLANGCI_LINT_VERSION ?= v2.15.0
LOCALBIN ?= $(CURDIR)/bin
GOLANGCI_LINT ?= $(LOCALBIN)/golangci-lint-$(GOLANGCI_LINT_VERSION)
# The version and commit `hookwarden version` prints and hookwarden_build_info
# exports: from git, or dev and unknown outside a git checkout.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
# Build flags shared by `make build`, the tests' binary and the Dockerfile
# (whose VERSION and COMMIT arguments `make docker-build` passes).
BUILD_FLAGS ?= -trimpath -ldflags="-s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)"
TEST_TIMEOUT ?= 30m

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: ## Generate the CRDs and RBAC under config/ from the API types and markers, and copy them into the Helm chart.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd:allowDangerousTypes=false paths="./..." output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac
	rm -f charts/hookwarden/files/crds/*.yaml
	cp config/crd/bases/*.yaml charts/hookwarden/files/crds/
	cp config/rbac/role.yaml charts/hookwarden/files/manager-role.yaml
	cp config/monitoring/prometheusrule.yaml config/monitoring/dashboard.json charts/hookwarden/files/

.PHONY: generate
generate: ## Generate DeepCopy methods for the API types.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..."

.PHONY: api-docs
api-docs: manifests ## Write docs/api-reference.md from the generated CRDs.
	$(GO) run ./hack/apidocs config/crd/bases docs/api-reference.md

.PHONY: fmt
fmt: ## Run gofmt on the code.
	gofmt -l -w $$(git ls-files '*.go')

.PHONY: vet
vet: ## Run go vet.
	$(GO) vet ./...

.PHONY: lint
lint: golangci-lint ## Run golangci-lint (built from its Go module into bin/).
	$(GOLANGCI_LINT) run ./...

.PHONY: verify
verify: manifests generate api-docs ## Fail when generated files or formatting are stale.
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed on:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	@$(GO) mod tidy -diff >/dev/null || { echo "go.mod/go.sum are not tidy: run 'go mod tidy'"; $(GO) mod tidy -diff; exit 1; }
	@git diff --exit-code -- api config charts docs/api-reference.md || { echo "Generated files are stale: run 'make manifests generate api-docs' and commit the result"; exit 1; }
	@test -z "$$(git status --porcelain --untracked-files=all -- api config charts)" || { echo "Untracked generated files:"; git status --porcelain -- api config charts; exit 1; }

##@ Sandbox

.PHONY: sandbox
sandbox: build npm-deps envtest ## Run hookwarden end to end locally: control plane, GitHub simulator, the built operator, deliveries (ARGS=--once to check and exit).
	KUBEBUILDER_ASSETS="$$(hack/controlplane/build.sh)" HOOKWARDEN_NPM_CACHE="$$(hack/npm-deps.sh)" \
		HOOKWARDEN_BINARY=$(LOCALBIN)/hookwarden $(GO) run ./hack/sandbox $(ARGS)

##@ Test

.PHONY: test
test: verify vet lint build npm-deps envtest promtool ## Everything that proves hookwarden works: verify, vet, lint, unit, envtest and conformance tests, the alert rules, the sandbox flow.
	KUBEBUILDER_ASSETS="$$(hack/controlplane/build.sh)" HOOKWARDEN_NPM_CACHE="$$(hack/npm-deps.sh)" \
		HOOKWARDEN_BINARY=$(LOCALBIN)/hookwarden $(GO) test -timeout $(TEST_TIMEOUT) ./...
	$(MAKE) --no-print-directory sandbox ARGS=--once

FUZZ_TIME ?= 10m
.PHONY: fuzz
fuzz: npm-deps ## Fuzz the delivery checks, decoding and classification (internal/delivery) for FUZZ_TIME (default 10m); the seeds also run in make test.
	HOOKWARDEN_NPM_CACHE="$$(hack/npm-deps.sh)" \
		$(GO) test -run '^$$' -fuzz '^FuzzValidateDelivery$$' -fuzztime $(FUZZ_TIME) ./internal/delivery/

RESILIENCE_RUN ?= .
.PHONY: test-resilience
test-resilience: build envtest ## Stop, kill and fail what hookwarden depends on in the middle of delivery streams, and check a ledger per scenario (docs/resilience.md; RESILIENCE_RUN=<regexp> picks scenarios). Not part of make test.
	KUBEBUILDER_ASSETS="$$(hack/controlplane/build.sh)" HOOKWARDEN_BINARY=$(LOCALBIN)/hookwarden \
		$(GO) test -timeout 60m -count=1 -v -run '$(RESILIENCE_RUN)' ./test/resilience/ -args -resilience

.PHONY: envtest
envtest: ## Build the test control plane (kube-apiserver, etcd) into bin/k8s once and print KUBEBUILDER_ASSETS.
	@hack/controlplane/build.sh

.PHONY: npm-deps
npm-deps: ## Fetch the npm test references (GitHub OpenAPI, webhook examples, Octokit signing) into .cache/npm.
	@hack/npm-deps.sh >/dev/null

##@ Benchmarks

# CPUs of the side-by-side benchmark: the servers share SERVER_CPU (each runs
# with GOMAXPROCS=1 or node's one thread), the load generator runs on
# CLIENT_CPU. Empty values leave placement to the kernel.
BENCH_SERVER_CPU ?= 0
BENCH_CLIENT_CPU ?= 1
BENCH_ARGS ?=

.PHONY: bench
bench: npm-deps ## Receiver vs bare net/http, go-verify (net/http + HMAC) and @octokit/webhooks (node), side by side: req/s, p50, p99 at 7 KB and 256 KB against the targets in docs/performance.md (BASELINE=<git rev> adds that revision's receiver).
	@mkdir -p $(LOCALBIN)/bench
	$(GO) test -c -o $(LOCALBIN)/bench/webhookserver.test ./webhookserver
	@if [ -n "$(BASELINE)" ]; then \
		tmp=$$(mktemp -d); trap 'git worktree remove --force "$$tmp"' EXIT; \
		git worktree add --quiet --detach "$$tmp" "$(BASELINE)" && \
		(cd "$$tmp" && $(GO) test -c -o $(LOCALBIN)/bench/baseline.test ./webhookserver); \
	fi
	cd webhookserver && HOOKWARDEN_NPM_CACHE="$$(../hack/npm-deps.sh)" \
		$$(if [ -n "$(BENCH_CLIENT_CPU)" ] && command -v taskset >/dev/null; then echo taskset -c $(BENCH_CLIENT_CPU); fi) \
		$(LOCALBIN)/bench/webhookserver.test -test.run '^TestSideBySide$$' -test.count=1 \
		-sidebyside -sidebyside.server-cpu='$(BENCH_SERVER_CPU)' \
		$(if $(BASELINE),-sidebyside.baseline=$(LOCALBIN)/bench/baseline.test) $(BENCH_ARGS)

SCALE_ARGS ?=
.PHONY: bench-scale
bench-scale: build envtest ## hookwarden at scale against the simulator with GitHub's limits: convergence of 1,000 integrations over 50 tokens, steady state, RSS per integration, status writes per delivery (docs/performance.md; SCALE_ARGS=-test.run=<regexp> -scale.interval=... ). Not part of make test.
	@mkdir -p $(LOCALBIN)/bench
	$(GO) test -c -o $(LOCALBIN)/bench/scale.test ./test/scale
	cd test/scale && KUBEBUILDER_ASSETS="$$(../../hack/controlplane/build.sh)" HOOKWARDEN_BINARY=$(LOCALBIN)/hookwarden \
		$(LOCALBIN)/bench/scale.test -test.count=1 -test.timeout 90m -test.v -scale $(SCALE_ARGS)

##@ Build

.PHONY: build
build: ## Build the manager binary into bin/hookwarden.
	CGO_ENABLED=0 $(GO) build $(BUILD_FLAGS) -o $(LOCALBIN)/hookwarden ./cmd/hookwarden

.PHONY: run
run: manifests ## Run the manager against the cluster of the current kubeconfig.
	$(GO) run ./cmd/hookwarden $(ARGS)

##@ Deployment

# kustomize as pinned in go.mod (tool directive), built into bin/.
KUSTOMIZE ?= $(LOCALBIN)/kustomize
KUBECTL ?= kubectl
CONTAINER_TOOL ?= docker
# Renders config/default with the manager image set to $(IMG).
define render-install
	tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	printf 'resources:\n- %s\n' "$$(realpath --relative-to="$$tmp" config/default)" >"$$tmp/kustomization.yaml"; \
	(cd "$$tmp" && $(KUSTOMIZE) edit set image hookwarden=$(IMG)); \
	$(KUSTOMIZE) build "$$tmp"
endef

.PHONY: build-installer
build-installer: manifests kustomize ## Write dist/install.yaml (CRDs, RBAC, Deployment, Services, PDB) for the image IMG.
	@mkdir -p dist
	@$(render-install) >dist/install.yaml
	@echo "Wrote dist/install.yaml for image $(IMG): kubectl apply --server-side -f dist/install.yaml"

.PHONY: deploy
deploy: manifests kustomize ## Install hookwarden with the image IMG into the cluster of the current kubeconfig.
	@$(render-install) | $(KUBECTL) apply --server-side -f -

.PHONY: undeploy
undeploy: kustomize ## Remove hookwarden from the cluster but keep the CRDs, the GitHubIntegrations and their hooks on GitHub.
	@$(render-install) | $(KUSTOMIZE) cfg grep --invert-match "kind=CustomResourceDefinition" \
		| $(KUBECTL) delete --ignore-not-found -f -

.PHONY: uninstall
uninstall: kustomize ## Delete the CRDs once no GitHubIntegration or GitHubIssue is left (delete those first, with hookwarden running).
	@left=$$($(KUBECTL) get githubintegrations,githubissues -A --no-headers --ignore-not-found 2>/dev/null | wc -l); \
	if [ "$$left" -gt 0 ]; then echo "$$left GitHubIntegrations/GitHubIssues remain: delete them while hookwarden runs, so it removes their hooks and finalizers"; exit 1; fi
	@$(KUSTOMIZE) build config/crd | $(KUBECTL) delete --ignore-not-found -f -

.PHONY: docker-build
docker-build: ## Build the container image IMG (needs a Docker engine or CONTAINER_TOOL=podman).
	$(CONTAINER_TOOL) build --build-arg VERSION=$(VERSION) --build-arg COMMIT=$(COMMIT) -t $(IMG) .

.PHONY: docker-push
docker-push: ## Push the container image IMG.
	$(CONTAINER_TOOL) push $(IMG)

##@ Release

# The release workflow (.github/workflows/release.yaml) runs these for a tag;
# hack/release's test holds it to this Makefile and the Dockerfile.
COSIGN_VERSION ?= v3.1.3
CHART_VERSION ?= $(patsubst v%,%,$(VERSION))
# With both set, chart-package pins the chart's image to IMAGE_REPOSITORY@IMAGE_DIGEST.
IMAGE_REPOSITORY ?=
IMAGE_DIGEST ?=
DIST ?= dist

.PHONY: print-version
print-version: ## Print the version make build stamps into the binary (git describe).
	@echo $(VERSION)

.PHONY: print-commit
print-commit: ## Print the commit make build stamps into the binary.
	@echo $(COMMIT)

.PHONY: sign
sign: ## Sign the image IMG, given by digest, with cosign (keyless: the identity of the workflow that runs it).
	$(GO) run github.com/sigstore/cosign/v3/cmd/cosign@$(COSIGN_VERSION) sign --yes $(IMG)

.PHONY: chart-package
chart-package: ## Package the Helm chart as $(DIST)/hookwarden-CHART_VERSION.tgz, its image pinned to IMAGE_REPOSITORY@IMAGE_DIGEST when given.
	@mkdir -p $(DIST)
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; cp -r charts/hookwarden "$$tmp/"; \
	if [ -n "$(IMAGE_REPOSITORY)" ]; then sed -i 's|^  repository: .*|  repository: $(IMAGE_REPOSITORY)|' "$$tmp/hookwarden/values.yaml"; fi; \
	if [ -n "$(IMAGE_DIGEST)" ]; then sed -i 's|^  digest: ""|  digest: "$(IMAGE_DIGEST)"|' "$$tmp/hookwarden/values.yaml"; fi; \
	$(GO) tool helm package "$$tmp/hookwarden" --version $(CHART_VERSION) --app-version $(CHART_VERSION) -d $(DIST)

##@ Tools

# promtool tests the alerts of config/monitoring (config/monitoring/rules_test.go).
# It comes from Debian's prometheus package, installed when missing.
.PHONY: promtool
promtool: ## Install promtool (Debian's prometheus package) when it is missing, for the alert rule tests.
	@command -v promtool >/dev/null || { \
		if [ "$$(id -u)" != 0 ]; then echo "promtool is missing: run 'make promtool' as root, or 'sudo apt-get install prometheus'"; exit 1; fi; \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus; }
	@promtool --version | head -1

.PHONY: golangci-lint
golangci-lint: $(GOLANGCI_LINT)
$(GOLANGCI_LINT):
	GOBIN=$(LOCALBIN) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	mv $(LOCALBIN)/golangci-lint $(GOLANGCI_LINT)

.PHONY: kustomize
kustomize: $(KUSTOMIZE)
$(KUSTOMIZE): go.mod
	$(GO) build -o $(KUSTOMIZE) sigs.k8s.io/kustomize/kustomize/v5
