"""An e-Transfer whose Interac request Flinks emailed (``options.notificationPreferences.sendInteracLink``) stays
payable after the shopper closes the shop's tab: the payer pays from their bank later, through the emailed link.

Leaving the page therefore cancels nothing (the beacon answers 202 without recording an intent), the checkout
says the request was emailed, and ``flinks_cancel_sessions``' filters leave such sessions to Flinks' own expiry
unless the operator passes ``--include-emailed`` (or names them by id).
"""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.template import Context, Template
from django.test import Client
from django.utils import timezone, translation

from flinks_sessions.api import exit_token
from flinks_sessions.models import PaymentSession
from flinks_sessions.services import request_cancel
from flinks_sessions.status import Product, Status
from tests.api.test_exit_beacon import beacon, refreshed
from tests.cancel_helpers import cancel_calls
from tests.factories import new_session

EMAILED = {"options": {"notificationPreferences": {"sendInteracLink": True}}}


def emailed_session(**fields: Any) -> PaymentSession:
    return new_session(product=Product.ETRANSFER, start_params=EMAILED, **fields)


@pytest.mark.django_db
@pytest.mark.usefixtures("recorded_tasks")
def test_leaving_the_page_does_not_cancel_an_emailed_interac_request(client: Client) -> None:
    session = emailed_session()

    response = beacon(client, session.session_id, token=exit_token(session), reason="pagehide")

    assert response.status_code == 202
    assert response.json() == {"sessionId": str(session.session_id), "queued": False, "emailed": True}
    assert refreshed(session).cancel_requested_at is None


@pytest.mark.django_db
@pytest.mark.usefixtures("recorded_tasks")
@pytest.mark.parametrize(
    "start_params",
    [{}, {"options": {"notificationPreferences": {"sendInteracLink": False}}}, {"options": {}}],
)
def test_an_etransfer_without_the_emailed_link_is_still_cancelled(client: Client, start_params: Any) -> None:
    session = new_session(product=Product.ETRANSFER, start_params=start_params)
    response = beacon(client, session.session_id, token=exit_token(session), reason="pagehide")
    assert response.json()["queued"] is True
    assert refreshed(session).cancel_requested_at is not None


@pytest.mark.django_db
@pytest.mark.usefixtures("recorded_tasks")
def test_an_operator_may_still_ask_for_it() -> None:
    session = emailed_session()
    assert request_cancel(session, source="admin", reason="customer asked") is True


@pytest.mark.django_db
def test_the_checkout_says_the_request_was_emailed_in_english_and_french(sandbox: Any) -> None:
    from flinks_sessions.services import start_session

    session = start_session(
        amount="25.00",
        reference_id="order-mail",
        product=Product.ETRANSFER,
        payor={"firstName": "John", "lastName": "Doe", "email": "john@example.com"},
        options=EMAILED["options"],
    )
    template = Template("{% load flinks_sessions %}{% flinks_checkout session %}")
    english = template.render(Context({"session": session}))
    with translation.override("fr"):
        french = template.render(Context({"session": session}))

    assert "data-emailed" in english
    assert "The Interac request was emailed to you" in english
    assert "La demande Interac vous a été envoyée par courriel" in french


@pytest.mark.django_db(transaction=True)
def test_the_abandoned_session_sweep_leaves_it_to_flinks_expiry(sandbox: Any) -> None:
    from tests.cancel_helpers import make_sessions

    emailed = make_sessions(sandbox, 1, reference="MAILED", product=Product.ETRANSFER, start_params=EMAILED)[
        0
    ]
    plain = make_sessions(sandbox, 1, reference="PLAIN", product=Product.ETRANSFER)[0]
    PaymentSession.objects.update(created_at=timezone.now() - timedelta(hours=3))

    out = StringIO()
    call_command("flinks_cancel_sessions", "--older-than", "2h", stdout=out)

    assert refreshed(plain).status == Status.CANCELLED
    assert refreshed(emailed).status == Status.INITIATED
    assert cancel_calls(sandbox, emailed) == 0
    assert "1 left to Flinks' expiry: their Interac request was emailed (--include-emailed)" in out.getvalue()

    call_command("flinks_cancel_sessions", "--older-than", "2h", "--include-emailed", stdout=StringIO())
    assert refreshed(emailed).status == Status.CANCELLED
