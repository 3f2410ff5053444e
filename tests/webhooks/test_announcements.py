"""500 webhook-driven transitions with a receiver that fails one call in ten: all announced, in order per session."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client

from flinks_sessions.models import Announcement, PaymentSession, SessionEvent
from flinks_sessions.services.announcements import announce_pending
from flinks_sessions.status import Status
from tests.announce_helpers import Receiver, receiving
from tests.webhooks.helpers import status_webhook

pytestmark = pytest.mark.django_db


def test_every_webhook_transition_is_announced_in_order_despite_a_flaky_receiver(
    make_session: Callable[..., PaymentSession], django_capture_on_commit_callbacks: Any
) -> None:
    chance = random.Random(22)  # a reproducible test
    sessions = [make_session() for _ in range(250)]
    # Each session goes InProgress then Completed; the sessions' webhooks arrive interleaved.
    queue = [(session, 0) for session in sessions]
    chance.shuffle(queue)
    client = Client(enforce_csrf_checks=True)
    steps = (("InProgress", None), ("Completed", "EFT0301"))
    receiver = Receiver(lambda name, kwargs: chance.random() < 0.1)
    with receiving(receiver):
        while queue:
            session, step = queue.pop(chance.randrange(len(queue)))
            with django_capture_on_commit_callbacks(execute=True):
                response = status_webhook(session, *steps[step]).post(client)
            assert response.status_code == 200
            if step == 0:
                queue.append((session, 1))
        failing = SessionEvent.objects.filter(announcement=Announcement.FAILING).count()
        assert failing > 0  # the receiver did fail, and that was recorded
        for _ in range(100):  # cron runs the sweep; an operator runs it --now
            if not SessionEvent.objects.unannounced().exists():
                break
            announce_pending(grace=timedelta(0), ignore_backoff=True)

    transitions = SessionEvent.objects.filter(kind=SessionEvent.Kind.TRANSITION)
    assert transitions.count() == 500
    assert set(transitions.values_list("announcement", flat=True)) == {Announcement.ANNOUNCED}
    assert len(receiver.handled) == 500  # each event_id handled once, after deduplication
    for session in sessions:
        assert receiver.statuses(session) == [Status.IN_PROGRESS, Status.COMPLETED]
