#!/bin/sh
# Installs what hookline needs to build, test and run its local stack on Debian 12:
# the C libraries, PostgreSQL, a JDK >= 17, Maven, pytest + requests, the API tests' modules
# (openapi-spec-validator, Playwright driving Debian's chromium), and the Apache Kafka broker
# jars (fetched from Maven Central into the cache dir, never committed).
#
# Idempotent and cheap when everything is present (`make test` runs it every time):
# apt is only touched when a package is missing, Maven only when the jars are.
#
# Also a newer librdkafka runtime (deploy/local/fetch-librdkafka.sh).
#
#   HOOKLINE_CACHE_DIR   where the broker jars and that library go (default <repo>/.cache)
set -eu

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
KAFKA_VERSION=4.1.1
KAFKA_CACHE=${HOOKLINE_CACHE_DIR:-$ROOT/.cache}/kafka-$KAFKA_VERSION
POM=$ROOT/deploy/kafka/pom.xml

PACKAGES="build-essential pkg-config librdkafka-dev libmicrohttpd-dev libjansson-dev
libpq-dev libssl-dev libcurl4-openssl-dev libcmocka-dev postgresql maven curl python3
clang libclang-rt-14-dev clang-format openssl nghttp2-server chromium"

say() { printf 'deps: %s\n' "$*" >&2; }

# Runs a command as root (sudo when we are not root and it is there).
as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo "$@"
    else say "need root to run: $*"; exit 1
    fi
}

APT_UPDATED=
apt_install() {
    if [ -z "$APT_UPDATED" ]; then
        say "apt-get update"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        APT_UPDATED=1
    fi
    say "apt-get install $*"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

# Major version of the `java` on PATH, 0 when there is none (1.8 counts as 1).
java_major() {
    command -v java >/dev/null 2>&1 || { echo 0; return; }
    v=$(java -version 2>&1 | sed -n 's/.* version "\([0-9]*\).*/\1/p' | head -n 1)
    echo "${v:-0}"
}

# ---- Debian packages ---------------------------------------------------------
missing=
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"
done
# Any JDK/JRE >= 17 already on PATH will do; otherwise Debian 12's 17.
[ "$(java_major)" -ge 17 ] || missing="$missing openjdk-17-jre-headless"
if [ -n "$missing" ]; then
    # shellcheck disable=SC2086  # one argument per package
    apt_install $missing
fi

# ---- Python test modules ---------------------------------------------------------
# pytest runs the integration suite, which talks HTTP with requests. pip first (the
# python3 on PATH may not be Debian's); Debian's own python3 refuses plain pip installs
# (PEP 668), so fall back to its packages.
# The API tests validate the OpenAPI document with openapi-spec-validator and drive the
# console in Debian's chromium with Playwright (its own browser download is never used).
for spec in pytest:pytest requests:requests openapi_spec_validator:openapi-spec-validator \
    playwright:playwright; do
    mod=${spec%%:*} pkg=${spec#*:}
    python3 -c "import $mod" >/dev/null 2>&1 && continue
    say "installing python module $pkg"
    python3 -m pip install -q "$pkg" 2>/dev/null ||
        python3 -m pip install -q --break-system-packages "$pkg" 2>/dev/null ||
        apt_install "python3-$pkg"
    python3 -c "import $mod" >/dev/null 2>&1 || { say "$mod still missing for $(command -v python3)"; exit 1; }
done

# ---- Kafka broker jars ---------------------------------------------------------
# The marker holds the pom's checksum: editing the pom (a version bump) refetches.
want=$(cksum <"$POM")
if [ "$(cat "$KAFKA_CACHE/.complete" 2>/dev/null)" != "$want" ]; then
    say "fetching Kafka $KAFKA_VERSION jars into $KAFKA_CACHE"
    tmp=$KAFKA_CACHE.tmp.$$
    rm -rf "$tmp"
    mkdir -p "$(dirname "$KAFKA_CACHE")"
    trap 'rm -rf "$tmp" "$tmp.log"' EXIT
    # Fill a temp dir and rename it, so an interrupted fetch never looks complete.
    # Maven's output is shown only when it fails (-q still prints colour codes).
    if ! (cd "$ROOT/deploy/kafka" && mvn -q -B dependency:copy-dependencies \
        -DincludeScope=runtime -DoutputDirectory="$tmp") >"$tmp.log" 2>&1; then
        cat "$tmp.log" >&2
        exit 1
    fi
    rm -f "$tmp.log"
    ls "$tmp"/kafka_2.13-"$KAFKA_VERSION".jar >/dev/null
    printf '%s\n' "$want" >"$tmp/.complete"
    rm -rf "$KAFKA_CACHE"
    mv "$tmp" "$KAFKA_CACHE"
    trap - EXIT
fi
# ---- librdkafka for SCRAM ---------------------------------------------------------
# A newer librdkafka runtime next to Debian's (see fetch-librdkafka.sh for why).
sh "$ROOT/deploy/local/fetch-librdkafka.sh" "${HOOKLINE_CACHE_DIR:-$ROOT/.cache}/librdkafka-2.6.1"
say "ok"
