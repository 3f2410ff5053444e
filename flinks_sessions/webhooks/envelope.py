"""The webhook envelope Flinks sends, parsed strictly enough to act on and tolerantly enough to never crash.

Flinks documents one shape (``docs/flinks-api.md``, "Webhooks")::

    {"when": "2025-11-18T14:36:48.6078123Z", "type": "SessionSetupStatusChanged",
     "payload": {"sessionId", "amount", "referenceId", "status", "statusDetails"}}

``when`` carries seven fractional digits (.NET ticks), which ``datetime.fromisoformat`` rejects on some Python
versions, so it is parsed here with a regular expression. An event type we do not know is still a valid
envelope (it is stored and acknowledged); only a status change must carry a usable payload.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from flinks_sessions.client import RemoteStatus
from flinks_sessions.exceptions import WebhookPayloadError
from flinks_sessions.safejson import JSONTooDeep, JSONUnstorable, loads

# The one event type Flinks documents; compared case-insensitively.
STATUS_CHANGED = "SessionSetupStatusChanged"

_EARLIEST = datetime.min.replace(tzinfo=UTC) + timedelta(days=1)
_LATEST = datetime.max.replace(tzinfo=UTC) - timedelta(days=1)
_TIMESTAMP = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[Tt ](?P<time>\d{2}:\d{2}:\d{2})(?:[.,](?P<fraction>\d{1,12}))?"
    r"(?P<zone>[Zz]|[+-]\d{2}:?\d{2})?$"
)


def parse_timestamp(value: str) -> datetime:
    """An aware datetime from an ISO 8601 timestamp with any number of fractional digits (truncated to µs).

    A timestamp without a zone is read as UTC, which is what Flinks sends (with a ``Z``).
    """
    match = _TIMESTAMP.match(value.strip())
    if match is None:
        raise WebhookPayloadError(f"'when' is not an ISO 8601 timestamp: {value[:40]!r}")
    try:
        moment = datetime.fromisoformat(f"{match['date']}T{match['time']}")
    except ValueError as exc:
        raise WebhookPayloadError(f"'when' is not a valid date and time: {value[:40]!r}") from exc
    micros = int((match["fraction"] or "0")[:6].ljust(6, "0"))
    zone = match["zone"]
    tz: timezone = UTC
    if zone and zone not in "Zz":
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        if offset >= timedelta(hours=24):
            raise WebhookPayloadError(f"'when' has an impossible UTC offset: {value[:40]!r}")
        tz = timezone(sign * offset)
    moment = moment.replace(microsecond=micros, tzinfo=tz)
    # Stored as a DateTimeField, converted to the database's zone: an instant within a day of the calendar's
    # ends (year 1 at +23:59, say) has no such value, and saving it would raise OverflowError (a 500).
    if not _EARLIEST <= moment <= _LATEST:
        raise WebhookPayloadError(f"'when' is out of range: {value[:40]!r}")
    return moment


@dataclass(frozen=True)
class Envelope:
    """One parsed webhook. ``remote`` is set for status changes; ``raw`` keeps the whole decoded body."""

    event_type: str
    when: datetime | None
    session_id: uuid.UUID | None
    remote: RemoteStatus | None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)


def _session_uuid(value: object) -> uuid.UUID | None:
    if not isinstance(value, str):
        return None
    try:
        return uuid.UUID(value.strip())
    except ValueError:
        return None


def parse_envelope(body: bytes) -> Envelope:
    """Decode and check a webhook body; raises :class:`WebhookPayloadError` saying what is wrong."""
    try:
        data = loads(body)
    except (JSONTooDeep, JSONUnstorable) as exc:
        raise WebhookPayloadError(f"the body is {exc}") from exc
    except (UnicodeDecodeError, ValueError) as exc:
        raise WebhookPayloadError(f"the body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise WebhookPayloadError(f"the body is a JSON {type(data).__name__}, not an object")
    event_type = data.get("type")
    if not isinstance(event_type, str) or not event_type.strip():
        raise WebhookPayloadError("'type' is missing or not a string")
    event_type = event_type.strip()
    when_raw = data.get("when")
    if when_raw is not None and not isinstance(when_raw, str):
        raise WebhookPayloadError("'when' is not a string")
    when = parse_timestamp(when_raw) if when_raw else None
    payload = data.get("payload")
    if event_type.lower() != STATUS_CHANGED.lower():
        # Not ours to interpret; keep what helps an operator find it.
        session_id = _session_uuid(payload.get("sessionId")) if isinstance(payload, dict) else None
        return Envelope(event_type, when, session_id, None, data)
    if not isinstance(payload, dict):
        raise WebhookPayloadError("'payload' is missing or not an object")
    session_id = _session_uuid(payload.get("sessionId"))
    if session_id is None:
        raise WebhookPayloadError("'payload.sessionId' is missing or not a UUID")
    status = payload.get("status")
    if not isinstance(status, str) or not status.strip():
        raise WebhookPayloadError("'payload.status' is missing or not a string")
    details = payload.get("statusDetails")
    if details is not None and not isinstance(details, str):
        raise WebhookPayloadError("'payload.statusDetails' is not a string")
    remote = RemoteStatus.from_payload(payload)
    if payload.get("amount") not in (None, "") and remote.amount is None:
        # Not a number, or "NaN"/"Infinity", which Decimal reads but no amount column holds: the parser drops
        # such an amount, and a webhook that carries one is not the documented envelope.
        raise WebhookPayloadError("'payload.amount' is not a finite number")
    return Envelope(event_type, when, session_id, remote, data)


def build_envelope(
    payload: Mapping[str, Any], *, event_type: str = STATUS_CHANGED, when: datetime | str | None = None
) -> dict[str, Any]:
    """The envelope Flinks would send for ``payload``: ``when`` in its seven-digit UTC form."""
    moment = when if when is not None else datetime.now(UTC)
    if isinstance(moment, datetime):
        moment = moment.astimezone(UTC)
        moment = f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond:06d}0Z"
    return {"when": moment, "payload": dict(payload), "type": event_type}
