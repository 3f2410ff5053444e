"""OpenTelemetry spans, seen through the SDK's in-memory exporter as a site's tracing backend would see them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from flinks_sessions.api import exit_token
from flinks_sessions.services import CancelOutcome, cancel_session, start_session
from flinks_sessions.testing import signed_webhook
from flinks_sessions.tracing import SESSION_ID
from tests.extras import import_or_missing
from tests.factories import PAYOR

trace = import_or_missing("opentelemetry.trace", "the `tracing` extra is not installed")
sdk_trace = import_or_missing("opentelemetry.sdk.trace", "opentelemetry-sdk is not installed")
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402

pytestmark = pytest.mark.django_db

_EXPORTER = InMemorySpanExporter()


@pytest.fixture(scope="module", autouse=True)
def _provider() -> None:
    """The process's tracer provider (OpenTelemetry allows setting it once), exporting to memory."""
    provider = sdk_trace.TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))
    trace.set_tracer_provider(provider)


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    _EXPORTER.clear()
    yield _EXPORTER
    _EXPORTER.clear()


def by_name(exporter: InMemorySpanExporter) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    for span in exporter.get_finished_spans():
        found.setdefault(span.name, []).append(span)
    return found


def test_a_cancel_produces_its_span_with_the_flinks_call_inside(sandbox: Any, spans: Any) -> None:
    session = start_session(amount="100.00", reference_id="Happy1", payor=PAYOR)
    sandbox.faults.fail_next_calls(503)  # the token call: answered 503, then retried
    spans.clear()

    assert cancel_session(session, source="admin").outcome is CancelOutcome.CANCELLED

    found = by_name(spans)
    [cancel] = found["flinks_sessions.cancel"]
    assert cancel.attributes[SESSION_ID] == str(session.session_id)
    assert cancel.attributes["flinks_sessions.source"] == "admin"
    assert cancel.attributes["flinks_sessions.outcome"] == "cancelled"
    [call] = found["flinks_sessions.flinks.cancel"]
    assert call.parent.span_id == cancel.context.span_id
    assert call.attributes[SESSION_ID] == str(session.session_id)
    assert call.attributes["http.response.status_code"] == 200
    tokens = found["flinks_sessions.flinks.token"]
    assert [span.attributes["http.response.status_code"] for span in tokens] == [503, 200]
    assert all(span.parent.span_id == cancel.context.span_id for span in tokens)


def test_beacons_tasks_and_webhooks_have_spans(
    sandbox: Any, spans: Any, client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    session = start_session(amount="100.00", reference_id="Happy1", payor=PAYOR)
    other = start_session(amount="10.00", reference_id="Happy2", payor=PAYOR)
    spans.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = Client().post(
            f"/flinks/sessions/{session.session_id}/exit/", {"token": exit_token(session)}
        )
    assert response.status_code == 202
    webhook = signed_webhook(sessionId=str(other.session_id), status="Completed", statusDetails="EFT0301")
    with django_capture_on_commit_callbacks(execute=True):
        assert webhook.post(client).status_code == 200

    found = by_name(spans)
    [beacon] = found["flinks_sessions.beacon"]
    assert beacon.attributes[SESSION_ID] == str(session.session_id)
    assert beacon.attributes["flinks_sessions.outcome"] == "queued"
    [task] = found["flinks_sessions.task.cancel_session"]  # the test settings run tasks at once
    assert task.attributes[SESSION_ID] == str(session.session_id)
    [cancel] = found["flinks_sessions.cancel"]
    assert cancel.parent.span_id == task.context.span_id
    [received] = found["flinks_sessions.webhook"]
    assert received.attributes[SESSION_ID] == str(other.session_id)
    assert received.attributes["http.response.status_code"] == 200
    assert received.attributes["flinks_sessions.delivery_id"] >= 1
