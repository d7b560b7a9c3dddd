"""Every daemon's admin port: health, readiness, Prometheus metrics."""
import random
import re

import pytest

from hlsupport import DAEMONS, get, github_body, post, uid


@pytest.mark.parametrize("daemon", DAEMONS)
def test_health_readiness_and_metrics(stack, daemon):
    for path in ("/healthz", "/readyz"):
        r = get(stack.admin_url(daemon, path))
        assert r.status_code == 200, f"{daemon} {path} answered {r.status_code} {r.text[:200]!r}"
    r = get(stack.admin_url(daemon, "/metrics"))
    assert r.status_code == 200, f"{daemon} /metrics answered {r.status_code}"
    assert r.headers.get("Content-Type", "").startswith("text/plain"), r.headers.get("Content-Type")
    assert any(line.startswith("hookline_") for line in r.text.splitlines()), \
        f"{daemon} /metrics has no hookline_ sample:\n{r.text[:500]}"


@pytest.mark.parametrize("daemon", DAEMONS)
def test_unknown_admin_path_is_404(stack, daemon):
    r = get(stack.admin_url(daemon, "/no-such-page"))
    assert r.status_code == 404, f"{daemon} /no-such-page answered {r.status_code}"


def ingress_samples(stack):
    """{(name, labels): value} of the ingress's /metrics."""
    r = get(stack.admin_url("ingress", "/metrics"))
    assert r.status_code == 200, r.status_code
    return {(m.group(1), m.group(2) or ""): float(m.group(3))
            for m in re.finditer(r"^(hookline_ingress_[a-z_]+)(?:\{([^}]*)\})? (\S+)$", r.text, re.M)}


def moved(before, after):
    """The samples that changed, with their change."""
    return {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}


def refused(reason):
    return ("hookline_ingress_refused_total", f'reason="{reason}"')


PRODUCED = ("hookline_ingress_produce_seconds_count", "")


def test_ingress_counts_refusals_by_reason_and_produce_latency(github, stack):
    """A forged signature and an unknown target each move their own reason's counter and
    nothing else's; an accepted webhook adds a produce-latency observation and no refusal."""
    inst = random.randint(10**6, 10**9)
    github.connect({"installation_id": str(inst)})
    body = github_body(inst, attempt="metrics")

    before = ingress_samples(stack)
    forged = post(github.url, body, {**github.sign(body), "X-Hub-Signature-256": "sha256=" + "0" * 64})
    assert forged.status_code == 401, forged.text
    change = moved(before, ingress_samples(stack))
    assert change.get(refused("bad_signature")) == 1, change
    assert not {k for k in change if k[0] == "hookline_ingress_refused_total"} - {refused("bad_signature")}, change
    assert PRODUCED not in change, change

    before = ingress_samples(stack)
    unknown = post(f"{stack.public_url}/webhook/{github.env['id']}/no-such-{uid()}", body, github.sign(body))
    assert unknown.status_code == 404, unknown.text
    change = moved(before, ingress_samples(stack))
    assert change.get(refused("unknown_target")) == 1, change
    assert not {k for k in change if k[0] == "hookline_ingress_refused_total"} - {refused("unknown_target")}, change

    before = ingress_samples(stack)
    github.send(body)                      # 200: Kafka acknowledged it
    change = moved(before, ingress_samples(stack))
    assert change.get(PRODUCED, 0) >= 1, change
    assert not {k for k in change if k[0] == "hookline_ingress_refused_total"}, change
    # Every refusal reason is exposed from the start (a dashboard sees zeros, not gaps).
    reasons = {k[1] for k in before if k[0] == "hookline_ingress_refused_total"}
    assert {'reason="bad_signature"', 'reason="unknown_target"', 'reason="kafka_unavailable"'} <= reasons, reasons
