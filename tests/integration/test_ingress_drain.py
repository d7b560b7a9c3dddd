"""SIGTERM under keep-alive load: the ingress answers what arrives on open connections
503 with Connection: close, resumes every request still waiting for Kafka before it
stops HTTP (libmicrohttpd 0.9.75 aborts when stopped with a suspended connection), and
exits 0; every webhook it answered 200 is in webhooks.raw."""
import http.client
import json
import os
import random
import subprocess
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from hlsupport import github_body, wait_until
from test_abuse import Ingress


def raw_webhook_ids():
    tool = Path(os.environ["HOOKLINE_BIN_DIR"]).parent / "tools" / "hookline-topic-tool"
    topic = os.environ.get("HOOKLINE_TOPIC_RAW", "webhooks.raw")
    r = subprocess.run([str(tool), "dump", topic], capture_output=True, timeout=120)
    assert r.returncode == 0, f"topic tool dump {topic}: {r.stderr.decode(errors='replace')}"
    ids = set()
    for line in r.stdout.decode().split("\n"):   # not splitlines(): values may hold U+2028
        if line.strip():   # a header is [name, value], or [name, base64, "b64"] when not UTF-8
            ids.update(h[1] for h in json.loads(line)["headers"] if h[0] == "hl.webhook-id")
    return ids


class KeepAliveClient:
    """Sends signed webhooks one after another over one persistent connection (a new one
    only after the server closed it), pausing `pause` seconds between them, until told to
    stop or nothing connects any more."""

    def __init__(self, app, port, n, pause):
        self.app, self.port, self.n, self.pause = app, port, n, pause
        self.ok_ids, self.statuses, self.errors = [], [], []
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        path = urlsplit(self.app.url).path
        conn, i, refused = None, 0, 0
        while not self.stop and i < 5000 and refused < 20:
            i += 1
            body = github_body(4242, client=self.n, seq=i)
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                conn.request("POST", path, body, self.app.sign(body))
                resp = conn.getresponse()
                resp.read()
            except (OSError, http.client.HTTPException) as e:
                self.errors.append(repr(e))
                refused += 1
                if conn:
                    conn.close()
                conn = None
                time.sleep(0.05)
                continue
            self.statuses.append(resp.status)
            if resp.status == 200:
                self.ok_ids.append(resp.getheader("X-Hookline-Webhook-Id"))
            if resp.will_close:
                conn.close()
                conn = None
            time.sleep(self.pause)
        if conn:
            conn.close()


def idle_keep_alive_request(app, port):
    """A connection that has been answered once and waits, idle: returns a function that
    sends its next request on it and gives back (status, Connection header)."""
    path = urlsplit(app.url).path
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    body = github_body(4242, idle=1)
    conn.request("POST", path, body, app.sign(body))
    first = conn.getresponse()
    first.read()
    assert first.status == 200 and not first.will_close, (first.status, first.getheader("Connection"))

    def send():
        body = github_body(4242, idle=2)
        conn.request("POST", path, body, app.sign(body))
        resp = conn.getresponse()
        resp.read()
        conn.close()
        return resp.status, (resp.getheader("Connection") or "").lower()
    return send


def test_sigterm_under_keep_alive_load_answers_everything_and_exits_0(github, stack, tmp_path):
    ingress = Ingress(stack, tmp_path / "ingress.log", slot=0)
    try:
        # Two clients send back to back (SIGTERM finds them waiting for Kafka), two pause
        # between requests (SIGTERM may find their connections idle, or a request of theirs
        # waiting: on a slow machine it can take as long as the pause). One connection is
        # surely idle: its next request is sent once the ingress says it drains.
        idle_send = idle_keep_alive_request(github, ingress.port)
        clients = [KeepAliveClient(github, ingress.port, n, pause=0.1 * (n % 2)) for n in range(4)]
        deadline = time.monotonic() + 30
        while sum(len(c.ok_ids) for c in clients) < 40 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sum(len(c.ok_ids) for c in clients) >= 40, \
            f"the clients got few 200s before SIGTERM: {[c.statuses[-5:] + c.errors[-2:] for c in clients]}"
        time.sleep(random.uniform(0, 0.2))
        ingress.terminate()
        wait_until(lambda: "draining:" in ingress.tail(4000), 10, "the ingress to log that it drains")
        idle_answer = idle_send()
        rc = ingress.proc.wait(45)
        for c in clients:
            c.stop = True
        for c in clients:
            c.thread.join(30)
        log = ingress.tail(4000)
        assert rc == 0, f"the ingress exited {rc} after SIGTERM under load; its log ends:\n{log}"
        ingress.assert_clean_exit()
        statuses = {s for c in clients for s in c.statuses}
        assert statuses <= {200, 503}, f"answers other than 200 and 503: {statuses}"
        assert idle_answer == (503, "close"), \
            f"a request on an idle kept-alive connection while draining was answered {idle_answer}, not 503 with Connection: close"
        answered = [i for c in clients for i in c.ok_ids]
        assert all(answered), "a 200 without X-Hookline-Webhook-Id"
        stored = raw_webhook_ids()
        missing = [i for i in answered if i not in stored]
        assert not missing, f"{len(missing)} of {len(answered)} webhooks answered 200 are not in webhooks.raw: {missing[:5]}"
    finally:
        ingress.stop()
