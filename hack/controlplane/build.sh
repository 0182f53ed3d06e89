#!/usr/bin/env bash
# Builds the test control plane (kube-apiserver and etcd) from their Go
# modules into bin/k8s, once, and prints the directory for KUBEBUILDER_ASSETS.
# Each binary is built in its own wrapper module (see the go.mod files beside
# this script) so that their dependency graphs never meet hookwarden's.
# A binary is rebuilt only when its wrapper module changed.
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

build etcd go.etcd.io/etcd/server/v3
build kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver
echo "$out"
