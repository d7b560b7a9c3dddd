"""The chaos harness's short version (`make chaos` runs the long one on a stack of its
own): 30 s of signed webhooks at 120/s through the suite's stack while the router and the
forwarder are SIGKILLed and restarted and the broker is SIGKILLed and started again.
Nothing answered 200 may be lost. Every fault restores what it broke (the broker too)
and waits for every daemon to be ready before the next, so the tests after this one
find a whole stack. The app's 500s are left to `make chaos`: with the suite's short
retry schedule (1s,1s) a few seconds of failures would dead-letter webhooks."""
import os
import sys

from hlsupport import REPO

sys.path.insert(0, str(REPO / "tests" / "chaos"))
import chaos  # noqa: E402

FAULTS = ("router", "forwarder", "kafka-kill")


def test_chaos_short_loses_nothing(stack):
    s = chaos.run(chaos.Stack(os.environ), duration=30, rate=120, faults=FAULTS, drain_timeout=180, gap_s=6,
                  tail_s=5, json_path=REPO / "build" / "chaos" / "test-summary.json")
    chaos.print_summary(s)
    assert s["acknowledged"] > 0, f"no webhook was acknowledged: {s['other_examples']}"
    assert s["lost"] == 0, (f"{s['lost']} webhooks answered 200 were never delivered, e.g. "
                            f"{s['lost_examples']}; faults: {s['events']}")
    assert not s["malformed"], f"deliveries that are not the ledger's webhooks: {s['malformed']}"
