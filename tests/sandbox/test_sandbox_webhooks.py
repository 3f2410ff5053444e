"""Outbound webhooks: signed as documented, sent once for Completed/Failed/Cancelled, never for Expired."""

from __future__ import annotations

import json
import re
import time

import pytest

from flinks_sessions.signatures import SignatureForm, matches
from flinks_sessions.testing import SandboxFactory

from . import WebhookReceiver, bearer, create, http

WHEN = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$")


@pytest.mark.parametrize("form", list(SignatureForm))
def test_cancel_sends_one_signed_webhook(flinks_sandbox_factory: SandboxFactory, form: SignatureForm) -> None:
    with WebhookReceiver().running() as receiver:
        sandbox = flinks_sandbox_factory(webhook_url=receiver.url, webhook_secret="s3cret", webhook_form=form)
        session_id, access = create(sandbox.url, "geft", amount=65)
        response = http().post(f"{sandbox.url}/api/v2/sessions/{session_id}/cancel", headers=bearer(access))
        assert response.status_code == 200
        [(headers, body)] = receiver.wait(1)
        deliveries = sandbox.webhooks.wait_for(1)
    assert matches(body, headers[form.value.lower()], form, ["old-secret", "s3cret"])
    assert not matches(body, headers[form.value.lower()], form, ["another"])
    envelope = json.loads(body)
    assert envelope["type"] == "SessionSetupStatusChanged"
    assert WHEN.match(envelope["when"])
    assert envelope["payload"] == {
        "sessionId": session_id,
        "amount": 65,
        "referenceId": "Happy1",
        "status": "Canceled",
        "statusDetails": "EFT0501",
    }
    assert deliveries[0]["url"] == receiver.url
    assert deliveries[0]["status_code"] == 200
    assert deliveries[0]["error"] is None


def test_complete_and_fail_send_webhooks_expiry_does_not(flinks_sandbox_factory: SandboxFactory) -> None:
    with WebhookReceiver().running() as receiver:
        sandbox = flinks_sandbox_factory(webhook_url=receiver.url, expire_after=0.3)
        completed, _ = create(sandbox.url, "eft")
        failed, _ = create(sandbox.url, "etransfer")
        expiring, _ = create(sandbox.url, "eft")
        sandbox.state.complete(completed, "EFT0302")
        sandbox.state.fail(failed, "EFT0403")
        time.sleep(0.4)
        assert sandbox.state.get(expiring).status == "Expired"
        sandbox.state.expire_due()
        receiver.wait(2)
        time.sleep(0.2)  # would be enough for a (wrong) third delivery to arrive
        payloads = sorted(
            (json.loads(body)["payload"] for _, body in receiver.received), key=lambda item: item["status"]
        )
    assert [(item["sessionId"], item["status"], item["statusDetails"]) for item in payloads] == [
        (completed, "Completed", "EFT0302"),
        (failed, "Failed", "EFT0403"),
    ]
    assert len(sandbox.webhook_deliveries) == 2


def test_no_webhook_for_a_transition_to_the_same_state(flinks_sandbox_factory: SandboxFactory) -> None:
    with WebhookReceiver().running() as receiver:
        sandbox = flinks_sandbox_factory(webhook_url=receiver.url)
        session_id, _ = create(sandbox.url)
        sandbox.state.start(session_id)
        sandbox.state.start(session_id)
        sandbox.state.complete(session_id)
        with pytest.raises(Exception, match="Completed"):
            sandbox.state.complete(session_id)
        receiver.wait(1)
        time.sleep(0.1)
    assert len(receiver.received) == 1


def test_a_failed_delivery_is_recorded_and_never_retried(flinks_sandbox_factory: SandboxFactory) -> None:
    with WebhookReceiver(status=500).running() as receiver:
        sandbox = flinks_sandbox_factory(webhook_url=receiver.url)
        session_id, _ = create(sandbox.url)
        sandbox.state.complete(session_id)
        [delivery] = sandbox.webhooks.wait_for(1)
        time.sleep(0.2)
    assert delivery["status_code"] == 500
    assert len(receiver.received) == 1
    assert len(sandbox.webhook_deliveries) == 1


def test_unreachable_receiver_is_recorded_as_an_error(flinks_sandbox_factory: SandboxFactory) -> None:
    sandbox = flinks_sandbox_factory(webhook_url="http://127.0.0.1:9/unreachable")
    session_id, _ = create(sandbox.url)
    sandbox.state.fail(session_id)
    [delivery] = sandbox.webhooks.wait_for(1)
    assert delivery["status_code"] is None
    assert delivery["error"]


def test_webhook_target_changed_at_run_time(flinks_sandbox_factory: SandboxFactory) -> None:
    sandbox = flinks_sandbox_factory()
    session_id, _ = create(sandbox.url)
    sandbox.state.complete(session_id)  # no webhook_url: nothing is sent
    with WebhookReceiver().running() as receiver:
        control = sandbox.control()
        config = control.set_config(
            webhook_url=receiver.url, webhook_secret="rotated", webhook_form="flinks-authenticity-key"
        )
        assert config["webhook_form"] == "flinks-authenticity-key"
        assert "webhook_secret" not in config
        other, _ = create(sandbox.url)
        control.complete(other)
        [(headers, body)] = receiver.wait(1)
        deliveries = control.wait_for_webhooks(1)
    assert matches(body, headers["flinks-authenticity-key"], SignatureForm.AUTHENTICITY_KEY, ["rotated"])
    assert [item["status_code"] for item in deliveries] == [200]


def test_webhook_delay(flinks_sandbox_factory: SandboxFactory) -> None:
    with WebhookReceiver().running() as receiver:
        sandbox = flinks_sandbox_factory(webhook_url=receiver.url, webhook_delay=0.3)
        session_id, _ = create(sandbox.url)
        started = time.monotonic()
        sandbox.state.complete(session_id)
        assert receiver.received == []
        receiver.wait(1)
        assert time.monotonic() - started >= 0.3
