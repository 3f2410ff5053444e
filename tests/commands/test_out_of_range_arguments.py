"""Out-of-range arguments from a shell or a cron line: a clean ``CommandError``, never a traceback."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from flinks_sessions.sweeps.selection import parse_duration

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("command", "age"),
    [
        ("flinks_cancel_sessions", "99999999d"),
        ("flinks_cancel_sessions", "999999999999w"),
        ("flinks_sync_sessions", "99999999d"),
        ("flinks_prune_webhooks", "999999999d"),
        ("flinks_prune_webhooks", "9" * 400 + "s"),
    ],
)
def test_an_age_beyond_the_calendar_is_a_command_error(command: str, age: str) -> None:
    with pytest.raises(CommandError, match=r"older-than|duration"):
        call_command(command, "--older-than", age, "--dry-run", stdout=StringIO(), stderr=StringIO())


def test_a_grace_beyond_the_calendar_is_a_command_error() -> None:
    with pytest.raises(CommandError):
        call_command(
            "flinks_cancel_sessions", "--retry-failed", "--grace", "99999999d", "--dry-run", stdout=StringIO()
        )


@pytest.mark.parametrize("value", ["99999999d", "1e400s", "9" * 400 + "s", "365001d"])
def test_parse_duration_refuses_what_no_datetime_can_subtract(value: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(value)


def test_parse_duration_still_reads_long_ages() -> None:
    assert parse_duration("36500d").days == 36500


@pytest.mark.parametrize(
    ("command", "option", "others"),
    [
        ("flinks_sync_sessions", "--limit", ["--dry-run"]),
        ("flinks_cancel_sessions", "--limit", ["--retry-failed", "--dry-run"]),
        ("flinks_recover_sessions", "--limit", ["--dry-run"]),
        ("flinks_reprocess_webhooks", "--limit", ["--dry-run"]),
        ("flinks_announce_pending", "--limit", []),
        ("flinks_prune_webhooks", "--batch-size", ["--dry-run"]),
    ],
)
def test_a_count_beyond_any_database_limit_is_a_command_error(
    command: str, option: str, others: list[str]
) -> None:
    """20 digits reached the database as a LIMIT it cannot hold: ``DataError: bigint out of range`` on PostgreSQL,
    ``IntegrityError: datatype mismatch`` on SQLite, as a traceback from a cron line."""
    with pytest.raises(CommandError, match=option):
        call_command(command, *others, option, "99999999999999999999", stdout=StringIO(), stderr=StringIO())
