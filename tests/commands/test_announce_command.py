"""``flinks_announce_pending`` for cron and for the operator who just fixed a receiver (``--now``)."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from flinks_sessions.models import Announcement, SessionEvent
from flinks_sessions.status import Status
from flinks_sessions.tasks import announce_pending_task
from tests.announce_helpers import Receiver, move, receiving
from tests.factories import new_session

pytestmark = pytest.mark.django_db


def failing_row() -> SessionEvent:
    session = new_session()
    move(session, Status.IN_PROGRESS, "InProgress")
    event = session.events.get()
    SessionEvent.objects.filter(pk=event.pk).update(
        announcement=Announcement.FAILING,
        announce_attempts=1,
        announce_next_at=timezone.now() + timedelta(hours=1),
    )
    return event


def run(*args: str) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("flinks_announce_pending", *args, stdout=out)
    except SystemExit as exc:
        return int(exc.code or 0), out.getvalue()
    return 0, out.getvalue()


def test_cron_leaves_a_failing_row_to_its_backoff_and_now_sends_it() -> None:
    event = failing_row()
    with receiving(Receiver()) as receiver:
        assert run() == (0, "0 announced, 0 failing again, 0 sessions held by another run.\n")
        assert receiver.calls == []
        assert run("--now") == (0, "1 announced, 0 failing again, 0 sessions held by another run.\n")
    assert [(kwargs["event_id"], kwargs["attempt"]) for _, kwargs in receiver.calls] == [(event.pk, 2)]


def test_a_receiver_still_failing_exits_1_for_cron() -> None:
    failing_row()
    with receiving(Receiver(lambda name, kwargs: True)):
        code, out = run("--now")
    assert (code, out) == (1, "0 announced, 1 failing again, 0 sessions held by another run.\n")


def test_pending_rows_wait_for_the_grace_period() -> None:
    session = new_session()
    move(session, Status.IN_PROGRESS, "InProgress")  # committed; its worker died before sending
    with receiving(Receiver()) as receiver:
        assert run()[1].startswith("0 announced")
        assert run("--grace", "0")[1].startswith("1 announced")
    assert len(receiver.calls) == 1


@pytest.mark.parametrize(
    ("option", "value"), [("--grace", "-1"), ("--grace", "1e400"), ("--grace", "nan"), ("--limit", "0")]
)
def test_out_of_range_arguments_are_command_errors(option: str, value: str) -> None:
    with pytest.raises(CommandError, match=option):
        call_command("flinks_announce_pending", option, value)


def test_the_task_entry_point_runs_the_same_sweep() -> None:
    failing_row()
    with receiving(Receiver()):
        result = announce_pending_task.call(ignore_backoff=True)
    assert result == {"announced": 1, "failed": 0, "busy": 0}
