"""The example shop after each outcome, as a real shop would answer it, and its prices written one way."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.utils import translation

from flinks_sessions.models import PaymentSession
from flinks_sessions.status import Status
from tests.example.test_example_shop import BUYER

pytestmark = pytest.mark.django_db(transaction=True)

NBSP = "\u00a0"


@pytest.fixture(autouse=True)
def _keep_language() -> Any:
    with translation.override("en"):
        yield


@pytest.mark.parametrize(("language", "price"), [("en", "$249.50"), ("fr", f"249,50{NBSP}$")])
def test_a_price_is_written_one_way_on_every_page(
    shop: Any, language: str, price: str, settings: Any
) -> None:
    settings.MIDDLEWARE = [
        *settings.MIDDLEWARE[:2], "django.middleware.locale.LocaleMiddleware", *settings.MIDDLEWARE[2:]
    ]  # fmt: skip
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.post("/products/canoe-paddle/checkout/", BUYER)
    session = PaymentSession.objects.get()
    PaymentSession.objects.filter(pk=session.pk).update(status=Status.CANCELLED)
    pages = [
        client.get("/").content.decode(),
        client.get("/products/canoe-paddle/").content.decode(),
        client.get(f"/pay/{session.session_id}/").content.decode(),
        client.get(f"/pay/{session.session_id}/done/").content.decode(),
    ]
    for html in pages:
        assert price in html
        assert "249.50 $" not in html
        assert "249,50 $" not in html  # never with a space that may break


def test_the_checkout_page_is_never_cached_and_shows_the_ended_state(shop: Any, client: Client) -> None:
    client.post("/products/wool-toque/checkout/", BUYER)
    session = PaymentSession.objects.get()
    assert "no-store" in client.get(f"/pay/{session.session_id}/")["Cache-Control"]
    PaymentSession.objects.filter(pk=session.pk).update(status=Status.EXPIRED)
    html = client.get(f"/pay/{session.session_id}/").content.decode()
    assert "<iframe" not in html
    assert "This payment page timed out. Nothing was charged." in html
    assert re.search(
        r'id="back"[^>]*hidden', html
    )  # "Back to the shop (cancels the payment)" no longer applies
    assert re.search(r'id="full-page"[^>]*hidden', html)
    assert "data-flinks-restart" in html


@pytest.mark.parametrize(
    ("status", "heading"),
    [
        (Status.CANCELLED, "Your payment was cancelled"),
        (Status.EXPIRED, "The payment page timed out"),
        (Status.FAILED, "The payment did not go through"),
    ],
)
def test_after_an_ended_payment_the_shop_offers_to_pay_again(
    shop: Any, client: Client, status: str, heading: str
) -> None:
    client.post("/products/wool-toque/checkout/", BUYER)
    session = PaymentSession.objects.get()
    PaymentSession.objects.filter(pk=session.pk).update(status=status)
    outcome = client.get(f"/pay/{session.session_id}/done/").content.decode()
    assert heading in outcome
    assert "Pay $39.99 again" in outcome
    again = client.post(f"/pay/{session.session_id}/again/")
    successor = PaymentSession.objects.get(restarted_from=session)
    assert again["Location"] == f"/pay/{successor.session_id}/"
    assert successor.reference_id == session.reference_id
    assert client.get(again["Location"]).status_code == 200  # this browser owns the successor too
    assert Client().get(again["Location"]).status_code == 404  # and no other does


def test_each_order_keeps_its_own_reference_and_the_sandbox_still_plays_the_scenario(
    shop: Any, client: Client
) -> None:
    """The scenario picker does not become the order's reference: two Happy2 orders are two references."""
    for _order in range(2):
        client.post("/products/wool-toque/checkout/", {**BUYER, "scenario": "Happy2"})
    first, second = PaymentSession.objects.order_by("pk")
    assert first.reference_id != second.reference_id
    for session in (first, second):
        assert session.reference_id.startswith("order-")
        assert shop.state.get(str(session.session_id)).scenario.name == "Happy2"


def test_the_thank_you_page_states_the_amount_flinks_settled_after_a_reduced_offer(
    shop: Any, client: Client
) -> None:
    """Happy2 on the cedar canoe: Flinks' guarantee covers half, and the shopper is told what was settled."""
    client.post("/products/cedar-canoe/checkout/", {**BUYER, "scenario": "Happy2"})
    session = PaymentSession.objects.get()
    assert shop.state.get(str(session.session_id)).scenario.name == "Happy2"
    shop.state.complete(str(session.session_id), source="page")  # a reduced offer, accepted (no webhook)

    thanks = client.get(f"/pay/{session.session_id}/done/").content.decode()

    session.refresh_from_db()
    assert (session.status, session.amount, session.settled_amount) == (Status.COMPLETED, 1000, 500)
    assert "Your payment of $500.00 is scheduled" in thanks
    assert "$1,000.00" not in thanks.split('id="start-again"')[0]
