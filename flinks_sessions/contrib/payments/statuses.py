"""What a session's state means to django-payments: one table, read top to bottom, the first match wins.

``capture=False`` (a GEFT variant whose guarantee the site decides with ``capture()`` and ``release()``) adds the
one state Flinks has no status for: the guarantee offered and waiting for the site, which django-payments calls
pre-authorized.
"""

from __future__ import annotations

from decimal import Decimal

from payments import PaymentStatus

from flinks_sessions.models import PaymentSession
from flinks_sessions.status import Product, Status

ANY = "*"
# Not a Flinks status: an open GEFT session whose guarantee offer reached the site and is not decided yet.
AWAITING_DECISION = "guarantee_awaiting_decision"

#: (session status, status details) → payment status.
TABLE: tuple[tuple[str, str, str], ...] = (
    (AWAITING_DECISION, ANY, PaymentStatus.PREAUTH),  # with capture=False only
    (Status.INITIATED, ANY, PaymentStatus.WAITING),
    (Status.IN_PROGRESS, ANY, PaymentStatus.INPUT),
    (Status.COMPLETED, "EFT0302", PaymentStatus.INPUT),  # completed, the funds not settled yet
    (Status.COMPLETED, ANY, PaymentStatus.CONFIRMED),  # EFT0301: settled
    (Status.FAILED, ANY, PaymentStatus.REJECTED),
    (Status.CANCELLED, ANY, PaymentStatus.CANCELLED),
    (Status.EXPIRED, ANY, PaymentStatus.REJECTED),
)


def awaiting_decision(session: PaymentSession) -> bool:
    return bool(
        session.product == Product.GEFT
        and session.is_open
        and session.guarantee_offered_at is not None
        and not session.guarantee_decision
    )


def payment_status(session: PaymentSession, *, capture: bool) -> str:
    """The django-payments status of a payment whose current session is ``session``."""
    status = AWAITING_DECISION if not capture and awaiting_decision(session) else session.status
    for row_status, details, payment in TABLE:
        if row_status == status and details in (ANY, session.status_details):
            return payment
    raise ValueError(f"no payment status for session status {status!r}")  # every Status has a row


def captured_amount(session: PaymentSession) -> Decimal | None:
    """What Flinks settled (less than asked, after a reduced offer), else the amount asked for."""
    return session.settled_amount if session.settled_amount is not None else session.amount
