"""The hosted page: what the merchant's iframe loads, and the page-internal routes its buttons call."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from flinks_sessions.sandbox import SandboxServer
from flinks_sessions.sandbox.control import TOKEN_HEADER
from tests.extras import import_or_missing

from . import bearer, create, http


def _config(page: str) -> dict[str, object]:
    match = re.search(r'<script type="application/json" id="sandbox-config">(.*?)</script>', page, re.S)
    assert match
    return dict(json.loads(match.group(1)))


def test_page_shows_the_session_and_the_buttons(flinks_sandbox: SandboxServer) -> None:
    session_id, _ = create(flinks_sandbox.url, amount=1234.5, referenceId="order-7")
    response = http().get(flinks_sandbox.hosted_page_url(session_id, parent_origin="https://shop.example"))
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    page = response.text
    assert "<title>Flinks Pay sandbox</title>" in page
    for button in ("complete", "fail", "abandon", "pad-exit"):
        assert f'id="{button}"' in page
    assert "$1,234.50" in page
    assert "order-7" in page
    assert "John Doe" in page
    for event in (
        "APP_MOUNTED",
        "CLOSE_ATTEMPT",
        "CLOSE",
        "COMPONENT_PAD_WARNING_SCREEN_EXIT",
        "postMessage",
    ):
        assert event in page
    assert "http" not in page.split("<style>")[1].split("</style>")[0]  # no external resources
    config = _config(page)
    assert config["sessionId"] == session_id
    assert config["parentOrigin"] == "https://shop.example"
    assert config["active"] is True


def test_page_escapes_what_the_merchant_sent(flinks_sandbox: SandboxServer) -> None:
    hostile = {"firstName": "<script>alert(1)</script>", "lastName": "</script>", "email": "x@example.com"}
    session_id, _ = create(flinks_sandbox.url, "geft", payor=hostile, referenceId="<b>")
    page = http().get(flinks_sandbox.hosted_page_url(session_id)).text
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)" in page


def test_happy3_is_in_french(flinks_sandbox: SandboxServer) -> None:
    session_id, _ = create(flinks_sandbox.url, referenceId="Happy3", amount=1000)
    page = http().get(flinks_sandbox.hosted_page_url(session_id)).text
    assert '<html lang="fr">' in page
    assert "Confirmer le paiement" in page
    assert "1\u00a0000,00\u00a0$" in page


def test_ended_sessions_show_the_error_state(flinks_sandbox: SandboxServer) -> None:
    session_id, access = create(flinks_sandbox.url)
    http().post(f"{flinks_sandbox.url}/api/v2/sessions/{session_id}/cancel", headers=bearer(access))
    page = http().get(flinks_sandbox.hosted_page_url(session_id)).text
    assert '<section class="state" id="session-ended">' in page  # not hidden
    assert '<section id="flow" hidden>' in page
    assert _config(page)["active"] is False


def test_unknown_session_page_is_404(flinks_sandbox: SandboxServer) -> None:
    for query in ("?sessionId=00000000-0000-0000-0000-000000000000", "?sessionId=nope", ""):
        response = http().get(f"{flinks_sandbox.url}/app/{query}")
        assert response.status_code == 404
        assert 'id="session-not-found"' in response.text


def test_page_actions_drive_the_session(flinks_sandbox: SandboxServer) -> None:
    session_id, access = create(flinks_sandbox.url, "geft", referenceId="Happy2", amount=1000)
    base = f"{flinks_sandbox.url}/app/api/{session_id}"
    started = http().post(f"{base}/start").json()
    assert started["status"] == "InProgress"
    done = http().post(f"{base}/complete").json()
    assert (done["status"], done["statusDetails"], done["events"]) == (
        "Completed",
        "EFT0301",
        ["GUARANTEE_OFFERED", "SUCCESS"],
    )
    assert done["guarantee"]["offerType"] == "Reduced"
    again = http().post(f"{base}/fail")
    assert again.status_code == 409
    assert again.json()["terminal"] is True
    status = http().get(f"{flinks_sandbox.url}/api/v2/sessions/{session_id}/status", headers=bearer(access))
    assert status.json()["status"] == "Completed"
    assert http().get(base).json()["status"] == "Completed"


def test_unhappy1_fails_whatever_the_shopper_presses(flinks_sandbox: SandboxServer) -> None:
    session_id, _ = create(flinks_sandbox.url, "geft", referenceId="Unhappy1")
    result = http().post(f"{flinks_sandbox.url}/app/api/{session_id}/complete").json()
    assert (result["status"], result["statusDetails"], result["events"]) == (
        "Failed",
        "EFT0402",
        ["GUARANTEE_FAILED"],
    )


def test_page_routes_reject_wrong_methods_and_unknown_sessions(flinks_sandbox: SandboxServer) -> None:
    session_id, _ = create(flinks_sandbox.url)
    assert http().get(f"{flinks_sandbox.url}/app/api/{session_id}/complete").status_code == 405
    assert http().post(f"{flinks_sandbox.url}/app/").status_code == 405
    assert (
        http().post(f"{flinks_sandbox.url}/app/api/00000000-0000-0000-0000-000000000000/start").status_code
        == 404
    )
    assert flinks_sandbox.state.get(session_id).status == "Initiated"


@pytest.mark.browser
def test_buttons_post_the_documented_events_in_a_real_browser(flinks_sandbox: SandboxServer) -> None:
    sync_api = import_or_missing("playwright.sync_api", "needs Playwright (the test extra)")
    completed, _ = create(flinks_sandbox.url, "geft", referenceId="Happy2", amount=1000)
    abandoned, _ = create(flinks_sandbox.url)
    parent = """<!doctype html><script>
      window.messages = [];
      window.addEventListener("message", (event) => window.messages.push(event.data));
    </script><iframe id="flinks" width="500" height="700"></iframe>"""
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.set_content(parent)
            steps = "window.messages.map((message) => message.step)"

            def run(session_id: str, button: str) -> list[str]:
                page.evaluate("() => { window.messages = []; }")
                page.eval_on_selector(
                    "#flinks",
                    "(frame, url) => { frame.src = url; }",
                    f"{flinks_sandbox.hosted_page_url(session_id)}",
                )
                frame = page.frame_locator("#flinks")
                frame.locator("body[data-status='InProgress']").wait_for()
                frame.locator(f"#{button}").click()
                return list(page.wait_for_function(f"() => {steps}.length >= 3 && {steps}").json_value())

            assert run(completed, "complete") == ["APP_MOUNTED", "GUARANTEE_OFFERED", "SUCCESS"]
            assert page.evaluate("window.messages[2].sessionId") == completed
            assert run(abandoned, "abandon") == ["APP_MOUNTED", "CLOSE_ATTEMPT", "CLOSE"]
            assert (
                flinks_sandbox.state.get(abandoned).status == "InProgress"
            )  # the merchant cancels, not the page
            flinks_sandbox.state.cancel(abandoned)
            page.frame_locator("#flinks").locator("#session-ended").wait_for(timeout=5000)
        finally:
            browser.close()
    assert flinks_sandbox.state.get(completed).status == "Completed"


def test_the_root_url_is_a_page_that_says_what_it_is_and_links_on(flinks_sandbox: SandboxServer) -> None:
    """The demo's banner prints the sandbox's root URL: a person opening it gets a page, not raw JSON."""
    session_id, _ = create(flinks_sandbox.url, referenceId="order-8")
    response = http().get(f"{flinks_sandbox.url}/", headers={"Accept": "text/html,*/*;q=0.8"})
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    page = response.text
    assert "<title>Flinks Pay sandbox</title>" in page
    assert "not Flinks" in page
    assert f'href="/app/?sessionId={session_id}"' in page  # the hosted page of each recent session
    assert 'href="/_sandbox"' in page  # the control API's list of routes (it asks for the control token)
    routes = http().get(
        f"{flinks_sandbox.url}/_sandbox", headers={TOKEN_HEADER: flinks_sandbox.control_token}
    )
    assert routes.json()["routes"]
    # A program that asks for JSON still gets the old summary.
    as_json = http().get(f"{flinks_sandbox.url}/", headers={"Accept": "application/json"})
    assert as_json.json()["control"] == "/_sandbox"
