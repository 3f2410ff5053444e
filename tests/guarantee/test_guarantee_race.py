"""Eight threads decide one guarantee at once: Flinks is asked once, one decision is stored and announced.

The others are told it was already decided (or is being decided): a guarantee takes one answer. PostgreSQL
only: the conditional UPDATE of the claim is what serialises them, and SQLite serialises everything anyway.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connections

from flinks_sessions import services
from flinks_sessions.models import PaymentSession, SessionEvent
from flinks_sessions.services.guarantee import DECIDED
from tests.guarantee.conftest import confirm_calls, start_geft

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

RACERS = 8
ROUNDS = 5


@pytest.mark.parametrize("round_number", range(ROUNDS))
def test_eight_threads_deciding_one_guarantee_make_one_confirm_call(
    sandbox: Any, signals: Any, round_number: int
) -> None:
    session = start_geft()
    sandbox.faults.latency = 0.05  # the winner's call is in flight while the others try
    barrier = threading.Barrier(RACERS)
    outcomes: list[services.GuaranteeOutcome] = []
    lock = threading.Lock()

    def racer(index: int) -> None:
        try:
            barrier.wait()
            mine = PaymentSession.objects.get(pk=session.pk)
            outcome = services.decide_guarantee(mine, index % 2 == 0, source="api").outcome
            with lock:
                outcomes.append(outcome)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=racer, args=(index,)) for index in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    decided = [outcome for outcome in outcomes if outcome in DECIDED]
    # Held by another caller right now, or already done: the same two outcomes as every claimed action.
    refused = [
        outcome
        for outcome in outcomes
        if outcome in (services.GuaranteeOutcome.PENDING, services.GuaranteeOutcome.ALREADY_DECIDED)
    ]
    assert len(outcomes) == RACERS
    assert len(decided) == 1, outcomes
    assert decided[0] in (services.GuaranteeOutcome.ACCEPTED, services.GuaranteeOutcome.REJECTED)
    assert len(refused) == RACERS - 1
    assert confirm_calls(sandbox) == 1
    session.refresh_from_db()
    assert session.guarantee_decision == decided[0].value
    assert session.guarantee_claim is None
    assert session.events.filter(kind=SessionEvent.Kind.GUARANTEE_DECIDED).count() == 1
    assert len(signals.named("guarantee_decided")) == 1
