"""A failed sync or guarantee call is not a failed cancel: each action keeps its own failure.

Every call to Flinks that fails is counted and kept on the session (``attempt_count``, ``last_error``), but only
a failed *cancel* makes a standing cancel intent "failed": due for ``--retry-failed`` at once, counted by the
backlog gauge, listed by the admin's filter and the abandonment report. A graced (back/forward cache) exit must
otherwise wait for its grace period, whatever else failed on the session before.
"""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from flinks_sessions.admin.abandonment_report import Period, build
from flinks_sessions.admin.filters import CancelIntentFilter
from flinks_sessions.api.metrics import read_backlog
from flinks_sessions.models import PaymentSession
from flinks_sessions.services import (
    CancelOutcome,
    SyncOutcome,
    cancel_session,
    request_cancel,
    sync_session,
)
from flinks_sessions.services.graced import GRACED_REASON
from flinks_sessions.sweeps.selection import SessionFilters, select_retry_failed
from tests.cancel_helpers import make_session

pytestmark = pytest.mark.django_db


def _failed_sync(sandbox: Any) -> PaymentSession:
    session = make_session(sandbox, reference="SYNCFAILED")
    sandbox.faults.paths = ["/status"]
    sandbox.faults.error_rates = {503: 1.0}
    try:
        assert sync_session(session).outcome is SyncOutcome.FAILED
    finally:
        sandbox.faults.clear()
    session.refresh_from_db()
    assert session.attempt_count == 1  # the sync's failure is on record
    assert session.last_error
    return session


def _backlog() -> dict[str, float]:
    return {
        reading.labels["state"]: reading.value
        for reading in read_backlog(timedelta(minutes=30))
        if reading.name == "cancel_backlog"
    }


def _filtered(value: str) -> list[PaymentSession]:
    chosen = CancelIntentFilter(None, {"cancel": [value]}, PaymentSession, None)
    return list(chosen.queryset(None, PaymentSession.objects.all()))  # type: ignore[arg-type]


def test_a_failed_sync_does_not_make_a_graced_exit_a_failed_cancel(sandbox: Any) -> None:
    session = _failed_sync(sandbox)
    # The shopper then leaves into the back/forward cache: a graced intent, deferred by the grace period.
    assert request_cancel(session, source="beacon", reason=GRACED_REASON, delay=60)

    assert list(select_retry_failed(SessionFilters(), grace=timedelta(minutes=10))) == []
    out = StringIO()
    call_command("flinks_cancel_sessions", "--retry-failed", "--grace", "10m", "--dry-run", stdout=out)
    assert "would cancel 0 of 0" in out.getvalue()
    assert _backlog() == {"failed": 0, "pending": 1}
    assert _filtered("failed") == []
    assert _filtered("pending") == [session]
    today = timezone.localdate()
    report = build(Period(today - timedelta(days=1), today + timedelta(days=1)))
    assert (report.failed_cancels, report.pending_cancels) == (0, 1)

    # Once the grace period is over, the intent is due like any other.
    assert list(select_retry_failed(SessionFilters(), grace=timedelta(0))) == [session]


def test_a_failed_cancel_is_a_failed_cancel(sandbox: Any) -> None:
    session = make_session(sandbox, reference="CANCELFAILED")
    sandbox.faults.paths = ["/cancel"]
    sandbox.faults.error_rates = {503: 1.0}
    try:
        assert cancel_session(session, source="command").outcome is CancelOutcome.FAILED
    finally:
        sandbox.faults.clear()

    assert list(select_retry_failed(SessionFilters(), grace=timedelta(minutes=10))) == [session]
    assert _backlog() == {"failed": 1, "pending": 0}
    assert _filtered("failed") == [session]
    assert _filtered("pending") == []
    today = timezone.localdate()
    report = build(Period(today - timedelta(days=1), today + timedelta(days=1)))
    assert (report.failed_cancels, report.pending_cancels) == (1, 0)
