"""The sandbox's GEFT guarantee step and its ``/details`` shapes, over real HTTP (and in Chromium for the page)."""

from __future__ import annotations

import json
import shutil

import pytest

from flinks_sessions.sandbox import SandboxServer
from flinks_sessions.signatures import SignatureForm, sign
from flinks_sessions.testing import SandboxFactory
from tests.extras import import_or_missing
from tests.factories import PAYOR

from . import WebhookReceiver, bearer, create, http


def _details(sandbox: SandboxServer, session_id: str, access: str) -> dict:
    response = http().get(f"{sandbox.url}/api/v2/sessions/{session_id}/details", headers=bearer(access))
    assert response.status_code == 200
    return dict(response.json())


def _confirm(sandbox: SandboxServer, session_id: str, access: str, accepted: bool) -> dict:
    response = http().post(
        f"{sandbox.url}/api/v2/sessions/{session_id}/guarantees/confirm",
        json={"guaranteeAccepted": accepted},
        headers=bearer(access),
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.mark.parametrize(
    ("accepted", "status", "details"), [(True, "Completed", "EFT0301"), (False, "Failed", "EFT0402")]
)
def test_a_guarantee_waits_for_the_merchant_then_completes_or_fails(
    flinks_sandbox_factory: SandboxFactory, accepted: bool, status: str, details: str
) -> None:
    with WebhookReceiver().running() as site:
        sandbox = flinks_sandbox_factory(webhook_url=site.url, guarantee_webhook=True)
        session_id, access = create(sandbox.url, "geft", referenceId="Happy2", amount=1000)

        waiting = http().post(f"{sandbox.url}/app/api/{session_id}/complete").json()
        assert (waiting["status"], waiting["awaitingGuarantee"], waiting["events"]) == (
            "InProgress",
            True,
            ["GUARANTEE_OFFERED"],
        )
        [(headers, body)] = site.wait(1)
        event = json.loads(body)
        assert event["type"] == "GuaranteeOffered"
        assert event["payload"] == {
            "sessionId": session_id,
            "referenceId": "Happy2",
            "requestedAmount": 1000,
            "offeredAmount": 500,
            "offerType": "Reduced",
        }
        form = SignatureForm.WEBHOOK_SIGNATURE
        assert headers[form.value.lower()] == sign(body, sandbox.config.webhook_secret, form)
        shown = _details(sandbox, session_id, access)
        assert shown["step"]["current"] == "GuaranteeDecision"
        assert shown["guaranteeDetails"]["guaranteeAccepted"] is None

        answer = _confirm(sandbox, session_id, access, accepted)
        assert (answer["sessionId"], answer["referenceId"]) == (session_id, "Happy2")

        ended = _details(sandbox, session_id, access)
        assert (ended["status"], ended["statusDetails"], ended["guaranteeDetails"]["guaranteeAccepted"]) == (
            status,
            details,
            accepted,
        )
        expected_amount = 500 if accepted else 1000  # what Flinks settles: the accepted offer
        assert ended["amount"] == expected_amount


def test_an_unacknowledged_offer_is_tried_three_times_then_the_session_fails(
    flinks_sandbox_factory: SandboxFactory,
) -> None:
    with WebhookReceiver(status=500).running() as site:
        sandbox = flinks_sandbox_factory(
            webhook_url=site.url, guarantee_webhook=True, guarantee_retry_delay=0.05
        )
        session_id, _access = create(sandbox.url, "geft")
        sandbox.state.pay(session_id)
        site.wait(4)  # three offers, then the Failed status webhook
        types = [json.loads(body)["type"] for _headers, body in site.received]
        assert types == ["GuaranteeOffered"] * 3 + ["SessionSetupStatusChanged"]
        ended = sandbox.state.get(session_id)
        assert (ended.status, ended.status_details) == ("Failed", "EFT0402")


def test_without_a_guarantee_webhook_the_guarantee_is_auto_accepted(flinks_sandbox: SandboxServer) -> None:
    session_id, access = create(flinks_sandbox.url, "geft", referenceId="Happy2", amount=1000)
    done = http().post(f"{flinks_sandbox.url}/app/api/{session_id}/complete").json()
    assert (done["status"], done["events"]) == ("Completed", ["GUARANTEE_OFFERED", "SUCCESS"])
    shown = _details(flinks_sandbox, session_id, access)
    assert shown["guaranteeDetails"]["guaranteeAccepted"] is True
    assert shown["amount"] == 500


def test_details_follow_each_product_shape(flinks_sandbox: SandboxServer) -> None:
    eft, access = create(flinks_sandbox.url, "eft")
    before = _details(flinks_sandbox, eft, access)
    assert before["step"]["current"] == "Welcome"
    assert before["payor"]["account"] is None  # no bank account before the shopper starts
    assert before["userDetails"]["accountValidated"] is False
    assert "guaranteeDetails" not in before
    flinks_sandbox.state.complete(eft)
    after = _details(flinks_sandbox, eft, access)
    assert after["step"]["current"] == "Confirmation"
    assert set(after["payor"]["account"]) == {
        "institution",
        "institutionName",
        "institutionNumber",
        "transitNumber",
        "accountNumber",
    }
    assert after["payor"]["account"]["accountNumber"].startswith("*****")
    assert after["userDetails"] == {**PAYOR, "accountValidated": True}
    geft, access = create(flinks_sandbox.url, "geft", amount=None)
    shown = _details(flinks_sandbox, geft, access)
    assert shown["amount"] is None
    assert shown["guaranteeDetails"]["requestedAmount"] is None
    assert "userDetails" not in shown


@pytest.mark.browser
def test_the_hosted_page_shows_the_guarantee_step_in_a_real_browser(
    flinks_sandbox_factory: SandboxFactory,
) -> None:
    sync_api = import_or_missing("playwright.sync_api", "needs Playwright (the test extra)")
    with WebhookReceiver().running() as site:
        sandbox = flinks_sandbox_factory(webhook_url=site.url, guarantee_webhook=True)
        session_id, access = create(sandbox.url, "geft")
        parent = """<!doctype html><script>
          window.messages = [];
          window.addEventListener("message", (event) => window.messages.push(event.data.step));
        </script><iframe id="flinks" width="500" height="700"></iframe>"""
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=shutil.which("chromium"), args=["--no-sandbox"]
            )
            try:
                page = browser.new_page()
                page.set_content(parent)
                page.eval_on_selector(
                    "#flinks", "(frame, url) => { frame.src = url; }", sandbox.hosted_page_url(session_id)
                )
                frame = page.frame_locator("#flinks")
                frame.locator("body[data-status='InProgress']").wait_for()
                frame.locator("#complete").click()
                frame.locator("#guarantee-step").wait_for()
                site.wait(1)
                _confirm(sandbox, session_id, access, True)
                frame.locator("body[data-status='Completed']").wait_for(timeout=5000)
                steps = page.wait_for_function(
                    "() => window.messages.length >= 3 && window.messages"
                ).json_value()
                assert steps == ["APP_MOUNTED", "GUARANTEE_OFFERED", "SUCCESS"]
            finally:
                browser.close()
