"""Parsing the envelope without Django's request machinery: timestamps, shapes, the builder."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from flinks_sessions.exceptions import WebhookPayloadError
from flinks_sessions.status import Status
from flinks_sessions.webhooks.envelope import build_envelope, parse_envelope, parse_timestamp
from tests.webhooks.helpers import SEED_BODY, SEED_SESSION_ID


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-11-18T14:36:48.6078123Z", datetime(2025, 11, 18, 14, 36, 48, 607812, tzinfo=UTC)),
        ("2025-11-18T14:36:48Z", datetime(2025, 11, 18, 14, 36, 48, tzinfo=UTC)),
        ("2025-11-18T14:36:48.6Z", datetime(2025, 11, 18, 14, 36, 48, 600000, tzinfo=UTC)),
        ("2025-11-18T14:36:48.607812345678z", datetime(2025, 11, 18, 14, 36, 48, 607812, tzinfo=UTC)),
        ("2025-11-18T14:36:48.6078123", datetime(2025, 11, 18, 14, 36, 48, 607812, tzinfo=UTC)),
        (
            "2025-11-18T09:36:48.6078123-05:00",
            datetime(2025, 11, 18, 9, 36, 48, 607812, tzinfo=timezone(-timedelta(hours=5))),
        ),
        ("2025-11-18 14:36:48+0000", datetime(2025, 11, 18, 14, 36, 48, tzinfo=UTC)),
    ],
)
def test_timestamps_with_any_number_of_fractional_digits(text: str, expected: datetime) -> None:
    assert parse_timestamp(text) == expected


@pytest.mark.parametrize(
    "text", ["yesterday", "2025-13-40T00:00:00Z", "2025-11-18T25:00:00Z", "2025-11-18T14:36:48+99:00"]
)
def test_bad_timestamps_are_payload_errors(text: str) -> None:
    with pytest.raises(WebhookPayloadError):
        parse_timestamp(text)


def test_seed_envelope() -> None:
    envelope = parse_envelope(SEED_BODY)
    assert envelope.event_type == "SessionSetupStatusChanged"
    assert envelope.session_id == uuid.UUID(SEED_SESSION_ID)
    assert envelope.when == datetime(2025, 11, 18, 14, 36, 48, 607812, tzinfo=UTC)
    remote = envelope.remote
    assert remote is not None
    assert (remote.status, remote.raw_status, remote.status_details) == (
        Status.CANCELLED,
        "Canceled",
        "EFT0501",
    )
    assert (remote.reference_id, remote.amount) == ("Happy1", Decimal("65"))


def test_etransfer_payload_without_status_details() -> None:
    body = json.dumps(
        {
            "type": "SessionSetupStatusChanged",
            "payload": {"sessionId": SEED_SESSION_ID, "status": "Cancelled"},
        }
    ).encode()
    remote = parse_envelope(body).remote
    assert remote is not None
    assert (remote.status, remote.status_details, remote.reference_id) == (Status.CANCELLED, None, None)


def test_other_event_types_parse_without_a_status() -> None:
    envelope = parse_envelope(b'{"type": "SomethingNew", "payload": [1]}')
    assert (envelope.event_type, envelope.remote, envelope.session_id, envelope.when) == (
        "SomethingNew",
        None,
        None,
        None,
    )


def test_event_type_is_compared_case_insensitively() -> None:
    body = json.dumps(
        {
            "type": "sessionsetupstatuschanged",
            "payload": {"sessionId": SEED_SESSION_ID, "status": "Completed"},
        }
    ).encode()
    assert parse_envelope(body).remote is not None  # read as a status change


def test_build_envelope_round_trips_with_seven_digits() -> None:
    moment = datetime(2025, 11, 18, 14, 36, 48, 607812, tzinfo=UTC)
    envelope = build_envelope({"sessionId": SEED_SESSION_ID, "status": "Completed"}, when=moment)
    assert envelope["when"] == "2025-11-18T14:36:48.6078120Z"
    assert parse_envelope(json.dumps(envelope).encode()).when == moment
