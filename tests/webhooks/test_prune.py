"""``flinks_prune_webhooks``: old deliveries go, in batches; recent ones and sessions stay."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from flinks_sessions.models import WebhookDelivery

pytestmark = pytest.mark.django_db


def _deliveries(count: int, age: timedelta) -> None:
    rows = WebhookDelivery.objects.bulk_create(WebhookDelivery(body=b"{}") for _ in range(count))
    WebhookDelivery.objects.filter(pk__in=[row.pk for row in rows]).update(received_at=timezone.now() - age)


def _run(*args: str) -> str:
    out = StringIO()
    call_command("flinks_prune_webhooks", *args, stdout=out)
    return out.getvalue()


def test_prunes_in_batches_and_keeps_recent_rows() -> None:
    _deliveries(25, timedelta(days=100))
    _deliveries(5, timedelta(days=10))
    output = _run("--older-than", "90d", "--batch-size", "10", "--verbosity", "2")
    assert "Deleted 25 of 30 webhook deliveries" in output
    assert "in 3 batch(es)" in output
    assert output.count("Batch ") == 3
    assert WebhookDelivery.objects.count() == 5


def test_dry_run_deletes_nothing() -> None:
    _deliveries(3, timedelta(days=100))
    assert "Would delete 3 of 3" in _run("--older-than", "90d", "--dry-run")
    assert WebhookDelivery.objects.count() == 3


def test_default_is_90_days() -> None:
    _deliveries(2, timedelta(days=91))
    _deliveries(2, timedelta(days=89))
    assert "Deleted 2 of 4" in _run()


@pytest.mark.parametrize("args", [("--older-than", "soon"), ("--older-than", "0d"), ("--batch-size", "0")])
def test_bad_arguments(args: tuple[str, ...]) -> None:
    with pytest.raises(CommandError):
        _run(*args)
