"""The sandbox sends real signed webhooks over HTTP to a live server; the app receives and applies them."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from flinks_sessions import services
from flinks_sessions.models import PaymentSession, WebhookDelivery
from flinks_sessions.signatures import SignatureForm
from tests.conftest import flinks_settings_for
from tests.factories import PAYOR
from tests.support import wait_for
from tests.webhooks.helpers import SECRET

Outcome = WebhookDelivery.Outcome
Status = PaymentSession.Status

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def webhook_sandbox(flinks_sandbox_factory: Any, live_server: Any, settings: Any) -> Any:
    sandbox = flinks_sandbox_factory(
        webhook_url=live_server.url + reverse("flinks_sessions:webhook"), webhook_secret=SECRET
    )
    settings.FLINKS_SESSIONS = flinks_settings_for(sandbox.url)
    return sandbox


def _delivery_for(session: PaymentSession) -> WebhookDelivery | None:
    return (
        WebhookDelivery.objects.filter(flinks_session_id=session.session_id)
        .exclude(outcome=Outcome.RECEIVED)
        .first()
    )


@pytest.mark.parametrize("form", list(SignatureForm), ids=[form.name for form in SignatureForm])
def test_sandbox_completion_reaches_the_app(webhook_sandbox: Any, form: SignatureForm, signals: Any) -> None:
    webhook_sandbox.config.update({"webhook_form": form.value})
    session = services.start_session(amount="100.00", reference_id="Happy1", payor=PAYOR)

    webhook_sandbox.control().complete(str(session.session_id))

    delivery = wait_for(lambda: _delivery_for(session), message="the webhook delivery")
    assert delivery.outcome == Outcome.APPLIED
    assert delivery.signature_form == form.value
    session.refresh_from_db()
    assert (session.status, session.status_details) == (Status.COMPLETED, "EFT0301")
    # The sandbox records its attempt once it has read our answer, which may be after the row is committed.
    assert [record["status_code"] for record in webhook_sandbox.webhooks.wait_for(1)] == [200]
    wait_for(lambda: signals.named("webhook_received"), message="webhook_received")


def test_cancelled_webhook_after_our_own_cancel_is_a_duplicate(webhook_sandbox: Any, signals: Any) -> None:
    """We cancel at Flinks and store Canceled; Flinks' webhook for that cancel changes nothing and signals nothing."""
    webhook_sandbox.config.update({"webhook_delay": 0.3})  # the webhook lands after our cancel call returned
    session = services.start_session(amount="65.00", reference_id="Happy1", payor=PAYOR, product="geft")

    result = services.cancel_session(session, source="admin", reason="operator")
    assert result.outcome is services.CancelOutcome.CANCELLED

    delivery = wait_for(lambda: _delivery_for(session), message="the webhook delivery")
    assert (delivery.remote_status, delivery.outcome) == ("Canceled", Outcome.DUPLICATE)
    wait_for(
        lambda: signals.named("webhook_received"), message="webhook_received (sent after any other signal)"
    )
    session.refresh_from_db()
    assert session.status == Status.CANCELLED
    assert [kw["source"] for kw in signals.named("cancelled")] == ["admin"]
    assert len(signals.named("status_changed")) == 1


def test_cancelled_webhook_racing_our_cancel_call_still_changes_once(
    webhook_sandbox: Any, signals: Any
) -> None:
    """Flinks may post the webhook before answering our /cancel: whichever lands first applies, once."""
    session = services.start_session(amount="65.00", reference_id="Happy1", payor=PAYOR)

    result = services.cancel_session(session, source="admin", reason="operator")
    assert result.outcome is services.CancelOutcome.CANCELLED

    delivery = wait_for(lambda: _delivery_for(session), message="the webhook delivery")
    assert delivery.outcome in (Outcome.DUPLICATE, Outcome.APPLIED)
    wait_for(
        lambda: signals.named("webhook_received"), message="webhook_received (sent after any other signal)"
    )
    session.refresh_from_db()
    assert session.status == Status.CANCELLED
    assert session.events.filter(kind="transition").count() == 1
    assert [kw["source"] for kw in signals.named("cancelled")] == ["admin"]  # who asked, whoever confirmed
    assert len(signals.named("status_changed")) == 1


def test_sandbox_failure_reaches_the_app(webhook_sandbox: Any) -> None:
    session = services.start_session(amount="10.00", reference_id="Unhappy1", payor=PAYOR)
    control = webhook_sandbox.control()
    control.fail(str(session.session_id), "EFT0403")
    wait_for(lambda: _delivery_for(session), message="the failure webhook")
    session.refresh_from_db()
    assert (session.status, session.status_details) == (Status.FAILED, "EFT0403")


def test_webhook_reconciles_a_creation_that_timed_out(webhook_sandbox: Any, settings: Any) -> None:
    """Flinks creates the session but our read times out: the row has no id until the webhook names it."""
    from flinks_sessions.exceptions import FlinksUnavailable

    settings.FLINKS_SESSIONS = flinks_settings_for(webhook_sandbox.url, READ_TIMEOUT=0.3)
    control = webhook_sandbox.control()
    control.set_faults(fail_next=["timeout"], timeout_seconds=0.8, paths=["/api/v2/sessions"])
    with pytest.raises(FlinksUnavailable) as failure:
        services.start_session(amount="42.00", reference_id="order-timeout-1", payor=PAYOR)
    assert failure.value.ambiguous
    pending = PaymentSession.objects.get(reference_id="order-timeout-1")
    assert pending.session_id is None

    upstream = wait_for(
        lambda: [s for s in control.sessions() if s.get("referenceId") == "order-timeout-1"],
        message="the sandbox to finish the slow creation",
    )[0]
    control.complete(upstream["sessionId"])

    delivery = wait_for(
        lambda: WebhookDelivery.objects.exclude(outcome=Outcome.RECEIVED).first(),
        message="the webhook delivery",
    )
    assert delivery.outcome == Outcome.APPLIED
    pending.refresh_from_db()
    assert (str(pending.session_id), pending.status) == (upstream["sessionId"], Status.COMPLETED)
