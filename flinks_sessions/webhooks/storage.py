"""What is kept of a webhook request: the raw body, the headers without secrets, the sender's address.

The row is written in its own autocommit statement before any processing (the view is exempt from
``ATOMIC_REQUESTS``), so a processing error or a rolled-back transaction can never lose it: Flinks sends each
webhook once and never retries, and this log is what an operator reprocesses from.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from django.http import HttpRequest

from flinks_sessions.conf import FlinksSettings
from flinks_sessions.models import WebhookDelivery
from flinks_sessions.signatures import SignatureForm

REDACTED = "[redacted]"
_SENSITIVE_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        *(form.value.lower() for form in SignatureForm),
    }
)
_SENSITIVE_WORDS = ("secret", "token", "key", "signature", "auth", "password", "cookie")


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The request headers with every value that could be a credential replaced by ``[redacted]``."""
    cleaned: dict[str, str] = {}
    for name, value in headers.items():
        lowered = name.lower()
        sensitive = lowered in _SENSITIVE_HEADERS or any(word in lowered for word in _SENSITIVE_WORDS)
        cleaned[name] = REDACTED if sensitive else value[:1000]
    return cleaned


def remote_address(request: HttpRequest, settings: FlinksSettings) -> str | None:
    """``REMOTE_ADDR``, or the first ``X-Forwarded-For`` hop when the site says its proxy sets it.

    Only the first hop is the client; it is trusted only with ``TRUST_X_FORWARDED_FOR`` because anyone can send
    the header. A value that is not an IP address is dropped rather than stored.
    """
    candidate = request.META.get("REMOTE_ADDR", "")
    if settings.trust_forwarded_for:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded.strip():
            candidate = forwarded.split(",")[0]
    try:
        return str(ipaddress.ip_address(candidate.strip()))
    except ValueError:
        return None


def read_body(request: HttpRequest, limit: int) -> bytes | None:
    """The raw body, or ``None`` when it is larger than ``limit`` bytes (answered 413, nothing stored).

    ``Content-Length`` is checked first so an oversized body is never read; the read itself is bounded too,
    for servers that stream a body without announcing its length.
    """
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return None
    body = request.read(limit + 1)
    return None if len(body) > limit else body


def store_delivery(
    request: HttpRequest, body: bytes, settings: FlinksSettings, **fields: Any
) -> WebhookDelivery:
    """Insert the delivery row: one statement, committed at once outside any request transaction."""
    return WebhookDelivery.objects.create(
        remote_addr=remote_address(request, settings),
        headers=redact_headers(request.headers),
        body=body,
        **fields,
    )
