"""The mark that a row was announced commits without waiting for the disk, in its own transaction only.

Losing that mark in a crash only sends the row again (the sweep; at least once), so on PostgreSQL its UPDATE
turns ``synchronous_commit`` off for its own transaction. The setting must never reach anything else: not the
connection's next transactions, not a caller's transaction the mark would run inside.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from flinks_sessions.client import RemoteStatus
from flinks_sessions.models import Announcement, PaymentSession, SessionEvent
from flinks_sessions.services import apply_remote_status
from flinks_sessions.services.announcements import no_flush

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

NO_FLUSH = "set_config('synchronous_commit', 'off', true)"


def synchronous_commit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return str(cursor.fetchone()[0])


def test_the_mark_commits_without_waiting_for_the_disk_and_the_setting_ends_with_it() -> None:
    session = PaymentSession.objects.create(session_id=uuid.uuid4(), reference_id="Mark1", amount=Decimal(65))
    report = RemoteStatus.from_payload(
        {"sessionId": str(session.session_id), "status": "Canceled", "statusDetails": "EFT0501"}
    )
    before = synchronous_commit()
    with CaptureQueriesContext(connection) as captured:
        apply_remote_status(session, report, source="webhook")
    marks = [query["sql"] for query in captured.captured_queries if NO_FLUSH in query["sql"]]
    assert len(marks) == 1
    assert marks[0].startswith(f'UPDATE "{SessionEvent._meta.db_table}"')
    event = SessionEvent.objects.get(session=session, kind=SessionEvent.Kind.TRANSITION)
    assert event.announcement == Announcement.ANNOUNCED
    assert synchronous_commit() == before


def test_inside_a_callers_transaction_the_setting_is_left_alone() -> None:
    with transaction.atomic():
        assert NO_FLUSH not in str(no_flush(SessionEvent.objects.all()).query)
    assert NO_FLUSH in str(no_flush(SessionEvent.objects.all()).query)
