#!/usr/bin/env bash
# Puts the test control plane (kube-apiserver and etcd) into bin/k8s, once,
# and prints the directory for KUBEBUILDER_ASSETS.
#
# First it asks setup-envtest (pinned in setup-envtest/go.mod) for the
# released binaries of the Kubernetes version pinned in kube-apiserver/go.mod:
# a download of seconds where the machine reaches the release downloads.
# Where it cannot (no internet access, or no release of that exact version),
# it builds both from their Go modules, which needs only the Go module proxy.
# Each binary is built in its own wrapper module (see the go.mod files beside
# this script) so that their dependency graphs never meet hookwarden's, and
# is rebuilt only when its wrapper module changed. HOOKWARDEN_ENVTEST_DOWNLOAD=0
# skips the download.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out="${CONTROLPLANE_DIR:-$root/bin/k8s}"
mkdir -p "$out"

build() { # name package
  local name=$1 pkg=$2 mod="$here/$1"
  local sum
  sum=$(cat "$mod/go.mod" "$mod/go.sum" | sha256sum | cut -c1-16)
  if [[ -x "$out/$name" && -f "$out/.$name.$sum" ]]; then
    return
  fi
  echo "Building $name from $pkg (first time only, several minutes)" >&2
  local start=$SECONDS
  (cd "$mod" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$out/$name.tmp" "$pkg")
  mv "$out/$name.tmp" "$out/$name"
  rm -f "$out/.$name."*
  touch "$out/.$name.$sum"
  echo "Built $name in $((SECONDS - start))s" >&2
}

built() { # name
  local mod="$here/$1" sum
  sum=$(cat "$mod/go.mod" "$mod/go.sum" | sha256sum | cut -c1-16)
  [[ -x "$out/$1" && -f "$out/.$1.$sum" ]]
}

version=$(awk '$1 == "k8s.io/kubernetes" { print $2; exit }' "$here/kube-apiserver/go.mod")
version=${version#v}

download() {
  local marker="$out/.downloaded.$version"
  if [[ -x "$out/kube-apiserver" && -x "$out/etcd" && -f "$marker" ]]; then
    return 0
  fi
  [[ "${HOOKWARDEN_ENVTEST_DOWNLOAD:-1}" != 0 ]] || return 1
  local tool="$out/.setup-envtest"
  (cd "$here/setup-envtest" && CGO_ENABLED=0 go build -o "$tool" sigs.k8s.io/controller-runtime/tools/setup-envtest) || return 1
  local dir
  if ! dir=$(timeout 300 "$tool" use --print path --bin-dir "$out/.download" "$version" 2>/dev/null) ||
    [[ ! -x "$dir/kube-apiserver" || ! -x "$dir/etcd" ]]; then
    echo "setup-envtest could not download Kubernetes $version; building it from its Go modules instead" >&2
    return 1
  fi
  cp "$dir/kube-apiserver" "$dir/etcd" "$out/"
  rm -f "$out/.etcd."* "$out/.kube-apiserver."* "$out/.downloaded."*
  touch "$marker"
  echo "Downloaded Kubernetes $version's control plane with setup-envtest" >&2
}

if ! { built etcd && built kube-apiserver; } && ! download; then
  build etcd go.etcd.io/etcd/server/v3
  build kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver
fi
echo "$out"
