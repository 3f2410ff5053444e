"""The recovery link: a GET changes nothing, the POST starts the payment again once, bad links create nothing."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.core import signing
from django.test import Client
from django.urls import reverse
from django.utils import translation

from flinks_sessions.api.tokens import exit_token
from flinks_sessions.models import PaymentSession, RecoveryNotice, SessionEvent
from flinks_sessions.services import send_recovery_notices
from flinks_sessions.services.recovery_link import recovery_token, recovery_url
from flinks_sessions.status import Status
from tests.cancel_helpers import PAYOR, make_session
from tests.factories import new_session
from tests.recovery.helpers import recovery_settings

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def ended(sandbox: Any, settings: Any) -> PaymentSession:
    """An expired session of a consenting payer, known to the sandbox, whose notice was sent."""
    recovery_settings(settings)
    session = make_session(
        sandbox,
        reference="LINK-1",
        start_params={"payor": PAYOR},
        recovery_consent=True,
        status=Status.EXPIRED,
    )
    assert [result.outcome.value for result in send_recovery_notices([session])] == ["sent"]
    return session


def created_at_flinks(sandbox: Any) -> int:
    return sandbox.count(method="POST", path_suffix="/api/v2/sessions")


def snapshot() -> tuple[Any, ...]:
    """Everything a link's request could change."""
    return (
        list(PaymentSession.objects.order_by("pk").values()),
        SessionEvent.objects.count(),
        list(RecoveryNotice.objects.values()),
    )


def test_a_get_shows_the_order_and_changes_nothing(sandbox: Any, ended: PaymentSession) -> None:
    before, calls = snapshot(), sandbox.count()
    for _ in range(3):  # a mail scanner, a preview, the payer
        response = Client().get(recovery_url(ended))
        assert response.status_code == 200
    page = response.content.decode()
    assert 'data-recovery-state="ready"' in page
    assert "LINK-1" in page
    assert "10.00 CAD" in page
    assert "data-recovery-continue" in page
    assert response["Cache-Control"] == "no-store"
    assert snapshot() == before
    assert sandbox.count() == calls


def test_continue_starts_the_order_again_once_and_a_used_link_lands_on_it(
    sandbox: Any, ended: PaymentSession
) -> None:
    before = created_at_flinks(sandbox)
    first = Client().post(recovery_url(ended))
    assert first.status_code == 303
    successor = PaymentSession.objects.get(restarted_from=ended)
    assert (successor.reference_id, successor.recovery_consent) == ("LINK-1", True)
    assert first["Location"] == successor.hosted_url()
    again = Client().post(recovery_url(ended))
    assert (again.status_code, again["Location"]) == (303, successor.hosted_url())
    assert created_at_flinks(sandbox) == before + 1
    assert RecoveryNotice.objects.get().opened_at is not None


def test_the_checkout_setting_names_a_url_or_a_callable(
    sandbox: Any, ended: PaymentSession, settings: Any
) -> None:
    recovery_settings(settings, RECOVERY_CHECKOUT="flinks_sessions:session-status")
    response = Client().post(recovery_url(ended))
    successor = PaymentSession.objects.get(restarted_from=ended)
    assert response["Location"] == f"/flinks/sessions/{successor.session_id}/"
    recovery_settings(settings, RECOVERY_CHECKOUT="tests.recovery.checkout.for_session")
    assert Client().post(recovery_url(ended))["Location"] == f"/shop/pay/{successor.reference_id}/"


def test_an_expired_link_answers_a_clear_page_and_creates_nothing(
    sandbox: Any, ended: PaymentSession, monkeypatch: Any, settings: Any
) -> None:
    issued = time.time() - 3 * 3600
    monkeypatch.setattr(signing.time, "time", lambda: issued)
    token = recovery_token(ended)
    monkeypatch.undo()
    recovery_settings(settings, RECOVERY_LINK_MAX_AGE=3600)
    before, calls = snapshot(), created_at_flinks(sandbox)
    url = reverse("flinks_sessions:recover", kwargs={"token": token})
    for response in (Client().get(url), Client().post(url)):
        assert response.status_code == 410
        assert 'data-recovery-state="expired"' in response.content.decode()
    assert snapshot() == before
    assert created_at_flinks(sandbox) == calls


@pytest.mark.parametrize("kind", ["forged", "exit token", "garbage", "too long"])
def test_a_forged_link_is_refused(sandbox: Any, ended: PaymentSession, kind: str) -> None:
    genuine = recovery_token(ended)
    token = {
        "forged": genuine[:-4] + ("AAAA" if not genuine.endswith("AAAA") else "BBBB"),
        "exit token": exit_token(ended),
        "garbage": "not-a-token",
        "too long": "x" * 500,
    }[kind]
    before = snapshot()
    url = reverse("flinks_sessions:recover", kwargs={"token": token})
    for response in (Client().get(url), Client().post(url)):
        assert response.status_code == 400
        assert 'data-recovery-state="invalid"' in response.content.decode()
    assert snapshot() == before


def test_a_paid_order_answers_that_it_is_paid_and_creates_nothing(
    sandbox: Any, ended: PaymentSession
) -> None:
    new_session(reference_id="LINK-1", status=Status.COMPLETED)
    before = snapshot()
    shown = Client().get(recovery_url(ended))
    posted = Client().post(recovery_url(ended))
    assert (shown.status_code, posted.status_code) == (200, 409)
    assert 'data-recovery-state="completed"' in posted.content.decode()
    assert snapshot() == before


def test_a_link_for_a_session_this_site_no_longer_has_is_404(sandbox: Any, ended: PaymentSession) -> None:
    url = recovery_url(ended)
    RecoveryNotice.objects.all().delete()
    PaymentSession.objects.filter(pk=ended.pk).delete()
    assert Client().get(url).status_code == 404
    assert Client().put(url).status_code == 405


def test_the_page_speaks_french(sandbox: Any, ended: PaymentSession) -> None:
    with translation.override("fr"):
        response = Client().get(recovery_url(ended))
    page = response.content.decode()
    assert "Terminez votre paiement" in page
    assert "10,00 CAD" in page
