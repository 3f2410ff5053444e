"""A status Flinks reports (webhook, sync) is announced after its transaction commits, and only then.

So a transition that is rolled back is never announced, and a receiver that reads the database sees the change.
(The cancel engine's own transitions: ``tests/services/test_cancel.py::test_signals_wait_for_commit``.)
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest

from flinks_sessions.client import RemoteStatus
from flinks_sessions.models import PaymentSession
from flinks_sessions.services import apply_remote_status
from flinks_sessions.status import Status
from tests.cancel_helpers import signal_log

pytestmark = pytest.mark.django_db


def test_a_reported_status_is_announced_after_commit(django_capture_on_commit_callbacks: Any) -> None:
    session = PaymentSession.objects.create(
        session_id=uuid.uuid4(), reference_id="Happy1", amount=Decimal(65)
    )
    report = RemoteStatus.from_payload(
        {"sessionId": str(session.session_id), "status": "Canceled", "statusDetails": "EFT0501"}
    )
    with signal_log() as signals:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            apply_remote_status(session, report, source="webhook")
        assert (session.status, signals.changed, signals.cancelled) == (Status.CANCELLED, {}, {})
        for callback in callbacks:
            callback()
    assert signals.changed == signals.cancelled == {session.pk: 1}
