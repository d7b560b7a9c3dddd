#!/usr/bin/env bash
# Builds the libFuzzer targets in tests/fuzz/ into build/fuzz/ and runs each one.
#
#   tests/fuzz/run.sh [seconds]     seconds per target, default 20
#
# Each target starts from its seed corpus tests/fuzz/corpus/<target>/, which is
# copied into build/fuzz/corpus/<target>/ (what the fuzzer grows), so the repository's
# corpus is never written to. Crash inputs land in build/fuzz/artifacts/<target>/;
# replay one with: build/fuzz/<target> <file>. Exits non-zero when a target fails to
# build or crashes; the last line is "fuzz: N passed, N failed".
# Needs clang with libFuzzer (Debian: apt-get install libclang-rt-14-dev).
set -u
cd "$(dirname "$0")/../.." || exit 2

SECONDS_PER_TARGET=${1:-20}
if ! [[ $SECONDS_PER_TARGET =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: tests/fuzz/run.sh [seconds]" >&2
    exit 2
fi

CC=${CC_FUZZ:-clang}
OUT=build/fuzz
PKGS=(rdkafka libmicrohttpd jansson libpq libcrypto libcurl)
CFLAGS="-std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I."

# Sources each target needs besides its harness. The providers need the remote key
# store (published keys; never started in a fuzz run, so nothing is fetched).
REMOTE_KEYS="common/remote_keys.c common/outbound.c common/ssrf.c common/metrics.c common/clock.c"
PROVIDER_DEPS="common/crypto.c common/json_depth.c common/json_scan.c common/log.c $REMOTE_KEYS"
declare -A SOURCES=(
    [fuzz_provider]="$(echo providers/*.c) $PROVIDER_DEPS"
    [fuzz_signed_mutation]="$(echo providers/*.c) $PROVIDER_DEPS"
    [fuzz_jwt]="providers/jwt.c providers/pubkey.c common/crypto.c"
    [fuzz_envelope]="common/envelope.c common/crypto.c"
    [fuzz_ingress]="ingress/request.c $(echo providers/*.c) $PROVIDER_DEPS common/ids.c common/ident.c common/config.c"
    [fuzz_form_sig]="$(echo providers/*.c) $PROVIDER_DEPS"
    [fuzz_routed]="forwarder/request.c common/envelope.c common/msg.c common/ident.c common/ids.c common/quarantine.c common/crypto.c common/log.c common/clock.c common/traceparent.c"
    [fuzz_traceparent]="common/traceparent.c"
    [fuzz_json_scan]="common/json_scan.c"
)
TARGETS="fuzz_provider fuzz_signed_mutation fuzz_form_sig fuzz_envelope fuzz_ingress fuzz_routed fuzz_jwt fuzz_traceparent fuzz_json_scan"

if ! PKG_CFLAGS=$(pkg-config --cflags "${PKGS[@]}") || ! PKG_LIBS=$(pkg-config --libs "${PKGS[@]}"); then
    echo "fuzz: pkg-config cannot find the libraries (${PKGS[*]}); run make deps" >&2
    echo "fuzz: 0 passed, $(wc -w <<<"$TARGETS") failed"
    exit 1
fi
mkdir -p "$OUT"

# libFuzzer ships separately from clang on Debian: check before building anything.
echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }' >"$OUT/probe.c"
if ! "$CC" -fsanitize=fuzzer,address,undefined "$OUT/probe.c" -o "$OUT/probe" 2>"$OUT/probe.log"; then
    cat "$OUT/probe.log" >&2
    echo "fuzz: $CC cannot link libFuzzer; install it: apt-get install libclang-rt-14-dev" >&2
    echo "fuzz: 0 passed, $(wc -w <<<"$TARGETS") failed"
    exit 1
fi
rm -f "$OUT/probe" "$OUT/probe.c" "$OUT/probe.log"

passed=0
failed=0
for t in $TARGETS; do
    echo "== $t: build"
    # shellcheck disable=SC2086 # word splitting of flag and source lists is intended
    if ! "$CC" $CFLAGS $PKG_CFLAGS "tests/fuzz/$t.c" ${SOURCES[$t]} -o "$OUT/$t" $PKG_LIBS -lpthread -lm; then
        echo "== $t: FAILED to build"
        failed=$((failed + 1))
        continue
    fi
    corpus="$OUT/corpus/$t"
    artifacts="$OUT/artifacts/$t/"
    mkdir -p "$corpus" "$artifacts"
    if [ -d "tests/fuzz/corpus/$t" ]; then
        cp -r "tests/fuzz/corpus/$t/." "$corpus/"
    fi
    before=$(find "$corpus" -type f | wc -l)
    echo "== $t: run ${SECONDS_PER_TARGET}s on $corpus ($before inputs)"
    log="$OUT/$t.log"
    if "$OUT/$t" -max_total_time="$SECONDS_PER_TARGET" -max_len=65536 -timeout=10 -print_final_stats=1 \
        -artifact_prefix="$artifacts" "$corpus" >"$log" 2>&1; then
        grep -E '^(Done|#[0-9]+.*(DONE|INITED))' "$log" | tail -n 2
        after=$(find "$corpus" -type f | wc -l)
        # Coverage the run found: new inputs kept in build/fuzz/corpus/<target>/ (a nightly
        # run's growth is what to merge back into the seeds; see tests/README.md).
        echo "== $t: corpus $before -> $after inputs, $(grep -oE 'cov: [0-9]+' "$log" | tail -n 1)"
        echo "== $t: passed"
        passed=$((passed + 1))
    else
        # The sanitizer or abort() report with its stack, and the crash input's path.
        awk '/==[0-9]+==ERROR|runtime error|deadly signal/ { p = 1 } p' "$log" | head -n 60 | grep . ||
            tail -n 30 "$log"
        echo "== $t: FAILED (full log: $log)"
        failed=$((failed + 1))
    fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
