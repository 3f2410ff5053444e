"""A bad day at Flinks: 30% of API calls answer 503 and 10% hang past the client's read timeout.

``flinks_cancel_sessions`` (the batched ``cancel_sessions``: small batches at ``--concurrency 4``, large ones
at 32) over 500 sessions, then ``--retry-failed`` until nothing fails:
every session ends Cancelled, each announced exactly once, and after the first pass no session is left
without a recorded outcome (cancelled, or a failure stored for the sweep). Runs on SQLite and on PostgreSQL
(CI sets ``DATABASE_URL``).
"""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Count, Q

from flinks_sessions.models import PaymentSession, SessionEvent
from tests.cancel_helpers import make_sessions, signal_log
from tests.conftest import flinks_settings_for

# serial: a read timeout of 0.3 s against hangs of 0.45 s; on a crowded machine an ordinary answer times out
# too, and the sweeps may need more than MAX_SWEEPS rounds.
pytestmark = [pytest.mark.slow, pytest.mark.serial, pytest.mark.django_db(transaction=True)]

SESSIONS = 500
MAX_SWEEPS = 5


def cancel(*args: str, concurrency: int) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command(
            "flinks_cancel_sessions", *args, "--concurrency", str(concurrency), stdout=out, stderr=StringIO()
        )
    except CommandError as exc:
        return exc.returncode, out.getvalue()
    return 0, out.getvalue()


@pytest.mark.parametrize("concurrency", [4, 32])
def test_cancels_survive_503s_and_timeouts(sandbox: Any, settings: Any, concurrency: int) -> None:
    settings.FLINKS_SESSIONS = flinks_settings_for(
        sandbox.url,
        READ_TIMEOUT=0.3,
        CONNECT_TIMEOUT=1,
        RETRY={"ATTEMPTS": 4, "BACKOFF": 0.005, "BACKOFF_MAX": 0.02},
    )
    sessions = make_sessions(sandbox, SESSIONS, reference="FAULT", age=timedelta(minutes=5))
    sandbox.faults.update(error_rates={503: 0.3}, timeout_rate=0.1, timeout_seconds=0.45, seed=20251123)

    with signal_log() as signals:
        code, out = cancel("--older-than", "1m", concurrency=concurrency)
        assert code in (0, 1), out
        rows = PaymentSession.objects.filter(pk__in=[s.pk for s in sessions])
        # Every session has an outcome: Cancelled, or a failure recorded for the sweep. None is claimed.
        assert not rows.filter(status=PaymentSession.Status.INITIATED, last_error="").exists()
        assert not rows.filter(cancel_claim__isnull=False).exists()
        assert not rows.filter(cancel_requested_at__isnull=True).exists()
        failed_first = rows.exclude(status=PaymentSession.Status.CANCELLED).count()
        assert "failed" in out.splitlines()[-1]

        sweeps = 0
        while code != 0 and sweeps < MAX_SWEEPS:
            sweeps += 1
            code, out = cancel("--retry-failed", concurrency=concurrency)
        assert code == 0, out

    assert not rows.exclude(status=PaymentSession.Status.CANCELLED).exists()
    assert signals.cancelled == {s.pk: 1 for s in sessions}
    assert signals.changed == {s.pk: 1 for s in sessions}
    one_transition_each = rows.annotate(
        transitions=Count("events", filter=Q(events__kind=SessionEvent.Kind.TRANSITION))
    ).filter(transitions=1)
    assert one_transition_each.count() == SESSIONS
    # The audit trail adds up: every claim left an attempt, and every attempt but the last a recorded failure.
    audit = rows.annotate(
        attempts=Count("events", filter=Q(events__kind=SessionEvent.Kind.CANCEL_ATTEMPT)),
        failures=Count("events", filter=Q(events__kind=SessionEvent.Kind.CANCEL_FAILED)),
    )
    assert all(row.attempts == row.failures + 1 == row.attempt_count + 1 for row in audit)
    assert audit.filter(failures__gt=0).count() == failed_first
    # The faults really happened (the seed makes this run repeatable).
    assert sandbox.count(status=503) > 100
    assert sum(1 for entry in sandbox.request_log if entry["fault"] == "timeout") > 30
    print(f"first pass left {failed_first} for the sweep; {sweeps} sweep(s) recovered them")
