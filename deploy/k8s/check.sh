#!/bin/sh
# make k8s-check: the Helm chart rendered with representative values (one file per
# deploy/helm/hookline/ci/*.yaml into build/k8s/), linted, every object validated against
# the Kubernetes API schemas (kubernetes-validate --strict; no cluster needed), the
# objects without a schema there (KEDA's ScaledObject and TriggerAuthentication, the
# ServiceMonitor: what it selects, port, path) and the chart's own promises (object counts
# per the values, KEDA's login, network policy ports) checked by check_rendered.py, and the
# configuration documentation test (tests/test_config_docs.py) run on the render.
# The tools come from install-tools.sh (built or installed once, then cached).
set -eu

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CHART=$ROOT/deploy/helm/hookline
OUT=$ROOT/build/k8s
KUBE_VERSION=1.31.0

TOOLS=$(sh "$ROOT/deploy/k8s/install-tools.sh")
HELM=$TOOLS/bin/helm
PY=$TOOLS/venv/bin/python
say() { printf 'k8s-check: %s\n' "$*" >&2; }

rm -rf "$OUT"
mkdir -p "$OUT"
fail=0
for values in "$CHART"/ci/*.yaml; do
    name=$(basename "$values" .yaml)
    say "$name: helm lint"
    "$HELM" lint --strict --kube-version "$KUBE_VERSION" "$CHART" -f "$values" >"$OUT/$name.lint" 2>&1 || { cat "$OUT/$name.lint" >&2; fail=1; continue; }
    "$HELM" template hookline "$CHART" -f "$values" --namespace hookline --kube-version "$KUBE_VERSION" \
        >"$OUT/$name.yaml" 2>"$OUT/$name.err" || { cat "$OUT/$name.err" >&2; fail=1; continue; }
    say "$name: kubernetes-validate --strict (Kubernetes $KUBE_VERSION)"
    "$TOOLS/venv/bin/kubernetes-validate" --strict --quiet -k "$KUBE_VERSION" "$OUT/$name.yaml" \
        >"$OUT/$name.validate" 2>&1 || { cat "$OUT/$name.validate" >&2; fail=1; }
    # Kinds it has no schema for are reported as warnings: check_rendered.py covers them.
    if grep -v "Couldn't find schema for kind \(ScaledObject\|TriggerAuthentication\|ServiceMonitor\) " \
        "$OUT/$name.validate" | grep -q 'WARN\|ERROR'; then
        cat "$OUT/$name.validate" >&2
        fail=1
    fi
    say "$name: structure (object counts, KEDA, ServiceMonitor, network policies, probes, security, drain, PDBs, hooks)"
    "$PY" "$ROOT/deploy/k8s/check_rendered.py" "$OUT/$name.yaml" "$CHART/values.yaml" "$values" || fail=1
done

# Values a chart must refuse: no database, no encryption key.
if "$HELM" template hookline "$CHART" --kube-version "$KUBE_VERSION" >/dev/null 2>"$OUT/defaults.err"; then
    say "the chart rendered without postgresql.url and encryption.key: it must refuse"
    fail=1
fi

# A retry schedule whose delays do not match the retry topics the chart creates.
if "$HELM" template hookline "$CHART" -f "$CHART/ci/minimal-values.yaml" --set topics.retryPasses=3 \
    --kube-version "$KUBE_VERSION" >/dev/null 2>"$OUT/schedule.err"; then
    say "the chart rendered 7 retry delays for 3 retry topics: it must refuse"
    fail=1
fi

say "configuration documented and consistent (README, compose, chart)"
HOOKLINE_K8S_RENDERED=$OUT/sasl-scram-values.yaml "$PY" -m pytest -q -p no:cacheprovider \
    "$ROOT/tests/test_config_docs.py" || fail=1

[ "$fail" -eq 0 ] && say "ok: $(ls "$OUT"/*.yaml | wc -l) renders in $OUT" || say "FAILED"
exit "$fail"
