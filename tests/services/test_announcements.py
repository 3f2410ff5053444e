"""Every stored transition is announced at least once, from its audit row, in stored order per session.

A shop marks an order paid on ``session_status_changed`` and releases stock on ``session_cancelled``: a crash
between the commit and the signal, or a receiver that raises, must leave the announcement owed, not lost.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from flinks_sessions.models import Announcement, PaymentSession, SessionEvent
from flinks_sessions.services.announcements import CLAIM_TTL, announce_pending, backoff
from flinks_sessions.status import Status
from tests.announce_helpers import Receiver, move, receiving
from tests.factories import new_session

pytestmark = pytest.mark.django_db

NOW = timedelta(0)


def rows(session: PaymentSession) -> list[SessionEvent]:
    return list(session.events.filter(kind=SessionEvent.Kind.TRANSITION).order_by("pk"))


def test_a_transition_is_announced_after_commit_with_its_event_id_and_marked(
    django_capture_on_commit_callbacks: Any,
) -> None:
    session = new_session()
    with receiving(Receiver()) as receiver:
        with django_capture_on_commit_callbacks() as hooks:
            move(session, Status.IN_PROGRESS, "InProgress")
        (event,) = rows(session)
        assert event.announcement == Announcement.PENDING  # stored with the row, before any signal
        assert receiver.calls == []
        for hook in hooks:  # the commit
            hook()
    event.refresh_from_db()
    assert event.announcement == Announcement.ANNOUNCED
    assert event.announce_attempts == 1
    ((name, kwargs),) = receiver.calls
    assert (name, kwargs["event_id"], kwargs["attempt"], kwargs["status"]) == (
        "status_changed",
        event.pk,
        1,
        Status.IN_PROGRESS,
    )


def test_a_cancel_announces_both_signals_under_one_event_id(django_capture_on_commit_callbacks: Any) -> None:
    session = new_session(cancel_source="beacon", cancel_reason="shopper left")
    with receiving(Receiver()) as receiver, django_capture_on_commit_callbacks(execute=True):
        move(session, Status.CANCELLED, "Canceled", "EFT0501")
    (event,) = rows(session)
    assert [(name, kwargs["event_id"]) for name, kwargs in receiver.calls] == [
        ("status_changed", event.pk),
        ("cancelled", event.pk),
    ]
    assert receiver.calls[1][1]["source"] == "beacon"  # who asked, as before


def test_a_worker_that_dies_before_sending_leaves_it_pending_and_the_sweep_sends_it_once(
    django_capture_on_commit_callbacks: Any,
) -> None:
    session = new_session()
    with django_capture_on_commit_callbacks():  # the hooks never run: the worker died after its commit
        move(session, Status.IN_PROGRESS, "InProgress")
    (event,) = rows(session)
    with receiving(Receiver()) as receiver:
        assert announce_pending().announced == 0  # within the grace period its worker may still send it
        assert announce_pending(grace=NOW).announced == 1
        assert announce_pending(grace=NOW).announced == 0
    event.refresh_from_db()
    assert event.announcement == Announcement.ANNOUNCED
    assert [(kwargs["event_id"], kwargs["attempt"]) for _, kwargs in receiver.calls] == [(event.pk, 1)]


def test_a_receiver_that_raises_twice_is_announced_on_the_third_try_in_order_holding_back_only_its_session(
    django_capture_on_commit_callbacks: Any,
) -> None:
    flaky, steady = new_session(), new_session()
    failures = {"left": 2}

    def fail(name: str, kwargs: dict[str, Any]) -> bool:
        if kwargs["session"].pk == flaky.pk and failures["left"]:
            failures["left"] -= 1
            return True
        return False

    with receiving(Receiver(fail)) as receiver:
        with django_capture_on_commit_callbacks(execute=True):
            move(flaky, Status.IN_PROGRESS, "InProgress")
        first = rows(flaky)[0]
        first.refresh_from_db()
        assert (first.announcement, first.announce_attempts) == (Announcement.FAILING, 1)
        assert "receiver down" in first.announce_error
        assert first.announce_next_at is not None
        assert first.announce_next_at > timezone.now()
        with django_capture_on_commit_callbacks(execute=True):
            move(flaky, Status.COMPLETED, "Completed", "EFT0301")  # waits: the session's first one is failing
            move(steady, Status.IN_PROGRESS, "InProgress")  # another session is not held back
        assert receiver.statuses(steady) == [Status.IN_PROGRESS]
        assert receiver.statuses(flaky) == []
        second = rows(flaky)[1]
        assert SessionEvent.objects.get(pk=second.pk).announcement == Announcement.PENDING

        assert announce_pending(grace=NOW).announced == 0  # the failing one is not due, the later one waits
        summary = announce_pending(grace=NOW, ignore_backoff=True)  # what --now does
        assert (summary.announced, summary.failed) == (0, 1)
        summary = announce_pending(grace=NOW, ignore_backoff=True)
        assert (summary.announced, summary.failed) == (2, 0)

    assert receiver.statuses(flaky) == [Status.IN_PROGRESS, Status.COMPLETED]
    first.refresh_from_db()
    assert (first.announcement, first.announce_attempts, first.announce_error) == (
        Announcement.ANNOUNCED,
        3,
        "",
    )
    attempts = [kwargs["attempt"] for _, kwargs in receiver.calls if kwargs["event_id"] == first.pk]
    assert attempts == [1, 2, 3]
    flaky.refresh_from_db()
    assert not flaky.announcements_held  # its next transition is announced right after its commit again


def test_a_failing_row_waits_for_its_backoff_unless_asked_now() -> None:
    session = new_session()
    move(session, Status.IN_PROGRESS, "InProgress")  # no commit hooks run: pending
    (event,) = rows(session)
    SessionEvent.objects.filter(pk=event.pk).update(
        announcement=Announcement.FAILING, announce_attempts=1, announce_next_at=timezone.now() + backoff(1)
    )
    with receiving(Receiver()) as receiver:
        assert announce_pending(grace=NOW).announced == 0
        assert announce_pending(at=timezone.now() + backoff(1), grace=NOW).announced == 1
    assert [kwargs["attempt"] for _, kwargs in receiver.calls] == [2]


def test_backoff_doubles_up_to_an_hour() -> None:
    assert [backoff(attempt).total_seconds() for attempt in (1, 2, 3)] == [30, 60, 120]
    assert backoff(40) == timedelta(hours=1)


def test_a_session_another_sweep_holds_is_left_to_it_until_its_claim_passes_its_ttl() -> None:
    session = new_session()
    move(session, Status.IN_PROGRESS, "InProgress")
    (event,) = rows(session)
    SessionEvent.objects.filter(pk=event.pk).update(announce_claimed_at=timezone.now())
    with receiving(Receiver()) as receiver:
        summary = announce_pending(grace=NOW)
        assert (summary.announced, summary.busy) == (0, 1)
        assert receiver.calls == []
        SessionEvent.objects.filter(pk=event.pk).update(announce_claimed_at=timezone.now() - CLAIM_TTL * 2)
        assert announce_pending(grace=NOW).announced == 1
    event.refresh_from_db()
    assert (event.announce_claim, event.announce_claimed_at) == (None, None)


def test_rows_that_announce_nothing_are_never_pending() -> None:
    session = new_session()
    move(session, Status.IN_PROGRESS, "InProgress")
    kinds = dict(session.events.values_list("kind", "announcement"))
    assert kinds == {SessionEvent.Kind.TRANSITION: Announcement.PENDING}
    session.events.create(kind=SessionEvent.Kind.SYNC_FAILED, source="sync")
    assert session.events.get(kind=SessionEvent.Kind.SYNC_FAILED).announcement == Announcement.NONE
