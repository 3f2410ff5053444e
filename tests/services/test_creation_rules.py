"""Each product's creation rules, against the sandbox over HTTP: what may be left out, what is refused and why."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from flinks_sessions.services import start_session
from tests.factories import GEFT_PAYOR, PAYOR

pytestmark = pytest.mark.django_db


def test_geft_may_leave_the_amount_to_the_shopper(sandbox: Any) -> None:
    session = start_session(reference_id="Happy1", payor=GEFT_PAYOR, product="geft")

    assert session.amount is None
    stored = sandbox.state.get(str(session.session_id))
    assert stored.amount is None  # nothing was sent: the shopper enters it in the hosted flow
    assert stored.guarantee["requestedAmount"] is None


def test_geft_does_not_need_an_email(sandbox: Any) -> None:
    session = start_session(
        amount="10.00", reference_id="order " + "x" * 90, payor=GEFT_PAYOR, product="geft"
    )
    assert session.session_id
    assert sandbox.state.get(str(session.session_id)).payor == GEFT_PAYOR


def test_geft_may_take_a_payee(sandbox: Any) -> None:
    session = start_session(
        amount="10.00", reference_id="Happy1", payor=GEFT_PAYOR, product="geft", payee={"name": "Shop"}
    )
    assert sandbox.state.get(str(session.session_id)).payee == {"name": "Shop"}


@pytest.mark.parametrize("amount", ["0.00", "100000.00", "0.001"])
def test_a_geft_amount_given_keeps_its_bounds(sandbox: Any, amount: str) -> None:
    with pytest.raises(ValidationError, match="amount") as info:
        start_session(amount=amount, reference_id="Happy1", payor=GEFT_PAYOR, product="geft")
    assert (info.value.code, info.value.params) == ("amount", {"field": "amount"})
    assert sandbox.request_log == []


@pytest.mark.parametrize("product", ["eft", "etransfer"])
def test_eft_and_etransfer_need_an_amount(sandbox: Any, product: str) -> None:
    with pytest.raises(ValidationError, match="amount: is required") as info:
        start_session(reference_id="Happy1", payor=PAYOR, product=product)
    assert info.value.params == {"field": "amount"}
    assert sandbox.request_log == []


@pytest.mark.parametrize("missing", ["firstName", "lastName", "email"])
def test_etransfer_needs_first_name_last_name_and_email(sandbox: Any, missing: str) -> None:
    payor = {key: value for key, value in PAYOR.items() if key != missing}
    with pytest.raises(ValidationError, match=f"payor.{missing}: is required") as info:
        start_session(amount="10.00", reference_id="Happy1", payor=payor, product="etransfer")
    assert (info.value.code, info.value.params) == ("payor", {"field": f"payor.{missing}"})
    assert sandbox.request_log == []


def test_etransfer_with_its_three_payor_fields_is_created(sandbox: Any) -> None:
    session = start_session(amount="12.50", reference_id="e-transfer 1", payor=PAYOR, product="etransfer")
    assert session.amount == Decimal("12.50")
    assert sandbox.state.get(str(session.session_id)).type == "e-Transfer"


@pytest.mark.parametrize("reference", ["has space", "x" * 37, "", "ref_underscore"])
def test_an_eft_reference_is_1_to_36_letters_digits_or_hyphens(sandbox: Any, reference: str) -> None:
    with pytest.raises(
        ValidationError, match="referenceId: must be 1 to 36 letters, digits or hyphens"
    ) as info:
        start_session(amount="10.00", reference_id=reference, payor=PAYOR)
    assert info.value.params == {"field": "referenceId"}
    assert sandbox.request_log == []


def test_an_eft_session_takes_no_payee(sandbox: Any) -> None:
    with pytest.raises(ValidationError, match="payee: is not accepted by EFT v2") as info:
        start_session(amount="10.00", reference_id="Happy1", payor=PAYOR, payee={"name": "Shop"})
    assert info.value.params == {"field": "payee"}
    assert sandbox.request_log == []


def test_an_eft_session_needs_an_email(sandbox: Any) -> None:
    with pytest.raises(ValidationError, match=r"payor\.email"):
        start_session(amount="10.00", reference_id="Happy1", payor=GEFT_PAYOR)


def test_the_sandbox_applies_the_same_rules(sandbox: Any) -> None:
    """A client that skips our checks meets the same rules upstream (the sandbox is as strict as the docs)."""
    from flinks_sessions.client import get_client
    from flinks_sessions.exceptions import FlinksBadRequest

    client = get_client()
    eft = {
        "type": "EFT",
        "direction": "DEBIT",
        "currency": "CAD",
        "referenceId": "Happy1",
        "payor": GEFT_PAYOR,
    }
    with pytest.raises(FlinksBadRequest, match="amount is required"):
        client.create_session(eft)
    with pytest.raises(FlinksBadRequest, match=r"payor\.email is required"):
        client.create_session({**eft, "amount": 10})
    created = client.create_session({**eft, "options": {"guarantee": {"enable": True}}})
    assert sandbox.state.get(created.session_id).amount is None
