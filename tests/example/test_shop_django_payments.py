"""The example shop's second checkout, ``SHOP_CHECKOUT=django-payments``: the same pages, a django-payments Payment.

The product form posts as before; the shop creates a ``Payment`` on the ``flinks`` variant and follows
``get_form()`` to the provider's checkout page, then to its own outcome page once the session has ended.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from flinks_sessions.models import PaymentSession
from tests.example.test_example_shop import BUYER
from tests.extras import import_or_missing

import_or_missing("payments", "needs django-payments: pip install -e '.[test]'")

pytestmark = pytest.mark.django_db


@pytest.fixture
def payments_shop(shop: Any, settings: Any) -> Any:
    settings.SHOP_CHECKOUT = "django-payments"
    settings.PAYMENT_MODEL = "shop_payments.Payment"
    return shop


def test_the_checkout_goes_through_django_payments(
    payments_shop: Any, client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    from payments import PaymentStatus, get_payment_model

    answer = client.post("/products/maple-syrup/checkout/", BUYER)

    payment = get_payment_model().objects.get()
    assert (payment.variant, payment.currency, payment.total) == ("flinks", "CAD", Decimal("100.00"))
    assert answer.status_code == 302
    assert answer["Location"] == f"/payments/flinks/{payment.token}/"
    session = PaymentSession.objects.get(session_id=payment.transaction_id)
    assert session.reference_id == payment.token
    page = client.get(answer["Location"])
    assert page.status_code == 200
    assert "data-flinks-checkout" in page.content.decode()

    payments_shop.control().pay(str(session.session_id))
    with django_capture_on_commit_callbacks(execute=True):  # the signals the payment follows, as on a commit
        call_sync()
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CONFIRMED
    done = client.get(payment.get_process_url())
    assert done["Location"] == f"/pay/{session.session_id}/done/"
    assert client.get(done["Location"]).status_code == 200  # the shop's own outcome page: this browser's


def call_sync() -> None:
    from io import StringIO

    from django.core.management import call_command

    call_command("flinks_sync_sessions", stdout=StringIO(), stderr=StringIO())
