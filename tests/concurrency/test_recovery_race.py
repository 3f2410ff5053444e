"""Recovery sweeps racing on PostgreSQL: 8 runs at once over the same abandoned orders send one notice each.

The claim is the engine's conditional UPDATE of the session; the dedupe key is the order's notice row
(``RecoveryNotice``, unique on reference and account), inserted in the claim's transaction. Each round adds
orders whose chain has two ended sessions (so two rows of one order are candidates at once), and every runner
names every session, besides selecting the due ones itself.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest
from django.db import connections

from flinks_sessions import signals
from flinks_sessions.models import PaymentSession, RecoveryNotice
from flinks_sessions.services import send_recovery_notices
from flinks_sessions.status import Status
from tests.recovery.helpers import abandoned, recovery_settings

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROUNDS = 10
RACERS = 8
ORDERS = 3


def race(sessions: list[PaymentSession]) -> list[str]:
    """RACERS sweeps at once: half select the due orders themselves, half name every session; their errors."""
    start = threading.Barrier(RACERS, timeout=60)
    errors: list[str] = []

    def racer(number: int) -> None:
        try:
            start.wait()
            named = None if number % 2 else [PaymentSession.objects.get(pk=s.pk) for s in sessions]
            errors.extend(
                f"{result.outcome}: {result.error}"
                for result in send_recovery_notices(named, concurrency=2)
                if not result.ok
            )
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=racer, args=(n,), daemon=True) for n in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return errors


def test_racing_sweeps_send_one_notice_per_order(settings: Any) -> None:
    recovery_settings(settings)
    heard: Counter[str] = Counter()
    lock = threading.Lock()

    def receiver(sender: Any, session: PaymentSession, **kwargs: Any) -> None:
        with lock:
            heard[session.reference_id] += 1

    signals.session_abandoned.connect(receiver, weak=False)
    try:
        for round_number in range(ROUNDS):
            sessions = []
            for order in range(ORDERS):
                reference = f"R{round_number}-{order}"
                first = abandoned(reference_id=reference, status=Status.CANCELLED)
                sessions += [first, abandoned(reference_id=reference, restarted_from=first)]
                sessions.append(abandoned(reference_id=reference))  # a second, unchained attempt
            errors = race(sessions)
            where = f"round {round_number}: {errors} {dict(heard)}"
            assert not errors, where
            for order in range(ORDERS):
                assert heard[f"R{round_number}-{order}"] == 1, where
            assert (
                RecoveryNotice.objects.filter(
                    reference_id__startswith=f"R{round_number}-", state="sent"
                ).count()
                == ORDERS
            )
            assert not PaymentSession.objects.filter(recovery_claim__isnull=False).exists(), where
    finally:
        signals.session_abandoned.disconnect(receiver)
    assert sum(heard.values()) == ROUNDS * ORDERS
