#!/bin/sh
# Installs the tools `make k8s-check` needs, from package registries only:
#   helm                  built from its Go module (go install helm.sh/helm/v3/cmd/helm@VERSION);
#                         Debian's golang is installed first when there is no `go`
#   kubernetes-validate   from PyPI, in a virtualenv of its own (it brings the Kubernetes
#                         API schemas, so validation needs no cluster and no network),
#                         with PyYAML and pytest for the checks that read the renders
# into $HOOKLINE_K8S_TOOLS (default <repo>/.cache/k8s-tools, never committed).
# Idempotent and quick when both are there; prints the tools dir on stdout.
set -eu

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HELM_VERSION=v3.16.4
KV_VERSION=1.34.1
TOOLS=${HOOKLINE_K8S_TOOLS:-$ROOT/.cache/k8s-tools}

say() { printf 'k8s-tools: %s\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo "$@"
    else say "need root to run: $*"; exit 1
    fi
}

mkdir -p "$TOOLS/bin"

# ---- helm ------------------------------------------------------------------------
# A build from the module proxy has no version stamped in (it says v3.16): a marker says
# which module version the binary was built from.
if [ ! -x "$TOOLS/bin/helm" ] || [ "$(cat "$TOOLS/bin/.helm-version" 2>/dev/null)" != "$HELM_VERSION" ]; then
    GO=$(command -v go || true)
    [ -n "$GO" ] || [ ! -x /usr/local/go/bin/go ] || GO=/usr/local/go/bin/go
    if [ -z "$GO" ]; then
        say "apt-get install golang"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends golang ca-certificates
        GO=$(command -v go)
    fi
    # helm 3.16 needs Go 1.22 or later (Debian 12's golang is 1.19; this machine kind has a
    # newer Go in /usr/local/go).
    case $("$GO" env GOVERSION) in
    go1.1[0-9]* | go1.2[01] | go1.2[01].*)
        say "$("$GO" env GOVERSION) is too old to build helm $HELM_VERSION (needs go1.22+): put a newer go on PATH"
        exit 1
        ;;
    esac
    say "building helm $HELM_VERSION with $($GO version) (a minute or two the first time)"
    GOBIN="$TOOLS/bin" GOFLAGS=-mod=mod CGO_ENABLED=0 "$GO" install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
    echo "$HELM_VERSION" >"$TOOLS/bin/.helm-version"
fi

# ---- kubernetes-validate ---------------------------------------------------------------
if ! "$TOOLS/venv/bin/kubernetes-validate" --version 2>/dev/null | grep -qF "$KV_VERSION" ||
    ! "$TOOLS/venv/bin/python" -c 'import yaml, pytest' 2>/dev/null; then
    say "installing kubernetes-validate $KV_VERSION from PyPI"
    rm -rf "$TOOLS/venv"
    python3 -m venv "$TOOLS/venv" 2>/dev/null || {
        # Debian's python3 needs its venv package for that.
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv
        python3 -m venv "$TOOLS/venv"
    }
    "$TOOLS/venv/bin/pip" install -q "kubernetes-validate==$KV_VERSION" PyYAML pytest
fi
echo "$TOOLS"
