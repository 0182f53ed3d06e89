#!/usr/bin/env bash
# Fetches the npm packages that tests use as independent references into a
# git-ignored cache: GitHub's OpenAPI description, GitHub's example webhook
# payloads, and Octokit's signing implementation; and Octokit's webhooks
# middleware, which `make bench` compares the receiver against. Only the files
# the tests read are kept. Idempotent: a complete cache is reused.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cache="${NPM_CACHE_DIR:-$root/.cache/npm}"
stamp="$cache/.complete-v2"

OPENAPI_VERSION=23.0.2
EXAMPLES_VERSION=7.6.1
METHODS_VERSION=6.0.0
WEBHOOKS_VERSION=14.2.0

if [[ -f "$stamp" ]]; then
  echo "$cache"
  exit 0
fi

rm -rf "$cache"
mkdir -p "$cache"
cd "$cache"
echo '{"name":"hookwarden-test-fixtures","private":true,"type":"module"}' > package.json
npm install --no-audit --no-fund --no-package-lock --loglevel=error \
  "@octokit/openapi@${OPENAPI_VERSION}" \
  "@octokit/webhooks-examples@${EXAMPLES_VERSION}" \
  "@octokit/webhooks-methods@${METHODS_VERSION}" \
  "@octokit/webhooks@${WEBHOOKS_VERSION}" >&2

# @octokit/openapi ships many variants of the description; only
# api.github.com.json is used.
openapi="node_modules/@octokit/openapi"
find "$openapi/generated" -type f ! -name 'api.github.com.json' -delete
test -s "$openapi/generated/api.github.com.json"
test -s node_modules/@octokit/webhooks-examples/api.github.com/index.json
test -s node_modules/@octokit/webhooks/package.json
touch "$stamp"
echo "$cache"
