"""The web console in a real browser: Debian's chromium driven by Playwright, against
the real stack. Sign in with a key, find a webhook by id and see its attempts after a
failure and a retry, redrive a dead letter from the Dead letters page, run a dry-run
replay from the Replays page, and keep a
screenshot of every page in build/test-artifacts/."""
import os
from pathlib import Path

import pytest
import requests

from hlsupport import REPO, TIMEOUT, App, github_body, uid, wait_until

# The webhook log lags the pipeline (its own consumer, off the hot path): waits on it
# get minutes on a loaded machine.
LOG_TIMEOUT = max(TIMEOUT, 180)

ARTIFACTS = REPO / "build" / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser():
    # Installed by deploy/local/install-deps.sh (make test): missing, it is a failure, not
    # a skip, or a green run would have tested no console at all.
    try:
        from playwright import sync_api
    except ImportError as e:
        pytest.fail(f"Playwright is missing ({e}): deploy/local/install-deps.sh installs it")
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: deploy/local/install-deps.sh installs Debian's chromium")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"], headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    ctx = browser.new_context(viewport={"width": 1400, "height": 900}, timezone_id="Europe/Paris")
    pg = ctx.new_page()
    errors = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    yield pg
    ctx.close()
    assert not errors, f"JavaScript errors in the console: {errors}"


def shot(pg, name):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / f"console-{name}.png"), full_page=True)


def api_get(url, key, path):
    r = requests.get(url + path, headers={"Authorization": f"Bearer {key}"}, timeout=10)
    return r.json() if r.status_code == 200 else None


def test_console_sign_in_find_webhook_timeline_and_redrive(page, cli, stack, receiver):
    api_url = os.environ["HOOKLINE_API_URL"]
    app = App(cli, stack, receiver, "github-app")
    env = app.env["id"]
    conn = app.connect({"installation_id": "7007"})
    cli.run("sync", "create", "--env", env, "--integration", app.key, "--name", "orders", "--subscriptions", "*",
            "--runner-url", "http://127.0.0.1:9/none", "--max-attempts", "1")
    key = cli.json("api-key", "create", "--env", env, "--scope", "write")["key"]

    # A webhook that fails once and is delivered by a retry.
    receiver.status = 503
    body = github_body(7007, n=uid())
    wid = app.send(body).headers["X-Hookline-Webhook-Id"]
    wait_until(lambda: (api_get(api_url, key, f"/v1/webhooks/{wid}") or {}).get("timeline") and any(
        e["kind"] == "attempt" for e in api_get(api_url, key, f"/v1/webhooks/{wid}")["timeline"]), LOG_TIMEOUT,
        "a failed attempt")
    receiver.status = 200
    app.wait_payload(body)
    wait_until(lambda: (api_get(api_url, key, f"/v1/webhooks/{wid}") or {}).get("status") == "delivered", LOG_TIMEOUT,
               "the webhook delivered")
    # One the app refuses: a dead letter.
    receiver.status = 400
    body2 = github_body(7007, n=uid())
    wid2 = app.send(body2).headers["X-Hookline-Webhook-Id"]
    wait_until(lambda: (api_get(api_url, key, f"/v1/dead-letters?webhook_id={wid2}") or {}).get("data"), LOG_TIMEOUT,
               "the dead letter")
    receiver.status = 200

    # Sign in.
    page.goto(api_url + "/")
    page.wait_for_selector("#api-key")
    shot(page, "sign-in")
    page.fill("#api-key", key)
    page.press("#api-key", "Enter")
    page.wait_for_selector("nav:not([hidden])")
    page.wait_for_selector("#webhook-filters")
    page.wait_for_selector(f"text={wid2}")
    shot(page, "webhooks")
    assert page.evaluate("document.cookie") == ""
    assert page.evaluate("sessionStorage.getItem('hookline.key')") == key

    # Find the webhook by id (keyboard: '/' focuses the search box).
    page.keyboard.press("/")
    page.wait_for_selector("#find-webhook:focus")   # (wait_for_function would need eval, which the CSP forbids)
    page.keyboard.type(wid)
    page.keyboard.press("Enter")
    page.wait_for_selector("#timeline")
    assert page.text_content("#webhook-id") == wid
    assert "delivered" in page.text_content("#webhook-status")
    items = page.locator("#timeline li")
    kinds = [items.nth(i).get_attribute("data-kind") for i in range(items.count())]
    assert kinds[0] == "received" and "routed" in kinds
    text = page.text_content("#timeline")
    assert "HTTP 503" in text and "HTTP 200" in text, text
    assert conn in page.text_content("dl.facts")
    # Times: local (Paris) text, UTC on hover.
    title = page.locator("#timeline time").first.get_attribute("title")
    assert title.endswith("(UTC)") and "Z" in title
    shot(page, "webhook")

    # Redrive the dead letter.
    page.keyboard.press("4")
    page.wait_for_selector(f"button.redrive")
    shot(page, "dead-letters")
    row = page.locator("tr", has=page.locator(f"a:text('{wid2}')"))
    row.locator("button.redrive").click()
    page.wait_for_selector("button.redrive:text('Redriven')", timeout=LOG_TIMEOUT * 1000)
    app.wait_payload(body2)
    wait_until(lambda: (api_get(api_url, key, f"/v1/webhooks/{wid2}") or {}).get("status") == "delivered",
               LOG_TIMEOUT, "the redriven webhook delivered")
    page.goto(f"{api_url}/#/webhook/{wid2}")
    page.wait_for_selector("#timeline li[data-kind='redriven']")
    shot(page, "redriven")

    # The other pages render (a screenshot each).
    for n, name, selector in [("2", "environments", "text=Webhook URL to paste"),
                              ("3", "connections", f"text={conn}"),
                              ("5", "destinations", f"text={receiver.url}"),
                              ("6", "sync-runs", "text=orders")]:
        page.keyboard.press(n)
        page.wait_for_selector(selector)
        if name == "destinations":  # the circuit breaker's state is shown with the health
            page.wait_for_selector("th:has-text('Circuit')")
            page.wait_for_selector(".badge.closed")
        shot(page, name)
    page.keyboard.press("2")
    page.wait_for_selector(f"text={app.url}")

    # Replays: a dry run started from the form runs to its end (the list polls for it).
    page.keyboard.press("7")
    page.wait_for_selector("#replay-form")
    page.fill("#replay-form input[name=integration]", app.key)
    assert page.is_checked("#replay-form input[name=dry_run]")
    page.click("#replay-form button[type=submit]")
    page.wait_for_selector("#replays .badge.done", timeout=LOG_TIMEOUT * 1000)
    assert "dry run" in page.text_content("#replays") and app.key in page.text_content("#replays")
    shot(page, "replays")

    # Signing out forgets the key.
    page.click("#sign-out")
    page.wait_for_selector("#api-key")
    assert page.evaluate("sessionStorage.getItem('hookline.key')") is None
