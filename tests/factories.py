"""The shopper and the stored session the tests start from, written once.

``new_session`` stores a row as ``start_session`` would leave it, without Flinks (no sandbox, no HTTP):
a test names only the fields it is about. Sessions that must also exist in the sandbox come from
``tests.cancel_helpers.make_sessions``.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from flinks_sessions.models import PaymentSession

PAYOR = {"firstName": "John", "lastName": "Doe", "email": "john@example.com"}
# A GEFT payor: the shopper's bank confirms who they are, so Flinks takes no email.
GEFT_PAYOR = {key: value for key, value in PAYOR.items() if key != "email"}


def new_session(**fields: Any) -> PaymentSession:
    """An open session with a fresh Flinks id, reference ``ORDER-1`` and 10.00; ``fields`` override any of them."""
    values: dict[str, Any] = {
        "session_id": uuid.uuid4(),
        "reference_id": "ORDER-1",
        "amount": "10.00",
        **fields,
    }
    if values["amount"] is not None:
        values["amount"] = Decimal(values["amount"])  # as start_session stores it, whatever the test wrote
    return PaymentSession.objects.create(**values)
