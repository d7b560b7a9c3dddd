#!/bin/sh
# Runs cmocka unit-test binaries from the repo root (`make unit` passes them all),
# shows their output, and closes with one line: `unit: N passed, N failed`.
# Exits non-zero if a test failed or a binary crashed / printed no cmocka summary.
set -u

cd "$(dirname "$0")/.." || exit 1
passed=0
failed=0
broken=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT

for bin in "$@"; do
    case $bin in */*) ;; *) bin=./$bin ;; esac
    printf '==== %s\n' "$bin"
    "$bin" >"$out" 2>&1
    rc=$?
    cat "$out"
    # One binary may run several groups: add up every summary line.
    p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$out" | awk '{n += $1} END {print n + 0}')
    f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$out" | awk '{n += $1} END {print n + 0}')
    passed=$((passed + p))
    failed=$((failed + f))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        # Died without reporting a failure (signal, sanitizer, exit): count the binary.
        printf '==== %s: exited with status %s without a cmocka failure summary\n' "$bin" "$rc"
        broken=$((broken + 1))
    elif ! grep -q '^\[  PASSED  \]\|^\[  FAILED  \]' "$out"; then
        printf '==== %s: printed no cmocka summary\n' "$bin"
        broken=$((broken + 1))
    fi
done

failed=$((failed + broken))
[ "$broken" -eq 0 ] || printf '%s test binar%s crashed or reported nothing (counted as failed)\n' \
    "$broken" "$([ "$broken" -eq 1 ] && echo y || echo ies)"
printf 'unit: %s passed, %s failed\n' "$passed" "$failed"
[ "$failed" -eq 0 ]
