# hookwarden's container image: a static binary on distroless, as non-root.
# Build with `make docker-build IMG=...` (needs a Docker engine).
#
# The go build line uses the same flags as `make build` (BUILD_FLAGS in the
# Makefile), so the image holds the binary that the tests built and ran.

FROM --platform=$BUILDPLATFORM golang:1.26 AS builder
ARG TARGETOS=linux
ARG TARGETARCH
# What `hookwarden version` and hookwarden_build_info show (make docker-build
# passes the git version and commit).
ARG VERSION=dev
ARG COMMIT=unknown
WORKDIR /src

# Dependencies first: this layer stays cached until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download

COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags="-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" -o /out/hookwarden ./cmd/hookwarden

FROM gcr.io/distroless/static:nonroot
WORKDIR /
COPY --from=builder /out/hookwarden /hookwarden
USER 65532:65532
# Receiver, metrics, health probes.
EXPOSE 9292 8080 8081
ENTRYPOINT ["/hookwarden"]
