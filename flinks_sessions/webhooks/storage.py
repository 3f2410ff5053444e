"""What is kept of a webhook request: the raw body, the headers without secrets, the sender's address.

The row is written in its own autocommit statement before any processing (the view is exempt from
``ATOMIC_REQUESTS``), so a processing error or a rolled-back transaction can never lose it: Flinks sends each
webhook once and never retries, and this log is what an operator reprocesses from.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.http import HttpRequest

from flinks_sessions.conf import FlinksSettings
from flinks_sessions.forwarding import forwarded_client
from flinks_sessions.models import WebhookDelivery
from flinks_sessions.signatures import SignatureForm
from flinks_sessions.webhooks.rejected import store_rejected

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
    """The sender: ``REMOTE_ADDR``, or the X-Forwarded-For hop the ``TRUST_X_FORWARDED_FOR`` proxies appended.

    The same rule as the beacon throttle (:mod:`flinks_sessions.forwarding`): hops before those our proxies
    appended were written by the client. A value that is not an IP address is dropped rather than stored.
    """
    return forwarded_client(request.META, settings.trusted_proxies) or None


def store_delivery(
    request: HttpRequest, body: bytes, settings: FlinksSettings, **fields: Any
) -> WebhookDelivery:
    """Insert the delivery row, whole: one statement, committed at once outside any request transaction."""
    return WebhookDelivery.objects.create(
        remote_addr=remote_address(request, settings),
        headers=redact_headers(request.headers),
        body=body,
        **fields,
    )


def store_rejected_delivery(
    request: HttpRequest, body: bytes, settings: FlinksSettings, **fields: Any
) -> WebhookDelivery | None:
    """A rejected delivery, stored cut to size, or only counted (``None``) beyond the per-minute cap."""
    return store_rejected(
        body,
        redact_headers(request.headers),
        settings.webhook_rejected_per_minute,
        remote_addr=remote_address(request, settings),
        **fields,
    )
