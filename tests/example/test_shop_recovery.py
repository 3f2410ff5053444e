"""The example shop's side of winning back abandoned checkouts: the consent box, and the page its link leads to."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from flinks_sessions.models import PaymentSession
from flinks_sessions.services import restart_session, send_recovery_notices
from flinks_sessions.services.recovery_link import recovery_url
from flinks_sessions.status import Status
from tests.example.test_example_shop import BUYER
from tests.recovery.helpers import recovery_settings

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_checkout_asks_for_consent_and_stores_the_answer(shop: Any) -> None:
    page = Client().get("/products/maple-syrup/").content.decode()
    assert 'name="recovery_consent"' in page
    assert "Remind me once by email if I leave before paying" in page
    Client().post("/products/maple-syrup/checkout/", BUYER)
    Client().post("/products/maple-syrup/checkout/", {**BUYER, "recovery_consent": "on"})
    assert list(PaymentSession.objects.order_by("pk").values_list("recovery_consent", flat=True)) == [
        False,
        True,
    ]
    assert PaymentSession.objects.last().metadata["language"].startswith("en")  # the language it shops in


def test_the_links_continue_lands_on_the_shops_page_for_the_new_session(shop: Any, settings: Any) -> None:
    recovery_settings(settings, RECOVERY_CHECKOUT="shop:recovered")
    Client().post("/products/maple-syrup/checkout/", {**BUYER, "recovery_consent": "on"})
    first = PaymentSession.objects.get()
    shop.state.expire(str(first.session_id))
    PaymentSession.objects.filter(pk=first.pk).update(status=Status.EXPIRED)
    assert [result.outcome.value for result in send_recovery_notices()] == ["sent"]

    payer = Client()  # the mail client's browser: it never saw the checkout
    landed = payer.post(recovery_url(first), follow=True)
    successor = PaymentSession.objects.get(restarted_from=first)
    assert landed.redirect_chain == [
        (f"/pay/{successor.session_id}/recovered/", 303),
        (f"/pay/{successor.session_id}/", 302),
    ]
    assert landed.status_code == 200
    assert "<iframe" in landed.content.decode()


def test_the_recovered_page_is_only_for_a_session_a_used_link_made(shop: Any) -> None:
    Client().post("/products/maple-syrup/checkout/", BUYER)
    first = PaymentSession.objects.get()
    successor = restart_session(first).session  # the shop's own Start again: no recovery link involved
    for session in (first, successor):
        assert Client().get(f"/pay/{session.session_id}/recovered/").status_code == 404
