"""W3C trace context: a webhook is one trace from the provider's request to the app and
to the sync job it starts. The ingress continues a valid incoming `traceparent` (or
starts a trace), every hop keeps the trace id and names its own span, and the app and
the sync runner receive a `traceparent` header an OpenTelemetry user can follow."""
import random
import re

from hlsupport import github_body, headers_of, topic, topic_tool, wait_until
from test_syncer import Syncs, runner  # noqa: F401 (runner is a fixture)

TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
INCOMING_TRACE = "0af7651916cd43dd8448eb211c80319c"
INCOMING_PARENT = "b7ad6b7169203331"


def parse(value):
    """(trace id, parent id, flags) of a valid version 00 value; fails the test otherwise."""
    m = TRACEPARENT.match(value or "")
    assert m, f"not a valid traceparent: {value!r}"
    trace, parent, flags = m.groups()
    assert trace != "0" * 32 and parent != "0" * 16, f"all-zero id in {value!r}"
    return trace, parent, flags


def send_traced(github, traceparent=None):
    """Sends a webhook for a new connection (with `traceparent` when given); returns
    (its delivery to the app, its webhook id)."""
    inst = random.randint(10**6, 10**9)
    github.connect({"installation_id": str(inst)})
    body = github_body(inst)
    headers = github.sign(body)
    if traceparent is not None:
        headers["traceparent"] = traceparent
    wid = github.send(body, headers).headers["X-Hookline-Webhook-Id"]
    [d] = github.wait_payload(body)
    return d, wid


def test_the_app_gets_the_incoming_trace_with_a_new_parent(github):
    d, wid = send_traced(github, f"00-{INCOMING_TRACE}-{INCOMING_PARENT}-01")
    trace, parent, flags = parse(d.header("traceparent"))
    assert trace == INCOMING_TRACE, f"the app is not in the provider's trace: {d.header('traceparent')}"
    assert parent != INCOMING_PARENT, "the provider's span was passed on as hookline's own"
    assert flags == "01", "the sampled flag was lost"
    assert len([v for k, v in d.header_items if k.lower() == "traceparent"]) == 1, d.header_items

    # The raw message carries the ingress's span of the same trace, not the provider's.
    [raw] = [m for m in topic_tool("dump", topic("raw")) if headers_of(m).get("hl.webhook-id") == wid]
    raw_trace, raw_parent, _ = parse(headers_of(raw).get("hl.traceparent"))
    assert raw_trace == INCOMING_TRACE and raw_parent not in (INCOMING_PARENT, parent)


def test_a_webhook_without_or_with_a_bad_traceparent_starts_a_fresh_trace(github):
    d1, _ = send_traced(github)
    d2, _ = send_traced(github)
    bad = f"ff-{INCOMING_TRACE}-{INCOMING_PARENT}-01"  # version ff is invalid
    d3, _ = send_traced(github, bad)
    traces = [parse(d.header("traceparent"))[0] for d in (d1, d2, d3)]
    assert len(set(traces)) == 3, f"webhooks share a trace: {traces}"
    assert INCOMING_TRACE not in traces, "an invalid traceparent was continued"


def test_the_sync_job_is_a_span_of_the_webhook_trace(cli, github, runner):  # noqa: F811
    syncs = Syncs(cli, github, runner)
    syncs.create("*")
    inst, _ = syncs.connect()
    body = github_body(inst)
    headers = github.sign(body, event="issues")
    headers["traceparent"] = f"00-{INCOMING_TRACE}-{INCOMING_PARENT}-01"
    wid = github.send(body, headers).headers["X-Hookline-Webhook-Id"]
    [d] = github.wait_payload(body)
    app_trace, app_parent, _ = parse(d.header("traceparent"))
    [job] = wait_until(lambda: [j for j in runner.jobs() if j.json().get("webhookId") == wid] or None, 60,
                       "the sync job", runner.jobs)
    trace, parent, _ = parse(job.header("traceparent"))
    assert trace == INCOMING_TRACE == app_trace, (job.header("traceparent"), d.header("traceparent"))
    assert parent not in (INCOMING_PARENT, app_parent), "the sync job has no span of its own"
