#!/bin/sh
# What `make bench` needs beyond the project's own dependencies (deploy/local/install-deps.sh):
# wrk (the closed-loop HTTP load), perf (the profiles), the libmicrohttpd headers for
# the trivial responder (bench/responder.c) and ps (PostgreSQL's backends, for their CPU). Debian 12 packages; apt is touched only when
# one is missing.
set -eu

say() { printf 'bench deps: %s\n' "$*" >&2; }
as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo "$@"
    else say "need root to run: $*"; exit 1
    fi
}

missing=
command -v wrk >/dev/null 2>&1 || missing="$missing wrk"
command -v perf >/dev/null 2>&1 || missing="$missing linux-perf"
command -v ps >/dev/null 2>&1 || missing="$missing procps"
dpkg-query -W -f='${Status}' libmicrohttpd-dev 2>/dev/null | grep -q 'ok installed' || missing="$missing libmicrohttpd-dev"
[ -n "$missing" ] || exit 0
say "apt-get install$missing"
as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
# shellcheck disable=SC2086  # one argument per package
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
