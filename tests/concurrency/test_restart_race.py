"""Start again under fire: a double click and a second tab race to restart one ended session.

PostgreSQL only: the restart claim is a conditional UPDATE whose WHERE clause a second transaction re-reads
after the first commits, which is what serialises the racers here.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connections

from flinks_sessions.models import PaymentSession, SessionEvent
from flinks_sessions.services import RestartOutcome, restart_session
from tests.cancel_helpers import PAYOR, cancel_calls, make_session

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROUNDS = 10
RACERS = 8


def race_once(session: PaymentSession) -> tuple[list[str], list[str]]:
    """RACERS threads restart ``session`` at once; returns the successor ids (or "pending") and any errors."""
    start = threading.Barrier(RACERS, timeout=60)
    answers: list[str] = []
    errors: list[str] = []

    def racer() -> None:
        try:
            start.wait()
            result = restart_session(PaymentSession.objects.get(pk=session.pk), source="beacon")
            if result.outcome is RestartOutcome.PENDING:
                answers.append("pending")
            elif result.outcome in (RestartOutcome.CREATED, RestartOutcome.EXISTED):
                answers.append(str(result.session.session_id))
            else:
                errors.append(f"{result.outcome}: {result.error}")
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=racer, daemon=True) for _ in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return answers, errors


def test_racing_restarts_create_one_successor_at_flinks(sandbox: Any) -> None:
    for round_number in range(ROUNDS):
        session = make_session(sandbox, reference=f"RESTART-{round_number}", start_params={"payor": PAYOR})
        before = sandbox.count(method="POST", path_suffix="/api/v2/sessions")
        answers, errors = race_once(session)
        where = f"round {round_number}: {answers} {errors}"
        assert not errors, where
        assert sandbox.count(method="POST", path_suffix="/api/v2/sessions") - before == 1, where
        successors = PaymentSession.objects.filter(restarted_from=session)
        assert successors.count() == 1, where
        assert {answer for answer in answers if answer != "pending"} == {str(successors.get().session_id)}
        assert cancel_calls(sandbox, session) <= 1, where
        assert SessionEvent.objects.filter(session=session, kind=SessionEvent.Kind.RESTARTED).count() == 1
        # Whoever was told "pending" gets the successor by asking again.
        assert restart_session(PaymentSession.objects.get(pk=session.pk)).session == successors.get()
