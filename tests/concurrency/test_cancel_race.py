"""The one rule under fire: 24 threads race to end ONE session through every trigger an operator has.

Service calls, the admin action (a logged-in operator per thread, through the test client), the management
command (the batched ``cancel_sessions``), and (in one variant) Flinks reporting Completed as a webhook
would. A ``threading.Barrier`` releases them together, 50 times over, each round on a fresh session. However
they interleave: at most one cancel reaches Flinks (exactly one when the session ends Cancelled), one
transition is stored, one ``session_status_changed`` is sent, and ``session_cancelled`` only when it really
was cancelled.

The last test races the batched path against itself at scale: two ``cancel_sessions`` sweeps over the same
200 sessions, single cancels and Completed webhooks.

PostgreSQL only: ``select_for_update`` is what serialises the racers, and it does nothing on SQLite.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.core.management import call_command
from django.db import close_old_connections, connections
from django.db.models import Count, Q
from django.test import Client
from django.urls import reverse

from flinks_sessions import services
from flinks_sessions.client import RemoteStatus
from flinks_sessions.models import PaymentSession, SessionEvent
from tests.cancel_helpers import SignalLog, cancel_calls, make_session, make_sessions, signal_log

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ROUNDS = 50
RACERS = 24
CHANGELIST = "admin:flinks_sessions_paymentsession_changelist"


def via_service(session: PaymentSession, _client: Client | None) -> None:
    services.cancel_session(PaymentSession.objects.get(pk=session.pk), source="api", reason="race")


def via_admin(session: PaymentSession, client: Client | None) -> None:
    assert client is not None
    response = client.post(
        reverse(CHANGELIST),
        {"action": "cancel_selected_sessions", "_selected_action": [session.pk], "post": "yes"},
    )
    assert response.status_code == 302, response.status_code


def via_command(session: PaymentSession, _client: Client | None) -> None:
    call_command("flinks_cancel_sessions", str(session.session_id), stdout=StringIO(), stderr=StringIO())


def via_webhook(session: PaymentSession, _client: Client | None) -> None:
    # Flinks reports at any moment: before the first claim, while a cancel is in flight, or after it ended.
    time.sleep(random.uniform(0, 0.12))
    send_completed(session)


Trigger = Callable[[PaymentSession, Client | None], None]


def assert_ended_once(
    session: PaymentSession, calls: int, transitions: int, signals: SignalLog, where: str
) -> None:
    """The race's invariant for one session: ended once (Cancelled by one call, or Completed by Flinks with no
    cancel signal), one transition, one status signal, no claim left behind."""
    assert calls <= 1, where
    assert transitions == 1, where
    assert signals.changed[session.pk] == 1, where
    assert session.cancel_claim is None, where
    if session.status == PaymentSession.Status.CANCELLED:
        assert calls == 1, where
        assert signals.cancelled[session.pk] == 1, where
    else:
        assert session.status == PaymentSession.Status.COMPLETED, where
        assert signals.cancelled[session.pk] == 0, where


def race(sandbox: Any, triggers: list[Trigger]) -> list[tuple[str, int]]:
    """Run ROUNDS rounds; return each round's final status and cancel-call count (asserting as it goes)."""
    operator = User.objects.create_user("operator", is_staff=True)
    operator.user_permissions.set(
        Permission.objects.filter(codename__in=["view_paymentsession", "cancel_paymentsession"])
    )
    clients: list[Client | None] = []
    for trigger in triggers:
        client = None
        if trigger is via_admin:
            client = Client()
            client.force_login(operator)
        clients.append(client)

    start = threading.Barrier(len(triggers) + 1, timeout=60)
    finished = threading.Barrier(len(triggers) + 1, timeout=60)
    current: dict[str, PaymentSession] = {}
    errors: list[str] = []

    def racer(trigger: Trigger, client: Client | None) -> None:
        try:
            for _round in range(ROUNDS):
                start.wait()
                try:
                    trigger(current["session"], client)
                except Exception as exc:
                    errors.append(f"{trigger.__name__}: {type(exc).__name__}: {exc}")
                finished.wait()
        except threading.BrokenBarrierError:
            pass
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=racer, args=pair, daemon=True) for pair in zip(triggers, clients, strict=True)
    ]
    for thread in threads:
        thread.start()
    outcomes = []
    try:
        for round_number in range(ROUNDS):
            session = make_session(sandbox, reference=f"RACE-{round_number}")
            current["session"] = session
            with signal_log() as signals:
                start.wait()
                finished.wait()
            assert not errors, errors
            session.refresh_from_db()
            calls = cancel_calls(sandbox, session)
            transitions = SessionEvent.objects.filter(session=session, kind=SessionEvent.Kind.TRANSITION)
            where = f"round {round_number}: {session.status}, {calls} cancel calls"
            assert_ended_once(session, calls, transitions.count(), signals, where)
            outcomes.append((session.status, calls))
    finally:
        start.abort()
        finished.abort()
        for thread in threads:
            thread.join(timeout=30)
        close_old_connections()
    return outcomes


def test_service_admin_command_and_a_completed_webhook_race(sandbox: Any) -> None:
    triggers: list[Trigger] = [via_service, via_admin, via_command] * 7 + [
        via_service,
        via_webhook,
        via_webhook,
    ]
    assert len(triggers) == RACERS
    outcomes = race(sandbox, triggers)
    assert len(outcomes) == ROUNDS
    print("final status, cancel calls -> rounds:", dict(Counter(outcomes)))
    assert sandbox.count(path_suffix="/authorize") == 1  # one token for every racer of every round


def test_service_admin_and_command_race_without_a_webhook(sandbox: Any) -> None:
    triggers: list[Trigger] = [via_service, via_admin, via_command] * 8
    outcomes = race(sandbox, triggers)
    assert outcomes == [(PaymentSession.Status.CANCELLED, 1)] * ROUNDS


# --- the batched path in the race ------------------------------------------------------------------------------

BULK_ROUNDS = 3
BULK_SESSIONS = 200


def test_two_bulk_sweeps_race_single_cancels_and_webhooks(sandbox: Any) -> None:
    """Two ``cancel_sessions`` runs over the same 200 sessions (as two overlapping cron sweeps would), four
    threads cancelling each of them one by one through ``cancel_session`` (admin clicks, beacon tasks), and
    Flinks reporting Completed for a tenth of them mid-flight: still one call, one transition, one signal each.
    """
    sandbox.faults.latency = 0.005  # calls overlap the other racers' claims and finishes
    rng = random.Random(20251123)
    for round_number in range(BULK_ROUNDS):
        sessions = make_sessions(sandbox, BULK_SESSIONS, reference=f"BULK{round_number}")
        with signal_log() as signals:
            bulk_outcomes = bulk_race(sessions, completed=rng.sample(sessions, BULK_SESSIONS // 10))
        assert [sum(counts.values()) for counts in bulk_outcomes] == [BULK_SESSIONS, BULK_SESSIONS]
        rows = PaymentSession.objects.filter(pk__in=[s.pk for s in sessions]).annotate(
            transitions=Count("events", filter=Q(events__kind=SessionEvent.Kind.TRANSITION))
        )
        finals: Counter[str] = Counter()
        for row in rows:
            calls = cancel_calls(sandbox, row)
            where = f"round {round_number}, {row.reference_id}: {row.status}, {calls} cancel calls"
            assert_ended_once(row, calls, row.transitions, signals, where)
            finals[row.status] += 1
        print(f"round {round_number}: {dict(finals)}; bulk outcomes {[dict(c) for c in bulk_outcomes]}")
    assert sandbox.count(path_suffix="/authorize") == 1


def bulk_race(sessions: list[PaymentSession], *, completed: list[PaymentSession]) -> list[Counter[str]]:
    """Release two sweeps, four one-by-one cancellers and two webhook senders together; return the sweeps'
    outcome counts."""
    start = threading.Barrier(8, timeout=60)
    errors: list[str] = []
    bulk_outcomes: list[Counter[str]] = []

    def sweep() -> None:
        rows = list(PaymentSession.objects.filter(pk__in=[s.pk for s in sessions]).order_by("?"))
        results = services.cancel_sessions(rows, source="command", concurrency=16)
        bulk_outcomes.append(Counter(result.outcome.value for result in results))

    def one_by_one(seed: int) -> None:
        order = list(sessions)
        random.Random(seed).shuffle(order)
        for session in order:
            services.cancel_session(PaymentSession.objects.get(pk=session.pk), source="admin")

    def webhooks(seed: int) -> None:
        pace = random.Random(seed)
        for session in completed[seed::2]:
            time.sleep(pace.uniform(0, 0.02))
            send_completed(session)

    def guarded(job: Callable[..., None], *args: Any) -> None:
        try:
            start.wait()
            job(*args)
        except Exception as exc:
            errors.append(f"{job.__name__}: {type(exc).__name__}: {exc}")
        finally:
            connections.close_all()

    jobs: list[tuple[Any, ...]] = [
        (sweep,),
        (sweep,),
        *((one_by_one, seed) for seed in range(4)),
        (webhooks, 0),
        (webhooks, 1),
    ]
    threads = [threading.Thread(target=guarded, args=job, daemon=True) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return bulk_outcomes


def send_completed(session: PaymentSession) -> None:
    payload = {
        "sessionId": str(session.session_id),
        "referenceId": session.reference_id,
        "amount": 10.0,
        "status": "Completed",
        "statusDetails": "EFT0301",
    }
    services.apply_remote_status(
        PaymentSession.objects.get(pk=session.pk), RemoteStatus.from_payload(payload), source="webhook"
    )
