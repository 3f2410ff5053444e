"""The abandoned checkouts the recovery tests start from, and a listener for the notice's signal."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import django
from django.utils import timezone

from flinks_sessions import signals
from flinks_sessions.models import PaymentSession
from flinks_sessions.status import Source, Status
from tests.factories import PAYOR, new_session


def recovery_settings(settings: Any, **overrides: Any) -> None:
    """``RECOVERY_DELAY`` 0 (due as soon as ended) unless overridden."""
    settings.FLINKS_SESSIONS = {**settings.FLINKS_SESSIONS, "RECOVERY_DELAY": 0, **overrides}


def use_mail_backend(settings: Any, backend: str) -> None:
    """Send the app's email through ``backend``: ``MAILERS`` from Django 6.1 (``EMAIL_BACKEND`` is deprecated there)."""
    if django.VERSION >= (6, 1):
        settings.MAILERS = {"default": {"BACKEND": backend}}
    else:
        settings.EMAIL_BACKEND = backend


def abandoned(
    *,
    consent: bool = True,
    status: str = Status.EXPIRED,
    ended_ago: timedelta = timedelta(hours=2),
    **fields: Any,
) -> PaymentSession:
    """A session that ended abandoned ``ended_ago`` (expired, or cancelled by the shopper's browser)."""
    values: dict[str, Any] = {
        "recovery_consent": consent,
        "status": status,
        "start_params": {"payor": PAYOR},
        **fields,
    }
    if status == Status.CANCELLED:
        values.setdefault("cancel_source", Source.BEACON)
    session = new_session(**values)
    ended = timezone.now() - ended_ago
    PaymentSession.objects.filter(pk=session.pk).update(
        updated_at=ended, cancelled_at=ended if status == Status.CANCELLED else None
    )
    session.refresh_from_db()
    return session


@contextmanager
def notices() -> Iterator[list[dict[str, Any]]]:
    """Every ``session_abandoned`` sent while the block runs."""
    heard: list[dict[str, Any]] = []

    def receiver(sender: Any, **kwargs: Any) -> None:
        heard.append(kwargs)

    signals.session_abandoned.connect(receiver, weak=False)
    try:
        yield heard
    finally:
        signals.session_abandoned.disconnect(receiver)
