"""Which 404 says "Flinks does not know this session", and which is a call that never reached Flinks' API.

Only Flinks' own not-found answer (its ``{"error": "not_found", ...}`` object or its ProblemDetails 404 naming
the session) marks a session unknown. A reverse proxy's HTML page, an empty 404 or a ``BASE_URL`` with a wrong
path is a failed call: recorded, logged at ERROR with a hint to check ``BASE_URL``, counted, nothing marked, so
the next sweep tries again. A session marked unknown that Flinks later reports is tracked again.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from flinks_sessions import metrics, services
from flinks_sessions.client import RemoteStatus
from flinks_sessions.exceptions import FlinksNotFound
from flinks_sessions.models import PaymentSession, SessionEvent
from flinks_sessions.services import CancelOutcome, SyncOutcome
from flinks_sessions.services.reports import apply_report
from flinks_sessions.status import Status
from tests.conftest import flinks_settings_for
from tests.extras import import_or_missing
from tests.standin import Reply, flinks_standin

pytestmark = pytest.mark.django_db(transaction=True)

SESSION_ID = "7c2f0d52-5b6e-4d8e-9a55-0a4f3b6c1d2e"
HTML_404 = Reply(
    status=404,
    body=b"<html><body><h1>404 Not Found</h1><hr>nginx</body></html>",
    headers={"Content-Type": "text/html"},
)
EMPTY_404 = Reply(status=404, body=b"", headers={})
OAUTH_NOT_FOUND = Reply.json(
    {"error": "not_found", "error_description": f"Session not found for client {SESSION_ID}"}, status=404
)
PROBLEM_NOT_FOUND = Reply(
    status=404,
    body=(
        b'{"type":"https://tools.ietf.org/html/rfc7231#section-6.5.4","title":"Not Found","status":404,'
        b'"detail":"Session not found for client demo"}'
    ),
    headers={"Content-Type": "application/problem+json"},
)


def stored_session(**fields: Any) -> PaymentSession:
    values: dict[str, Any] = {
        "session_id": SESSION_ID,
        "reference_id": "ORDER-404",
        "amount": Decimal("10.00"),
        "status": Status.INITIATED,
        **fields,
    }
    return PaymentSession.objects.create(**values)


def foreign_404s(endpoint: str) -> float:
    """The counter of 404s that were not Flinks' own (``0`` when the metrics extra is missing)."""
    prometheus_client = import_or_missing("prometheus_client", "the `metrics` extra is not installed")
    value = prometheus_client.REGISTRY.get_sample_value(
        f"{metrics.PREFIX}foreign_not_found_total", {"endpoint": endpoint}
    )
    return value or 0.0


@pytest.mark.parametrize("reply", [HTML_404, EMPTY_404], ids=["proxy-html", "empty"])
def test_a_404_that_is_not_flinks_fails_the_sync_and_marks_nothing(
    reply: Reply, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    session = stored_session()
    before = foreign_404s("status")
    with flinks_standin({"/status": reply}) as standin, caplog.at_level(logging.ERROR):
        settings.FLINKS_SESSIONS = flinks_settings_for(standin.url)
        result = services.sync_session(session)

    assert result.outcome is SyncOutcome.FAILED
    session.refresh_from_db()
    assert session.not_found_at is None
    assert session.attempt_count == 1
    assert "BASE_URL" in session.last_error
    assert list(session.events.values_list("kind", flat=True)) == [SessionEvent.Kind.SYNC_FAILED]
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert errors
    assert "BASE_URL" in errors[0].getMessage()
    assert foreign_404s("status") == before + 1
    assert PaymentSession.objects.open().filter(pk=session.pk).exists()  # the sweeps still see it


def test_a_proxy_404_fails_the_cancel_and_marks_nothing(settings: Any) -> None:
    session = stored_session()
    with flinks_standin({"/cancel": HTML_404}) as standin:
        settings.FLINKS_SESSIONS = flinks_settings_for(standin.url)
        result = services.cancel_session(session, source="admin")

    assert result.outcome is CancelOutcome.FAILED
    session.refresh_from_db()
    assert session.not_found_at is None
    assert session.status == Status.INITIATED
    assert session.cancel_claim is None


def test_a_wrong_base_url_path_against_the_sandbox_marks_nothing(sandbox: Any, settings: Any) -> None:
    created = services.start_session(
        amount=Decimal("65.00"),
        reference_id="ORDER-PATH",
        payor={"firstName": "John", "lastName": "Doe", "email": "john@example.com"},
    )
    settings.FLINKS_SESSIONS = flinks_settings_for(f"{sandbox.url}/flinks-api")

    synced = services.sync_session(created)
    cancelled = services.cancel_session(created, source="command")

    assert synced.outcome is SyncOutcome.FAILED
    assert cancelled.outcome is CancelOutcome.FAILED
    created.refresh_from_db()
    assert created.not_found_at is None
    assert created.status == Status.INITIATED


@pytest.mark.parametrize("reply", [OAUTH_NOT_FOUND, PROBLEM_NOT_FOUND], ids=["oauth", "problem"])
def test_flinks_own_not_found_still_marks_the_session(reply: Reply, settings: Any) -> None:
    session = stored_session()
    with flinks_standin({"/status": reply}) as standin:
        settings.FLINKS_SESSIONS = flinks_settings_for(standin.url)
        result = services.sync_session(session)

    assert result.outcome is SyncOutcome.NOT_FOUND
    session.refresh_from_db()
    assert session.not_found_at is not None


def test_the_sandbox_not_found_is_flinks_not_found(sandbox: Any) -> None:
    from flinks_sessions.client import get_client

    with pytest.raises(FlinksNotFound):
        get_client().get_status("c14b050b-6268-4f5c-9c73-80713c80edb3")


def test_a_session_marked_unknown_is_tracked_again_when_flinks_reports_it(settings: Any) -> None:
    session = stored_session(not_found_at=timezone.now())
    assert not PaymentSession.objects.open().filter(pk=session.pk).exists()

    result = apply_report(
        RemoteStatus.from_payload(
            {"sessionId": SESSION_ID, "status": "Initiated", "statusDetails": "EFT0101"}
        ),
        source="webhook",
    )

    assert result is not None
    session.refresh_from_db()
    assert session.not_found_at is None
    assert PaymentSession.objects.open().filter(pk=session.pk).exists()


def test_a_sync_that_finds_a_session_marked_unknown_tracks_it_again(settings: Any) -> None:
    session = stored_session(not_found_at=timezone.now())
    body = {"sessionId": SESSION_ID, "referenceId": "ORDER-404", "status": "InProgress"}
    with flinks_standin({"/status": Reply.json(body)}) as standin:
        settings.FLINKS_SESSIONS = flinks_settings_for(standin.url)
        result = services.sync_session(session)

    assert result.outcome is SyncOutcome.CHANGED
    session.refresh_from_db()
    assert session.not_found_at is None
    assert session.status == Status.IN_PROGRESS
