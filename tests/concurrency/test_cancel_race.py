"""The one rule under fire: 24 threads race to end ONE session through every trigger an operator has.

Service calls, the admin action (a logged-in operator per thread, through the test client), the management
command, and (in one variant) Flinks reporting Completed as a webhook would. A ``threading.Barrier`` releases
them together, 50 times over, each round on a fresh session. However they interleave: at most one cancel
reaches Flinks (exactly one when the session ends Cancelled), one transition is stored, one
``session_status_changed`` is sent, and ``session_cancelled`` only when it really was cancelled.

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
from django.test import Client
from django.urls import reverse

from flinks_sessions import services
from flinks_sessions.client import RemoteStatus
from flinks_sessions.models import PaymentSession, SessionEvent
from tests.cancel_helpers import cancel_calls, make_session, signal_log

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

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


Trigger = Callable[[PaymentSession, Client | None], None]


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
            assert calls <= 1, where
            assert transitions.count() == 1, where
            assert signals.changed[session.pk] == 1, where
            assert session.cancel_claim is None, where
            if session.status == PaymentSession.Status.CANCELLED:
                assert calls == 1, where
                assert signals.cancelled[session.pk] == 1, where
            else:
                assert session.status == PaymentSession.Status.COMPLETED, where
                assert signals.cancelled[session.pk] == 0, where
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
