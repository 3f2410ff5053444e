"""``manage.py flinks_recover_sessions`` and ``sweeps.tasks.recover_sessions_task``: the due orders, once each."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from flinks_sessions.models import RecoveryNotice
from flinks_sessions.sweeps.tasks import recover_sessions_task
from tests.recovery.helpers import abandoned, notices, recovery_settings, use_mail_backend

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _due_at_once(settings: Any) -> None:
    recovery_settings(settings)


def run(*args: str) -> str:
    out = StringIO()
    call_command("flinks_recover_sessions", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_dry_run_lists_the_due_orders_and_sends_nothing() -> None:
    due = abandoned(reference_id="DUE-1")
    abandoned(reference_id="NO-CONSENT", consent=False)
    with notices() as heard:
        out = run("--dry-run")
    assert f"{due.session_id} DUE-1 due" in out
    assert "NO-CONSENT" not in out
    assert "Dry run: would send 1 recovery notices; nothing was sent." in out
    assert heard == []
    assert not RecoveryNotice.objects.exists()


def test_the_sweep_sends_each_due_order_once_and_says_so() -> None:
    abandoned(reference_id="A")
    abandoned(reference_id="B", account="default")
    with notices() as heard:
        out = run()
        again = run("--reference", "A")
    assert "Sent 2 of 2 recovery notices: 2 sent, 0 already sent, 0 not due, 0 failed" in out
    assert "Sent 0 of 0 recovery notices" in again
    assert sorted(kwargs["session"].reference_id for kwargs in heard) == ["A", "B"]


def test_filters_narrow_the_orders() -> None:
    abandoned(reference_id="KEEP")
    abandoned(reference_id="LEAVE")
    with notices() as heard:
        run("--reference", "KEEP", "--account", "default", "--limit", "5")
    assert [kwargs["session"].reference_id for kwargs in heard] == ["KEEP"]


def test_a_failed_notice_exits_1_unless_told_not_to(settings: Any) -> None:
    recovery_settings(settings, RECOVERY_EMAIL=True)
    use_mail_backend(settings, "tests.recovery.failing_mail.Backend")
    abandoned(reference_id="F-1")
    with pytest.raises(CommandError, match=r"1 failed; first error: .*ConnectionRefusedError") as raised:
        run()
    assert raised.value.returncode == 1
    abandoned(reference_id="F-2")
    assert "1 failed" in run("--no-fail-on-error")


def test_the_task_runs_the_sweep() -> None:
    """A site schedules this instead of cron; the Immediate backend runs it inline here."""
    abandoned(reference_id="TASK")
    with notices() as heard:
        result = recover_sessions_task.enqueue(limit=10)
    assert result.return_value == {"sent": 1, "total": 1}
    assert len(heard) == 1
