"""The benches cannot rot unseen: each takes ``--smoke`` (CI runs ``make bench-smoke``); raw SQL follows models."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from bench.benchdb import insert_columns
from flinks_sessions.models import PaymentSession, SessionEvent, WebhookDelivery

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted(path for path in (ROOT / "bench").glob("*.py") if path.name != "benchdb.py")


def test_the_benches_are_found() -> None:
    assert {path.name for path in SCRIPTS} >= {"beacon.py", "bulk_cancel.py", "webhooks.py"}


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.name)
def test_every_bench_takes_smoke(script: Path) -> None:
    """``make bench-smoke`` passes ``--smoke`` to every script; one that did not know it would fail in CI."""
    shown = subprocess.run(  # noqa: S603 - our own scripts
        [sys.executable, str(script), "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    assert "--smoke" in shown.stdout


def test_a_raw_insert_that_leaves_a_required_column_out_is_refused_by_name() -> None:
    with pytest.raises(SystemExit, match="received_at"):
        insert_columns(WebhookDelivery, {"body": "%(body)s"}, connection)


def test_a_raw_insert_from_the_model_fills_every_other_column(db: None) -> None:
    session = PaymentSession.objects.create(reference_id="bench", amount=1)
    columns, values, params = insert_columns(
        SessionEvent,
        {"session_id": "%(pk)s", "kind": "'transition'", "source": "'webhook'", "created_at": "%(now)s"},
        connection,
    )
    from django.utils import timezone

    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {SessionEvent._meta.db_table} ({columns}) VALUES ({values})",  # noqa: S608
            {**params, "pk": session.pk, "now": timezone.now()},
        )
    event = SessionEvent.objects.get(session=session, kind="transition")
    assert (event.payload, event.reason, event.announce_attempts) == ({}, "", 0)
