"""A worker SIGKILLed between a commit and its announcement: the sweep announces what it owed, once per event_id.

Real processes on PostgreSQL: the worker stores transitions (autocommit, as a webhook or a task does) and parks
in its after-commit step at a chosen announcement, before any receiver ran or after they all ran but before the
row is marked; the test kills it there. The row it parked on is pending. After the grace period the sweep sends
it: the receiver (the worker's and then the sweep's, appending to one log) has seen every stored transition,
the one cut off between send and mark twice, and deduplicating on ``event_id`` leaves each once.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from flinks_sessions.models import Announcement, SessionEvent
from flinks_sessions.services.announcements import announce_pending
from flinks_sessions.signals import session_status_changed
from tests.factories import new_session
from tests.processes import Child
from tests.support import subprocess_env

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

SESSIONS = 3
PARK_AT = 4  # the second session's first transition: three announced before it, one stored, parked


@pytest.mark.parametrize("where", ["before-send", "before-mark"])
def test_a_worker_killed_between_commit_and_announcement_loses_nothing(tmp_path: Path, where: str) -> None:
    sessions = [new_session() for _ in range(SESSIONS)]
    log = tmp_path / "received.log"
    log.touch()
    worker = Child(
        [sys.executable, "-m", "tests.concurrency.announcing_worker", str(log), str(PARK_AT), where]
        + [str(session.pk) for session in sessions],
        log=tmp_path / "worker.log",
        env=subprocess_env(),
    )
    try:
        parked = worker.wait_ready(r"^parked (\d+)$", timeout=60)
    finally:
        worker.kill()
    parked_id = int(parked.group(1))

    transitions = SessionEvent.objects.filter(kind=SessionEvent.Kind.TRANSITION)
    assert (
        SessionEvent.objects.get(pk=parked_id).announcement == Announcement.PENDING
    )  # committed, not marked announced
    assert transitions.filter(announcement=Announcement.ANNOUNCED).count() == PARK_AT - 1
    assert transitions.count() == PARK_AT  # the worker died before storing the rest

    def record(sender: Any, event_id: int, attempt: int, **kwargs: Any) -> None:
        with log.open("a") as out:
            out.write(f"{event_id} {attempt}\n")

    session_status_changed.connect(record, weak=False)
    try:
        summary = announce_pending(grace=timedelta(0))
    finally:
        session_status_changed.disconnect(record)
    assert summary.announced == 1

    seen = [int(line.split()[0]) for line in log.read_text().splitlines()]
    assert set(seen) == set(transitions.values_list("pk", flat=True))  # every stored transition announced
    twice = {event_id for event_id in seen if seen.count(event_id) > 1}
    assert twice == ({parked_id} if where == "before-mark" else set())  # at least once: dedup on event_id
    assert set(transitions.values_list("announcement", flat=True)) == {Announcement.ANNOUNCED}
