#!/usr/bin/env python3
"""The chaos harness: a steady ledger of signed webhooks through a running stack while its
processes are killed and restarted, then an account of what the app received.

    python3 tests/chaos/chaos.py [--duration S] [--rate R] [--faults LIST] [--json FILE]

runs against the stack described by the environment (what `stack.sh env` prints, plus
HOOKLINE_STACK_DIR, HOOKLINE_BIN_DIR and HOOKLINE_PORT_OFFSET), as tests/chaos/run.sh
(`make chaos`) and tests/integration/test_chaos.py (the short version in `make test`) do.

It creates an environment whose webhook URL is a receiver on 127.0.0.1 (it records each
request, then answers), a github-app integration and four connections, then sends
webhooks numbered 0, 1, 2, ..., each once, correctly signed, at a steady rate, recording
each answer, for --duration seconds or until the last fault is over, whichever is later
(at most --duration + 300 s). Meanwhile it runs the faults one after another, spread over
the load; each restores what it broke before the next starts:

    ingress router forwarder syncer   SIGKILL the daemon, start it again (stack.sh)
    kafka-kill                        SIGKILL the broker, start it again
    kafka-term                        SIGTERM the broker (clean shutdown), start it again
    postgres                          stop PostgreSQL (fast shutdown), start it again
    app                               the receiver answers 500 for a while

After the load it waits (bounded) until every acknowledged webhook has been delivered,
then until deliveries stop (late duplicates), and counts: acknowledged (200), answered 503, other (another
status, a connection error, a timeout), delivered (unique, answered 2xx by the app),
lost (acknowledged but never delivered), duplicates (2xx deliveries beyond the first,
by webhook-id and by ledger number) and their ratio to the acknowledged. Exit status 1
when something was lost. Every request goes to 127.0.0.1; the load is bounded in count
and in time.
"""
import argparse
import asyncio
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "tools"))
from receiver import Receiver  # noqa: E402

DAEMONS = ("ingress", "router", "forwarder", "syncer")
FAULTS = DAEMONS + ("app", "postgres", "kafka-kill", "kafka-term")
CONNECTIONS = 4


def log(msg):
    print(f"chaos {time.strftime('%H:%M:%S')}: {msg}", file=sys.stderr, flush=True)


def uid():
    return uuid.uuid4().hex[:12]


# ---- the stack -------------------------------------------------------------------------

class Stack:
    """Control of the stack the environment describes, through deploy/local/stack.sh."""

    def __init__(self, env=None):
        env = os.environ if env is None else env
        self.env = dict(env)
        self.dir = Path(env["HOOKLINE_STACK_DIR"])
        self.bin_dir = Path(env["HOOKLINE_BIN_DIR"])
        self.public_url = env["HOOKLINE_PUBLIC_URL"].rstrip("/")
        u = urlsplit(self.public_url)
        if u.hostname != "127.0.0.1":
            raise SystemExit(f"chaos: HOOKLINE_PUBLIC_URL={self.public_url}: only 127.0.0.1 is allowed")
        self.host, self.port = u.hostname, u.port
        self.admin_ports = {d: env[f"HOOKLINE_STACK_{d.upper()}_ADMIN_PORT"] for d in DAEMONS}

    def sh(self, *args, timeout=180):
        """stack.sh ARGS; output to a file (a daemon started in the background must not
        hold a pipe open). Raises with the output when it fails."""
        with tempfile.TemporaryFile() as out:
            rc = subprocess.run(["sh", str(REPO / "deploy/local/stack.sh"), *args], cwd=REPO, env=self.env,
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                timeout=timeout).returncode
            out.seek(0)
            text = out.read().decode("utf-8", "replace")
        if rc != 0:
            raise RuntimeError(f"stack.sh {' '.join(args)} exited {rc}:\n{text}")

    def cli(self, *args):
        r = subprocess.run([str(self.bin_dir / "hookline"), *args, "--json"], env=self.env,
                           capture_output=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError(f"hookline {' '.join(args)} exited {r.returncode}: {r.stderr.decode()[-500:]}")
        return json.loads(r.stdout)

    def ready(self, daemon):
        import urllib.request
        url = f"http://127.0.0.1:{self.admin_ports[daemon]}/readyz"
        try:
            with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(url, timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def wait_ready(self, timeout=120):
        deadline = time.monotonic() + timeout
        while True:
            waiting = [d for d in DAEMONS if not self.ready(d)]
            if not waiting:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"not ready {timeout} s after a fault: {', '.join(waiting)}")
            time.sleep(0.5)

    def kafka_pid(self):
        return int((self.dir / "kafka.pid").read_text().split()[0])

    def postgres_pid(self):
        data = Path((self.dir / "pg.path").read_text().strip()) / "data"
        return int((data / "postmaster.pid").read_text().split()[0])


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def wait_gone(pid, timeout):
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


# ---- faults ----------------------------------------------------------------------------

class Faults:
    """Each fault breaks one thing and restores it (waiting until every daemon is ready
    again) before it returns. `events` records what happened when, for the summary."""

    def __init__(self, stack, receiver, outage_s=3.0, app_fail_s=6.0):
        self.stack, self.receiver = stack, receiver
        self.outage_s, self.app_fail_s = outage_s, app_fail_s
        self.events = []
        self.t0, self.t0_wall = time.monotonic(), time.time()

    def note(self, what, fault=None):
        self.events.append({"t": round(time.monotonic() - self.t0, 1), "event": what, "fault": fault})
        log(what)

    def run(self, fault):
        self.note(f"fault {fault}", fault)
        if fault in DAEMONS:
            self.note(f"SIGKILL {fault}")
            self.stack.sh("kill", fault)
            self.stack.sh("start", fault)
            self.note(f"{fault} restarted")
        elif fault in ("kafka-kill", "kafka-term"):
            self.broker(signal.SIGKILL if fault == "kafka-kill" else signal.SIGTERM)
        elif fault == "postgres":
            pid = self.stack.postgres_pid()
            self.note(f"PostgreSQL stop (pid {pid})")
            os.kill(pid, signal.SIGINT)   # fast shutdown: open transactions roll back
            if not wait_gone(pid, 60):
                raise RuntimeError("PostgreSQL did not stop within 60 s")
            time.sleep(self.outage_s)
            self.stack.sh("infra")
            self.note("PostgreSQL restarted")
        elif fault == "app":
            self.note(f"the app answers 500 for {self.app_fail_s:g} s")
            self.receiver.status = 500
            time.sleep(self.app_fail_s)
            self.receiver.status = 200
            self.note("the app answers 200 again")
        else:
            raise ValueError(f"unknown fault {fault!r} (one of {', '.join(FAULTS)})")
        self.stack.wait_ready()

    def broker(self, sig):
        pid = self.stack.kafka_pid()
        self.note(f"{signal.Signals(sig).name} the Kafka broker (pid {pid})")
        os.kill(pid, sig)
        if not wait_gone(pid, 60):
            self.note("the broker did not exit within 60 s of SIGTERM: SIGKILL")
            os.kill(pid, signal.SIGKILL)
            wait_gone(pid, 10)
        time.sleep(self.outage_s)
        self.stack.sh("infra")
        self.note("Kafka broker restarted")


# ---- the load --------------------------------------------------------------------------

def github_headers(secret, body):
    return {"Content-Type": "application/json", "X-GitHub-Event": "installation_repositories",
            "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-Hub-Signature-256": "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}


async def post(host, port, path, body, headers, timeout):
    """One POST on a fresh connection (as providers mostly do). Returns the status."""
    async def exchange():
        reader, writer = await asyncio.open_connection(host, port)
        try:
            head = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", f"Content-Length: {len(body)}",
                    "Connection: close", *(f"{k}: {v}" for k, v in headers.items())]
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
            await writer.drain()
            line = await reader.readline()
            parts = line.split()
            if len(parts) < 2 or not parts[1].isdigit():
                raise ConnectionError(f"no HTTP status line: {line[:80]!r}")
            await reader.read(1 << 16)   # the rest (a short JSON); Connection: close ends it
            return int(parts[1])
        finally:
            writer.close()
    return await asyncio.wait_for(exchange(), timeout)


class Ledger:
    """Sends webhooks 0..n-1 once each at `rate` per second from a background thread
    (asyncio, so a slow answer does not slow the rate; at most `max_in_flight` requests
    wait at once), and records each answer: {seq: status} or {seq: "error text"}."""

    def __init__(self, stack, url_path, secret, inst_base, run_id, n, rate, time_limit, max_in_flight=2000):
        self.stack, self.path, self.secret = stack, url_path, secret
        self.inst_base, self.run_id = inst_base, run_id
        self.n, self.rate, self.time_limit, self.max_in_flight = n, rate, time_limit, max_in_flight
        self.stopping = False
        self.answers = {}
        self.sent_at = {}   # seq -> time.monotonic() when sent
        self.latency = {}   # seq -> seconds until answered (or failed)
        self.sent = 0
        self.thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def body(self, seq):
        return (f'{{"action":"added","installation":{{"id":{self.inst_base + seq % CONNECTIONS}}},'
                f'"chaos":{{"run":"{self.run_id}","seq":{seq}}}}}').encode()

    def start(self):
        self.started = time.monotonic()
        self.thread.start()
        return self

    def join(self, timeout):
        self.thread.join(timeout)
        if self.thread.is_alive():
            raise RuntimeError("the sender did not finish in time")
        self.elapsed = time.monotonic() - self.started
        # The sending rate: from the first request to the last (not to the last answer,
        # which may have waited for the broker).
        times = sorted(self.sent_at.values())
        self.rate_achieved = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0

    def done(self):
        return not self.thread.is_alive()

    def stop(self):
        """Send nothing more (the answers still awaited are recorded)."""
        self.stopping = True

    async def _one(self, seq, sem):
        body = self.body(seq)
        try:
            self.answers[seq] = await post(self.stack.host, self.stack.port, self.path, body,
                                           github_headers(self.secret, body), timeout=30)
        except (OSError, asyncio.TimeoutError, ConnectionError) as e:
            self.answers[seq] = f"{type(e).__name__}: {e}"[:200]
        finally:
            self.latency[seq] = time.monotonic() - self.sent_at[seq]
            sem.release()

    async def _run(self):
        loop = asyncio.get_running_loop()
        sem = asyncio.Semaphore(self.max_in_flight)
        t0 = loop.time()
        deadline = t0 + self.time_limit
        tasks = []
        for seq in range(self.n):
            delay = t0 + seq / self.rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if self.stopping or loop.time() > deadline:
                break
            await sem.acquire()
            self.sent_at[seq] = time.monotonic()
            tasks.append(asyncio.create_task(self._one(seq, sem)))
            self.sent += 1
        await asyncio.gather(*tasks)


# ---- the account -----------------------------------------------------------------------

def blame(first_delivered, dups, t0_wall, events):
    """{fault: duplicates}: each duplicated webhook is put down to the fault that began
    nearest to its first delivery (a crash re-delivers what was delivered, or about to
    be, when it struck; the send time would mislead: a backlog is delivered late)."""
    starts = [(e["t"], e["fault"]) for e in events if e.get("fault")]
    out = {}
    for seq, extra in dups.items():
        t = first_delivered[seq] - t0_wall
        name = min(starts, key=lambda e: abs(e[0] - t))[1] if starts else "none"
        out[name] = out.get(name, 0) + extra
    return out


def answered_2xx(delivery):
    return isinstance(delivery.status, int) and 200 <= delivery.status < 300


def ledger_number(delivery):
    """The seq a delivered envelope carries, or None when it is not one of the ledger's."""
    try:
        return json.loads(delivery.body)["payload"]["chaos"]["seq"]
    except (ValueError, KeyError, TypeError):
        return None


def account(ledger, receiver, path):
    """The figures, from the ledger's answers and the receiver's 2xx deliveries."""
    acked = {s for s, a in ledger.answers.items() if a == 200}
    n503 = sum(1 for a in ledger.answers.values() if a == 503)
    ok, failed_attempts, seq_of_id, first = [], 0, {}, {}
    bad = []
    for d in receiver.snapshot():
        if d.path != path:
            continue
        if not answered_2xx(d):
            failed_attempts += 1
            continue
        seq = ledger_number(d)
        if seq is None:
            bad.append(d.body[:200])
            continue
        wid = d.header("webhook-id")
        if seq_of_id.setdefault(wid, seq) != seq:
            bad.append(f"webhook-id {wid} carried seq {seq_of_id[wid]} and {seq}")
        ok.append((seq, wid))
        first.setdefault(seq, d.ts)
    seqs = {s for s, _ in ok}
    ids = {w for _, w in ok}
    lost = sorted(acked - seqs)
    per_seq = {}
    for seq, _ in ok:
        per_seq[seq] = per_seq.get(seq, 0) + 1
    dup_seq, dup_id = len(ok) - len(seqs), len(ok) - len(ids)
    return {
        "sent": len(ledger.answers),
        "acknowledged": len(acked),
        "answered_503": n503,
        "other": len(ledger.answers) - len(acked) - n503,
        "other_examples": sorted({str(a) for a in ledger.answers.values() if a not in (200, 503)})[:5],
        "delivered": len(seqs),
        "delivered_not_acknowledged": len(seqs - acked),
        "lost": len(lost),
        "lost_examples": lost[:20],
        "deliveries_2xx": len(ok),
        "app_failed_attempts": failed_attempts,
        "duplicates_by_webhook_id": dup_id,
        "duplicates_by_ledger": dup_seq,
        "duplicate_ratio": round(dup_seq / len(acked), 4) if acked else 0.0,
        "malformed": bad[:5],
        "duplicated": {seq: k - 1 for seq, k in sorted(per_seq.items()) if k > 1},
        "first_delivered": first,
    }


def wait_drained(ledger, receiver, path, timeout, quiet_s=5.0):
    """Until every acknowledged webhook was delivered (or timeout), then until no delivery
    came for quiet_s (late duplicates), bounded by timeout too."""
    deadline = time.monotonic() + timeout
    acked = {s for s, a in ledger.answers.items() if a == 200}
    got = set()
    seen = 0
    while time.monotonic() < deadline:
        new = receiver.snapshot()[seen:]
        seen += len(new)
        got.update(ledger_number(d) for d in new if d.path == path and answered_2xx(d))
        if acked <= got:
            break
        time.sleep(0.5)
    else:
        log(f"drain: {len(acked - got)} acknowledged webhooks still undelivered after {timeout:g} s")
        return False
    last, count = time.monotonic(), len(receiver.snapshot())
    while time.monotonic() < deadline and time.monotonic() - last < quiet_s:
        time.sleep(0.5)
        now = len(receiver.snapshot())
        if now != count:
            last, count = time.monotonic(), now
    return True


def print_summary(s, out=sys.stdout):
    rows = [
        ("webhooks sent", s["sent"], f"{s['rate_achieved']:.0f}/s; answers took up to "
                                     f"{s['answer_seconds_max']:.1f} s (p99 {s['answer_seconds_p99']:.2f} s)"),
        ("acknowledged (200)", s["acknowledged"], ""),
        ("answered 503", s["answered_503"], ""),
        ("other", s["other"], "; ".join(s["other_examples"])[:120]),
        ("delivered (unique)", s["delivered"], f"{s['delivered_not_acknowledged']} of them not acknowledged"),
        ("LOST", s["lost"], "acknowledged, never delivered: must be 0" +
         (f" (e.g. {s['lost_examples'][:10]})" if s["lost"] else "")),
        ("duplicates by webhook-id", s["duplicates_by_webhook_id"], "2xx deliveries beyond the first"),
        ("duplicates by ledger number", s["duplicates_by_ledger"], ""),
        ("duplicate ratio", f"{100 * s['duplicate_ratio']:.2f}%", "of acknowledged"),
        ("app answered 500", s["app_failed_attempts"], "attempts, retried"),
    ]
    rows += [(f"  near fault {f}", n, "duplicates first delivered closest to it") for f, n in s["duplicates_by_fault"].items()]
    print(f"chaos run {s['run']}: faults {', '.join(s['faults']) or 'none'}", file=out)
    for name, value, note in rows:
        print(f"  {name:<28} {value!s:>8}  {note}", file=out)
    print(f"  summary: {s['json']}", file=out)


# ---- a run -----------------------------------------------------------------------------

def run(stack, duration=60.0, rate=120.0, faults=FAULTS, drain_timeout=240.0, outage_s=3.0, app_fail_s=6.0,
        gap_s=12.0, tail_s=10.0, json_path=None):
    """One chaos run against `stack` (running, every daemon ready). Returns the summary
    dict (also written to json_path when given). Leaves the stack whole: every fault
    restores what it broke.

    Fault i is planned at (i+1)/(k+1) of `duration`, and starts no sooner than gap_s after
    the previous one was restored (12 s: past the consumer session timeout, so that the
    group has settled). The load lasts `duration`, and longer if the faults do (a slow
    broker restart), until tail_s after the last one; never more than duration + 300 s."""
    for f in faults:
        if f not in FAULTS:
            raise ValueError(f"unknown fault {f!r} (one of {', '.join(FAULTS)})")
    run_id = uid()
    receiver = Receiver().start()
    try:
        path = f"/chaos/{run_id}"
        env = stack.cli("env", "create", "--name", f"chaos-{run_id}", "--webhook-url", receiver.url + path)
        secret = f"chaos-{uid()}"
        key = f"github-{run_id}"
        stack.cli("integration", "create", "--env", env["id"], "--key", key, "--provider", "github-app",
                  "--secret", secret)
        inst_base = int.from_bytes(os.urandom(3), "big") * 1000 + 10**9
        for k in range(CONNECTIONS):
            stack.cli("connection", "create", "--env", env["id"], "--integration", key, "--id",
                      f"chaos-{run_id}-{k}", "--config", json.dumps({"installation_id": str(inst_base + k)}))
        limit = duration + 300
        ledger = Ledger(stack, f"/webhook/{env['id']}/{key}", secret, inst_base, run_id, int(limit * rate), rate,
                        time_limit=limit)
        fx = Faults(stack, receiver, outage_s, app_fail_s)
        log(f"run {run_id}: webhooks at {rate:g}/s for {duration:g} s or more to {stack.public_url}; "
            f"faults: {', '.join(faults)}")
        ledger.start()
        restored = fx.t0 - gap_s
        for i, fault in enumerate(faults):
            at = max(fx.t0 + duration * (i + 1) / (len(faults) + 1), restored + gap_s)
            while time.monotonic() < at and not ledger.done():
                time.sleep(0.1)
            fx.run(fault)
            restored = time.monotonic()
        end = max(fx.t0 + duration, restored + tail_s if faults else 0)
        while time.monotonic() < end and not ledger.done():
            time.sleep(0.1)
        ledger.stop()
        ledger.join(timeout=60)
        log(f"load done: {ledger.sent} sent in {ledger.elapsed:.0f} s; waiting for the pipeline to drain")
        drained = wait_drained(ledger, receiver, path, drain_timeout)
        s = account(ledger, receiver, path)
        s.update({"run": run_id, "faults": list(faults), "rate": rate, "duration": duration,
                  "load_seconds": round(ledger.elapsed, 1), "rate_achieved": round(ledger.rate_achieved, 1),
                  "answer_seconds_max": round(max(ledger.latency.values(), default=0), 2),
                  "answer_seconds_p99": round(sorted(ledger.latency.values())[int(0.99 * len(ledger.latency))]
                                              if ledger.latency else 0, 3),
                  "drained": drained, "events": fx.events, "environment": env["id"],
                  "duplicates_by_fault": blame(s.pop("first_delivered"), s["duplicated"], fx.t0_wall, fx.events),
                  "json": str(json_path) if json_path else "-"})
        if json_path:
            Path(json_path).parent.mkdir(parents=True, exist_ok=True)
            Path(json_path).write_text(json.dumps(s, indent=2) + "\n")
        return s
    finally:
        receiver.stop()


def main(argv=None):
    p = argparse.ArgumentParser(description="Webhooks through a stack under faults; counts what was lost "
                                            "and duplicated.")
    p.add_argument("--duration", type=float, default=float(os.environ.get("CHAOS_DURATION", 90)),
                   help="seconds of load at least (default 90; longer while faults last)")
    p.add_argument("--rate", type=float, default=float(os.environ.get("CHAOS_RATE", 120)),
                   help="webhooks per second (default 120)")
    p.add_argument("--faults", default=os.environ.get("CHAOS_FAULTS", ",".join(FAULTS)),
                   help=f"comma-separated, in order (default all: {','.join(FAULTS)}); '' for none")
    p.add_argument("--outage", type=float, default=3.0, help="seconds the broker / PostgreSQL stay down")
    p.add_argument("--app-fail", type=float, default=6.0, help="seconds the app answers 500")
    p.add_argument("--gap", type=float, default=12.0, help="seconds between a fault's end and the next")
    p.add_argument("--drain-timeout", type=float, default=240.0)
    p.add_argument("--json", default=str(REPO / "build" / "chaos" / "summary.json"))
    a = p.parse_args(argv)
    if not (0 < a.duration <= 3600 and 0 < a.rate <= 2000):
        p.error("--duration must be in (0, 3600] and --rate in (0, 2000]")
    faults = [f for f in a.faults.split(",") if f]
    s = run(Stack(), a.duration, a.rate, faults, a.drain_timeout, a.outage, a.app_fail, a.gap, json_path=a.json)
    print_summary(s)
    return 1 if s["lost"] else 0


if __name__ == "__main__":
    sys.exit(main())
