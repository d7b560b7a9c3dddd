#!/bin/sh
# Fetches librdkafka 2.6.1 into DIR (as DIR/librdkafka.so.1), for clients that must use
# SCRAM against Kafka 4 brokers.
#
# Debian 12's librdkafka (2.0.2) repeats the client nonce in SCRAM's final message, which
# Kafka 4 brokers reject (librdkafka issue 4895, fixed in 2.6.1). librdkafka keeps its ABI,
# so the binaries built against Debian's headers run with the newer library when
# LD_LIBRARY_PATH names DIR (`hookline version` shows which one is loaded). It is the
# library Confluent ships inside its Python client's wheel on PyPI (statically linked,
# needing only libc), fetched by exact version and checked against its SHA-256; it is
# never committed. Used by install-deps.sh (the secure stack's tests) and the Docker
# image. x86-64 only: elsewhere it says so and does nothing. Idempotent.
#
#   fetch-librdkafka.sh DIR
set -eu

DIR=${1:?usage: fetch-librdkafka.sh DIR}
VERSION=2.6.1
WHEEL=confluent_kafka-$VERSION-cp311-cp311-manylinux_2_28_x86_64.whl
SHA256=15af5ae70c9376aba62462f20dbc846364a41f6ae4071baac36a3adb44ec29bb

say() { printf 'librdkafka: %s\n' "$*" >&2; }

[ -s "$DIR/librdkafka.so.1" ] && exit 0
if [ "$(uname -m)" != x86_64 ]; then
    say "no $VERSION build for $(uname -m): clients keep the system librdkafka (SCRAM needs >= 2.6.1)"
    exit 0
fi
say "fetching $VERSION (for SCRAM against Kafka 4) into $DIR"
tmp=$DIR.tmp.$$
rm -rf "$tmp"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download -q --no-deps --only-binary=:all: --platform manylinux_2_28_x86_64 \
    --python-version 3.11 --implementation cp --abi cp311 -d "$tmp" "confluent-kafka==$VERSION" >&2
echo "$SHA256  $tmp/$WHEEL" | sha256sum -c --quiet -
python3 - "$tmp/$WHEEL" "$tmp/librdkafka.so.1" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    [name] = [n for n in z.namelist() if n.startswith("confluent_kafka.libs/librdkafka-")]
    with z.open(name) as src, open(sys.argv[2], "wb") as dst:
        dst.write(src.read())
PY
rm -f "$tmp/$WHEEL"
rm -rf "$DIR"
mv "$tmp" "$DIR"
trap - EXIT
