"""``flinks_prune_webhooks``: old deliveries go, in batches; recent ones and sessions stay."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from flinks_sessions.models import WebhookDelivery

pytestmark = pytest.mark.django_db


def _deliveries(count: int, age: timedelta, outcome: str = WebhookDelivery.Outcome.APPLIED) -> None:
    rows = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(body=b"{}", outcome=outcome) for _ in range(count)
    )
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


def test_keeps_deliveries_never_processed_or_ended_in_error() -> None:
    """Flinks never sends a webhook twice: an unapplied delivery is the only record of that status."""
    _deliveries(4, timedelta(days=100))
    _deliveries(2, timedelta(days=100), WebhookDelivery.Outcome.RECEIVED)
    _deliveries(1, timedelta(days=100), WebhookDelivery.Outcome.ERROR)
    output = _run("--older-than", "90d")
    assert "Deleted 4 of 7 webhook deliveries" in output
    assert "Kept 3 older deliveries: 2 never processed, 1 ended in an error" in output
    assert "--include-unprocessed" in output
    assert set(WebhookDelivery.objects.values_list("outcome", flat=True)) == {"received", "error"}


def test_the_dry_run_counts_what_it_would_keep() -> None:
    _deliveries(1, timedelta(days=100), WebhookDelivery.Outcome.ERROR)
    _deliveries(2, timedelta(days=100))
    output = _run("--older-than", "90d", "--dry-run")
    assert "Would delete 2 of 3" in output
    assert "Kept 1 older deliveries: 0 never processed, 1 ended in an error" in output


def test_include_unprocessed_deletes_them_too() -> None:
    _deliveries(2, timedelta(days=100), WebhookDelivery.Outcome.RECEIVED)
    _deliveries(1, timedelta(days=100), WebhookDelivery.Outcome.ERROR)
    _deliveries(1, timedelta(days=100))
    output = _run("--older-than", "90d", "--include-unprocessed")
    assert "Deleted 4 of 4 webhook deliveries" in output
    assert "Kept" not in output
    assert not WebhookDelivery.objects.exists()
