"""Fixtures for the integration suite. It runs against a stack that tests/run-integration.sh
(make test / make integration) started and described in HOOKLINE_* environment variables."""
import os

import pytest
import requests

from hlsupport import CLI, DAEMONS, App, Receiver, Stack, get, wait_until


@pytest.fixture(scope="session")
def stack():
    if not os.environ.get("HOOKLINE_PUBLIC_URL"):
        pytest.fail("HOOKLINE_PUBLIC_URL is not set: run via make test / tests/run-integration.sh",
                    pytrace=False)
    s = Stack(os.environ)
    ready = {}

    def all_ready():
        for d in DAEMONS:
            try:
                ready[d] = get(s.admin_url(d, "/readyz"), timeout=2).status_code
            except requests.RequestException as e:
                ready[d] = repr(e)
        return all(v == 200 for v in ready.values())
    wait_until(all_ready, 60, "every daemon's /readyz to answer 200", lambda: ready)
    yield s
    s.restore()


@pytest.fixture
def daemons(stack):
    """Stack control (kill/stop/start); whatever a test leaves down is started again after it,
    pass or fail, so the next tests find a whole stack."""
    yield stack
    stack.restore()


@pytest.fixture(scope="session")
def cli(stack):
    return CLI(stack.bin_dir)


@pytest.fixture
def receiver():
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
def github(cli, stack, receiver):
    """An environment pointing at a fresh receiver, with a github-app integration."""
    return App(cli, stack, receiver, "github-app")


@pytest.fixture
def hubspot(cli, stack, receiver):
    """An environment pointing at a fresh receiver, with a hubspot integration."""
    return App(cli, stack, receiver, "hubspot")
