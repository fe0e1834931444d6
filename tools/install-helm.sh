#!/usr/bin/env bash
# Install a pinned helm v3 into a cached folder with the Go toolchain (no prebuilt binary download).
# Usage: tools/install-helm.sh            -> prints the path of the helm binary
# Env:   HELM_VERSION (default below), VOLTSTREAM_TOOLS_DIR (default .cache/tools, relative to the repo)
set -euo pipefail

HELM_VERSION="${HELM_VERSION:-v3.22.0}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS_DIR="${VOLTSTREAM_TOOLS_DIR:-$ROOT/.cache/tools}"
BIN_DIR="$TOOLS_DIR/bin"
HELM="$BIN_DIR/helm"
STAMP="$BIN_DIR/.helm-$HELM_VERSION"

if [[ -x "$HELM" && -f "$STAMP" ]]; then
  echo "$HELM"
  exit 0
fi

command -v go >/dev/null || { echo "go not found: the Go toolchain is needed to build helm $HELM_VERSION" >&2; exit 1; }
echo "==> building helm $HELM_VERSION with go install into $BIN_DIR (once; cached afterwards)" >&2
mkdir -p "$BIN_DIR"
# The ldflags are those of helm's own Makefile: without them helm reports version "v3.x" and
# assumes Kubernetes v1.20 for .Capabilities and kubeVersion checks.
GOMOD="$(go mod download -json "helm.sh/helm/v3@$HELM_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p')"
CLIENT_GO="$(sed -n 's/^[[:space:]]*k8s.io\/client-go v0\.\([0-9]*\)\..*/\1/p' "$GOMOD" | head -n1)"
[[ -n "$CLIENT_GO" ]] || { echo "cannot read the k8s.io/client-go version of helm $HELM_VERSION" >&2; exit 1; }
LDFLAGS="-w -s -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
  LDFLAGS+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$CLIENT_GO"
done
# -trimpath and no VCS stamping keep the build reproducible; CGO off gives a static binary.
CGO_ENABLED=0 GOBIN="$BIN_DIR" GOFLAGS="-buildvcs=false -trimpath" \
  go install -ldflags "$LDFLAGS" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" >&2
rm -f "$BIN_DIR"/.helm-*
touch "$STAMP"
"$HELM" version --short >&2
echo "$HELM"
