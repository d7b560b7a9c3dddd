"""PostgreSQL over TLS with sslmode=verify-full: the secure stack's server accepts TCP
clients only over TLS, with a password, with a certificate for 127.0.0.1 from the stack's
own CA. The daemons and the CLI connect with the URL alone; a client that does not trust
that CA, or that does not use TLS, is refused."""
import os
import subprocess

import pytest

import substack
from hlsupport import wait_until
from test_kafka_security import SECURE


@pytest.fixture(scope="session")
def secure(request):
    return substack.shared(request, "secure", 20, SECURE)


def psql(url, sql):
    return subprocess.run(["psql", url, "-XAtqc", sql], capture_output=True, timeout=30)


DAEMONS = ("ingress", "router", "forwarder", "syncer", "api")


def connections(url):
    """(application_name, ssl) of every connection of the hookline role, this psql's too."""
    r = psql(url, "SELECT a.application_name, s.ssl FROM pg_stat_ssl s "
                  "JOIN pg_stat_activity a USING (pid) WHERE a.usename = 'hookline'")
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    return [tuple(line.split("|")) for line in r.stdout.decode().splitlines()]


def daemon_of(application_name):
    """hookline-router and hookline-router-dedup are the router's (common/pg.c names shared
    code's connections after the program)."""
    return next((d for d in DAEMONS if f"{application_name}-".startswith(f"hookline-{d}-")), None)


def test_every_hookline_connection_uses_tls(secure):
    url = secure.env["HOOKLINE_DATABASE_URL"]
    assert "sslmode=verify-full" in url and "sslrootcert=" in url
    secure.cli.run("env", "list")                     # the CLI over verify-full
    # Each daemon holds a connection of its own once running (the api's readiness check,
    # the ingress's directory, the config caches, ...); wait until all five are seen.
    wait_until(lambda: {daemon_of(n) for n, _ in connections(url)} >= set(DAEMONS), 60,
               "a connection from each of the five daemons", seen=lambda: connections(url), interval=1)
    rows = connections(url)
    seen = {d: [n for n, ssl in rows if daemon_of(n) == d] for d in DAEMONS}
    assert all(seen.values()), f"daemons without a connection: {seen}"
    assert "psql" in {n for n, _ in rows}, rows
    assert all(ssl == "t" for _, ssl in rows), f"connections without TLS: {rows}"


def test_a_server_the_client_cannot_verify_is_refused(secure):
    url = secure.env["HOOKLINE_DATABASE_URL"]
    other_ca = os.environ["HOOKLINE_TEST_TLS_DIR"] + "/ca.pem"       # the suite's other CA
    wrong = url.split("sslrootcert=")[0] + "sslrootcert=" + other_ca
    r = secure.cli.run("env", "list", env={"HOOKLINE_DATABASE_URL": wrong}, check=False)
    assert r.returncode != 0 and b"certificate verify failed" in r.stderr, r.stderr


def test_plain_tcp_is_refused(secure):
    url = secure.env["HOOKLINE_DATABASE_URL"].split("?")[0] + "?sslmode=disable"
    r = psql(url, "SELECT 1")
    assert r.returncode != 0 and b"no encryption" in r.stderr, r.stderr
