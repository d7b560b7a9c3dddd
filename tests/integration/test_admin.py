"""Every daemon's admin port: health, readiness, Prometheus metrics."""
import pytest

from hlsupport import DAEMONS, get


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
