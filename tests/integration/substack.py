"""A second local stack for the tests that need a differently built cluster (a secure one:
Kafka on SASL_SSL and PostgreSQL over TLS; or three Kafka nodes): deploy/local/stack.sh
with its own stack dir and port offset (the main stack's + `shift`), its own daemons, its
own env.sh. Started once per pytest session per kind, stopped and purged at the end, and
its daemon logs searched for sanitizer reports like the main stack's."""
import os
import re
import subprocess
import tempfile
from pathlib import Path

from hlsupport import CLI, REPO, Stack

SANITIZER = re.compile(r"ERROR: AddressSanitizer|ERROR: LeakSanitizer|LeakSanitizer has encountered|"
                       r"runtime error:")
_started = {}


def _read_env_sh(path):
    env = {}
    for line in Path(path).read_text().splitlines():
        m = re.match(r"export ([A-Z0-9_]+)='(.*)'$", line)
        if m:
            env[m.group(1)] = m.group(2)
    return env


class SubStack(Stack):
    """A stack.sh stack of its own; .env is what its processes see (the test process's
    environment with the sub-stack's env.sh on top)."""

    def __init__(self, name, shift, settings):
        base = dict(os.environ)
        # Nothing of the main stack's cluster settings may leak into this one.
        for k in list(base):
            if k.startswith("HOOKLINE_KAFKA_") or k.startswith("HOOKLINE_STACK_"):
                del base[k]
        base.update(settings)
        base["HOOKLINE_STACK_DIR"] = str(REPO / f".stack-test-{name}")
        base["HOOKLINE_PORT_OFFSET"] = str(int(os.environ.get("HOOKLINE_PORT_OFFSET", "100")) + shift)
        base.pop("HOOKLINE_ENCRYPTION_KEY", None)
        self.name, self.dir, self._base = name, Path(base["HOOKLINE_STACK_DIR"]), base
        self.sh("down", "--purge", timeout=120)
        self.sh("up", timeout=600)
        self.env = {**base, **_read_env_sh(self.dir / "env.sh")}
        super().__init__(self.env)
        self.cli = SubCLI(self.bin_dir, self.env)

    def sh(self, *args, timeout=120, check=True):
        """stack.sh ARGS in this stack; output to a file, never a pipe a daemon could hold."""
        with tempfile.TemporaryFile() as out:
            rc = subprocess.run(["sh", "deploy/local/stack.sh", *args], cwd=REPO, env=self._base,
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                timeout=timeout).returncode
            out.seek(0)
            text = out.read().decode("utf-8", "replace")
        assert rc == 0 or not check, f"[{self.name}] `stack.sh {' '.join(args)}` exited {rc}:\n{text[-4000:]}"
        return text

    def ctl(self, action, daemon, timeout):
        self.sh(action, daemon, timeout=timeout)

    def sanitizer_reports(self):
        found = []
        for d in ("ingress", "router", "forwarder", "syncer"):
            log = self.dir / f"{d}.log"
            if log.exists():
                found += [f"{log}: {line}" for line in log.read_text(errors="replace").splitlines()
                          if SANITIZER.search(line)]
        return found

    def close(self):
        self.sh("down", timeout=180, check=False)   # the daemons write leak reports as they exit
        reports = self.sanitizer_reports()
        if not reports:
            self.sh("down", "--purge", timeout=120, check=False)
        return reports


class SubCLI(CLI):
    """The hookline CLI with a sub-stack's environment."""

    def __init__(self, bin_dir, env):
        super().__init__(bin_dir)
        self.envvars = env

    def run(self, *args, stdin=b"", timeout=60, env=None, check=True):
        r = subprocess.run([str(self.path), *args], input=stdin, capture_output=True, timeout=timeout,
                           env={**self.envvars, **(env or {})})
        if check:
            assert r.returncode == 0, (f"`hookline {' '.join(args)}` exited {r.returncode}\n"
                                       f"stdout: {r.stdout.decode(errors='replace')}\n"
                                       f"stderr: {r.stderr.decode(errors='replace')}")
            return r.stdout.decode()
        return r


def shared(request, name, shift, settings):
    """The session's sub-stack `name` (call from a session-scoped fixture; started on first
    use, by whichever test module needs it first; stopped when the session ends,
    failing it if a daemon's log has a sanitizer report)."""
    if name not in _started:
        st = SubStack(name, shift, settings)
        _started[name] = st

        def close():
            reports = st.close()
            assert not reports, "sanitizer report(s) in the %s stack:\n%s" % (name, "\n".join(reports[:20]))
        request.addfinalizer(close)   # a session-scoped fixture's: at the session's end
    return _started[name]
