"""The counters an on-call engineer watches move by exactly what happened: one cancel, one 503, one webhook."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from flinks_sessions.api import exit_token
from flinks_sessions.client import get_client
from flinks_sessions.models import PaymentSession
from flinks_sessions.services import CancelOutcome, cancel_session, start_session
from flinks_sessions.testing import signed_webhook
from tests.factories import PAYOR, new_session
from tests.observability.conftest import moved, sample, samples

pytestmark = pytest.mark.django_db


def test_one_cancel_one_503_and_one_webhook_move_each_counter_by_one(
    sandbox: Any, client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    cancelled = start_session(amount="100.00", reference_id="Happy1", payor=PAYOR)
    completed = start_session(amount="50.00", reference_id="Happy2", payor=PAYOR)
    get_client().access_token()  # the cancel's token is already cached: its first call is the cancel
    sandbox.faults.fail_next_calls(503)
    before = samples()

    assert cancel_session(cancelled, source="admin").outcome is CancelOutcome.CANCELLED
    webhook = signed_webhook(sessionId=str(completed.session_id), status="Completed", statusDetails="EFT0301")
    with django_capture_on_commit_callbacks(execute=True):
        assert webhook.post(client).status_code == 200

    assert moved(before, samples()) == {
        # The cancel call answered 503, was retried and answered 200: two requests, two timings.
        sample("flinks_requests_total", endpoint="cancel", status="503"): 1,
        sample("flinks_requests_total", endpoint="cancel", status="200"): 1,
        sample("flinks_request_duration_seconds_count", endpoint="cancel"): 2,
        sample("cancels_total", source="admin", outcome="cancelled"): 1,
        sample("transitions_total", from_status="initiated", to_status="cancelled", source="admin"): 1,
        sample("transitions_total", from_status="initiated", to_status="completed", source="webhook"): 1,
        sample("webhooks_total", outcome="applied"): 1,
    }


def test_a_call_flinks_never_answered_counts_as_error(sandbox: Any) -> None:
    session = start_session(amount="100.00", reference_id="Happy1", payor=PAYOR)
    get_client().access_token()
    sandbox.faults.fail_next_calls("drop")
    before = samples()
    cancel_session(session, source="command")
    changes = moved(before, samples())
    assert changes[sample("flinks_requests_total", endpoint="cancel", status="error")] == 1
    assert changes[sample("flinks_requests_total", endpoint="cancel", status="200")] == 1


def test_refused_webhooks_are_counted_by_why(client: Client) -> None:
    before = samples()
    assert client.post("/flinks/webhooks/", data=b"{}", content_type="application/json").status_code == 400
    bad = signed_webhook(sessionId="00000000-0000-0000-0000-000000000001", status="Completed", secret="wrong")
    assert bad.post(client).status_code == 401
    assert moved(before, samples()) == {
        sample("webhooks_total", outcome="missing_signature"): 1,
        sample("webhooks_total", outcome="invalid_signature"): 1,
    }


def test_beacons_are_counted_by_result(sandbox: Any, django_capture_on_commit_callbacks: Any) -> None:
    session = start_session(amount="100.00", reference_id="Happy1", payor=PAYOR)
    url = f"/flinks/sessions/{session.session_id}/exit/"
    browser = Client(enforce_csrf_checks=True)
    before = samples()
    with django_capture_on_commit_callbacks(execute=True):
        assert browser.post(url, {"token": exit_token(session)}).status_code == 202
    assert browser.post(url, {"token": exit_token(session)}).status_code == 202
    assert browser.post(url, {"token": "forged"}).status_code == 403
    changes = moved(before, samples())
    assert changes[sample("beacons_total", result="queued")] == 1
    assert changes[sample("beacons_total", result="repeated")] == 1
    assert changes[sample("beacons_total", result="forbidden")] == 1
    # The beacon's cancel ran (the test settings run tasks at once) and was counted under its source.
    assert changes[sample("cancels_total", source="beacon", outcome="cancelled")] == 1


def test_a_scrape_of_metrics_reads_the_backlog_gauges_from_the_database(client: Client) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    now = timezone.now()
    overdue = new_session()
    PaymentSession.objects.filter(pk=overdue.pk).update(created_at=now - timedelta(hours=2))
    new_session()  # open, but young
    new_session(cancel_requested_at=now, attempt_count=2, cancel_failed_at=now)  # a cancel that failed twice
    new_session(cancel_requested_at=now)  # a cancel waiting for its worker
    new_session(cancel_requested_at=now, status=PaymentSession.Status.CANCELLED)  # done: not backlog
    new_session(cancel_requested_at=now, not_found_at=now)  # Flinks does not know it: not backlog

    response = client.get("/metrics")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    families = {family.name: family for family in text_string_to_metric_families(response.content.decode())}
    [overdue_sample] = families["flinks_sessions_open_sessions_overdue"].samples
    assert overdue_sample.value == 1
    backlog = {s.labels["state"]: s.value for s in families["flinks_sessions_cancel_backlog"].samples}
    assert backlog == {"failed": 1, "pending": 1}
    assert "flinks_sessions_cancels" in families  # the counters are served alongside


def test_the_backlog_costs_four_queries(client: Client, django_assert_num_queries: Any) -> None:
    """Open sessions overdue, the cancel backlog, the announcements owed, the recovery notices: one aggregate
    query each."""
    with django_assert_num_queries(4):
        assert client.get("/metrics").status_code == 200
