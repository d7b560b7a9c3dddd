#!/usr/bin/env bash
# Mutation check: every planted bug listed in tests/mutants/mutants.txt must make its
# test fail.
#
#   tests/mutants/run.sh [--level unit|fuzz|integration|all] [NAME...]
#
# Default: every mutant (all levels); NAMEs pick some. For each mutant: the working tree
# as it is now (tracked and untracked files git does not ignore) is copied into
# build/mutants/<name>/ with the sanitizer build (build/asan, timestamps kept, so only
# what the patch touches is rebuilt), the patch is applied there, what the test needs is
# built, and the test is run. A failing test kills the mutant; the runner says which
# test(s) failed. A mutant SURVIVES when its test passes, and is BROKEN when the patch
# no longer applies, the scratch tree does not build, or (unit level) the test already
# fails without the bug. Any survivor or broken mutant fails the run.
#
# Needs `make SANITIZE=1 all unit` first (make test and make mutants do it). Integration
# mutants run one at a time, each with its own stack in its scratch tree, on
# HOOKLINE_PORT_OFFSET=$HOOKLINE_MUTANTS_PORT_OFFSET (default: HOOKLINE_PORT_OFFSET + 10,
# i.e. 110 beside the suite's 100). Logs: build/mutants/<name>.log; the scratch tree of
# a killed mutant is removed, that of a survivor or broken one kept for a look.
# The last line is "mutants: N killed, N survived, N broken".
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 2
MANIFEST=${HOOKLINE_MUTANTS_MANIFEST:-tests/mutants/mutants.txt}   # another list: for trying the runner
OUT=build/mutants
OFFSET=${HOOKLINE_MUTANTS_PORT_OFFSET:-$((${HOOKLINE_PORT_OFFSET:-100} + 10))}

level=all
names=()
while [ $# -gt 0 ]; do
    case $1 in
    --level) level=${2:-}; shift 2 || { echo "usage: $0 [--level unit|fuzz|integration|all] [NAME...]" >&2; exit 2; } ;;
    -h | --help) sed -n '2,21p' "$0"; exit 0 ;;
    -*) echo "usage: $0 [--level unit|fuzz|integration|all] [NAME...]" >&2; exit 2 ;;
    *) names+=("$1"); shift ;;
    esac
done
case $level in unit | fuzz | integration | all) ;; *) echo "$0: unknown level $level" >&2; exit 2 ;; esac
if [ ! -d build/asan/obj ]; then
    echo "mutants: no sanitizer build in build/asan; run make SANITIZE=1 all unit first" >&2
    exit 2
fi
mkdir -p "$OUT"

killed=0 survived=0 broken=0
summary=()
declare -A baseline=()   # unit test binary -> "pass" or "fail" without any mutant

note() { summary+=("$(printf '%-20s %-11s %s' "$1" "$2" "$3")"); printf '== %s: %s\n' "$1" "$3"; }

# Copies the working tree and the sanitizer build into $1, modification times kept.
# (The patch is applied with `git apply` outside any repository: GIT_CEILING_DIRECTORIES
# keeps git from finding this one above the scratch tree, so paths are the tree's;
# --ignore-whitespace, so that re-running `make format` never breaks a patch.)
scratch_copy() {
    local dir=$1
    rm -rf "$dir" && mkdir -p "$dir/build" || return 1
    if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        git ls-files -z -co --exclude-standard |
            while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
            tar --null -T - -cf - | tar -xf - -C "$dir" || return 1
    else # a tree without git (an archive): everything but build output and stacks
        tar --exclude=./build --exclude='./.stack*' --exclude=./.cache -cf - . | tar -xf - -C "$dir" || return 1
    fi
    cp -a build/asan "$dir/build/" || return 1
    rm -rf "$dir/build/asan/tests"   # test binaries are linked afresh against the mutant
}

# Names on stdin (one a line) as one line: the first five, then how many more.
names_line() {
    sort -u | awk '{ n++; if (n <= 5) s = s (n > 1 ? " " : "") $0 } END { if (n > 5) s = s " (+" n - 5 " more)"; print s }'
}

# Failed test names in a cmocka log.
cmocka_failures() {
    sed -n 's/^\[  FAILED  \] \([^ ]*\)$/\1/p' "$1" | names_line
}

run_unit() { # name test dir log
    local bin=build/asan/tests/$2
    if [ -z "${baseline[$2]:-}" ]; then
        # The test must pass without the bug, or its failure proves nothing.
        if make -s SANITIZE=1 "$bin" >>"$4" 2>&1 && "./$bin" >>"$4.baseline" 2>&1; then
            baseline[$2]=pass
        else
            baseline[$2]=fail
        fi
    fi
    if [ "${baseline[$2]}" != pass ]; then
        note "$1" BROKEN "$2 fails without the mutant (see $4.baseline)"
        return 2
    fi
    if ! (cd "$3" && make -s SANITIZE=1 "$bin") >>"$4" 2>&1; then
        note "$1" BROKEN "does not build (see $4)"
        return 2
    fi
    (cd "$3" && "./$bin") >>"$4" 2>&1
    local rc=$?
    [ "$rc" -ne 0 ] || return 1
    local failed
    failed=$(cmocka_failures "$4")
    note "$1" killed "by $2: ${failed:-crashed (exit $rc)}"
}

run_fuzz() { # name target dir log
    (cd "$3" && bash tests/fuzz/run.sh 1) >>"$4" 2>&1
    if grep -q "^== $2: FAILED to build" "$4"; then
        note "$1" BROKEN "$2 does not build (see $4)"
        return 2
    fi
    grep -q "^== $2: FAILED" "$4" || return 1
    note "$1" killed "by $2 (seed corpus: $(grep -m1 -o 'deadly signal\|runtime error\|ERROR: [A-Za-z]*Sanitizer[^)]*' "$4" || echo crash))"
}

run_integration() { # name args dir log
    local args=$2 dir=$3 log=$4
    if ! (cd "$dir" && make -s SANITIZE=1 all) >>"$log" 2>&1; then
        note "$1" BROKEN "does not build (see $log)"
        return 2
    fi
    # shellcheck disable=SC2086 # the manifest's pytest arguments, split on blanks
    (cd "$dir" && HOOKLINE_PORT_OFFSET=$OFFSET HOOKLINE_CACHE_DIR="$ROOT/.cache" sh tests/run-integration.sh $args) \
        >>"$log" 2>&1
    local rc=$?
    HOOKLINE_STACK_DIR="$dir/.stack-test" HOOKLINE_PORT_OFFSET=$OFFSET sh "$dir/deploy/local/stack.sh" down --purge \
        >>"$log" 2>&1
    [ "$rc" -ne 0 ] || return 1
    local failed
    failed=$(sed -n 's/^\(FAILED\|ERROR\) [^:]*::\([^ ]*\).*/\2/p' "$log" | names_line)
    grep -q '^integration: sanitizer report' "$log" && failed="${failed:+$failed, }a sanitizer report"
    if [ -z "$failed" ]; then
        note "$1" BROKEN "run-integration.sh exited $rc without a failed test (see $log)"
        return 2
    fi
    note "$1" killed "by $failed"
}

found=0
while read -r name lvl patch test; do
    case $name in '' | '#'*) continue ;; esac
    [ "$level" = all ] || [ "$level" = "$lvl" ] || continue
    if [ ${#names[@]} -gt 0 ]; then
        want=0
        for n in "${names[@]}"; do [ "$n" = "$name" ] && want=1; done
        [ "$want" -eq 1 ] || continue
    fi
    found=$((found + 1))
    dir=$OUT/$name log=$OUT/$name.log
    rm -f "$log" "$log.baseline"
    printf '== %s (%s): %s\n' "$name" "$lvl" "$(head -n 1 "tests/mutants/$patch" 2>/dev/null)"
    started=$(date +%s)
    if [ ! -f "tests/mutants/$patch" ] || [ -z "$test" ]; then
        note "$name" BROKEN "no patch tests/mutants/$patch or no test in $MANIFEST"
        rc=2
    elif ! scratch_copy "$dir" >>"$log" 2>&1; then
        note "$name" BROKEN "could not copy the tree into $dir (see $log)"
        rc=2
    elif ! (cd "$dir" && GIT_CEILING_DIRECTORIES="$ROOT/$OUT" git apply --ignore-whitespace -p1 -) <"tests/mutants/$patch" >>"$log" 2>&1; then
        note "$name" BROKEN "the patch no longer applies (see $log): update tests/mutants/$patch"
        rc=2
    else
        case $lvl in
        unit) run_unit "$name" "$test" "$dir" "$log" ;;
        fuzz) run_fuzz "$name" "$test" "$dir" "$log" ;;
        integration) run_integration "$name" "$test" "$dir" "$log" ;;
        *) note "$name" BROKEN "unknown level $lvl in $MANIFEST"; false ;;
        esac
        rc=$?
    fi
    case $rc in
    0) killed=$((killed + 1)); rm -rf "$dir" ;;
    1) survived=$((survived + 1)); note "$name" SURVIVED "$test passed with the bug in: $(head -n 1 "tests/mutants/$patch")" ;;
    *) broken=$((broken + 1)) ;;
    esac
    echo "   ($(($(date +%s) - started)) s; log $log)"
done <"$MANIFEST"

if [ "$found" -eq 0 ]; then
    echo "mutants: none matched (level $level${names[*]:+, names ${names[*]}})" >&2
    exit 2
fi
echo
echo "---- mutants ($level) ----"
printf '%s\n' "${summary[@]}"
echo "mutants: $killed killed, $survived survived, $broken broken"
[ "$survived" -eq 0 ] && [ "$broken" -eq 0 ]
