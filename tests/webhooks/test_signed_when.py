"""``WEBHOOK_MAX_AGE`` is a window on both sides of now: a signed ``when`` far in the future is refused too.

A replayed delivery is old; a ``when`` an hour ahead is no fresher (a sender's clock that is badly off, or a
delivery signed to be replayed later), so it is refused like a replay: 401, stored as ``invalid_signature``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from flinks_sessions.models import PaymentSession, WebhookDelivery
from tests.webhooks.helpers import status_webhook

Outcome = WebhookDelivery.Outcome


@pytest.mark.parametrize(("offset", "expected"), [(-600, 401), (3600, 401), (-5, 200), (5, 200)])
def test_the_signed_when_must_be_within_the_window_either_way(
    deliver: Any, make_session: Any, settings: Any, offset: int, expected: int
) -> None:
    settings.FLINKS_SESSIONS = {**settings.FLINKS_SESSIONS, "WEBHOOK_MAX_AGE": 300}
    session = make_session()
    when = datetime.now(UTC) + timedelta(seconds=offset)

    response = deliver(status_webhook(session, "Completed", "EFT0301", when=when))

    assert response.status_code == expected
    delivery = WebhookDelivery.objects.get()
    session.refresh_from_db()
    if expected == 401:
        assert (delivery.outcome, delivery.signature_valid) == (Outcome.INVALID_SIGNATURE, False)
        assert "WEBHOOK_MAX_AGE" in delivery.error
        assert session.status == PaymentSession.Status.INITIATED
    else:
        assert delivery.outcome == Outcome.APPLIED
        assert session.status == PaymentSession.Status.COMPLETED
