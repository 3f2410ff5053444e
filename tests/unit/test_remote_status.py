"""RemoteStatus: the one parser of a Flinks status body, whichever endpoint or webhook it came from."""

from __future__ import annotations

from decimal import Decimal

import pytest

from flinks_sessions.client import RemoteStatus
from flinks_sessions.status import Status


def test_the_documented_shape() -> None:
    remote = RemoteStatus.from_payload(
        {
            "sessionId": "c14b050b",
            "amount": 65,
            "referenceId": "Happy1",
            "status": "Canceled",
            "statusDetails": "EFT0501",
        }
    )
    assert (remote.status, remote.raw_status, remote.status_details) == (
        Status.CANCELLED,
        "Canceled",
        "EFT0501",
    )
    assert remote.amount == Decimal(65)
    assert remote.reference_id == "Happy1"


@pytest.mark.parametrize("amount", ["NaN", "Infinity", "-inf", "", "ten", None, True, [1]])
def test_amounts_that_are_not_finite_numbers_are_dropped(amount: object) -> None:
    assert (
        RemoteStatus.from_payload({"sessionId": "x", "status": "Completed", "amount": amount}).amount is None
    )


def test_e_transfer_may_omit_status_details() -> None:
    remote = RemoteStatus.from_payload({"sessionId": "x", "status": "Cancelled"})
    assert remote.status_details is None
    assert remote.status is Status.CANCELLED
