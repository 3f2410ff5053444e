"""Sessions that exist both here and in the sandbox, made fast, and receivers that count signals.

Shared by the admin, command and concurrency tests of the cancellation work. Sessions are created straight in
the sandbox's in-process state (no token spent, no HTTP) and stored with ``bulk_create``, so a test can make
hundreds in a fraction of a second and still cancel them over real HTTP.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from flinks_sessions.models import PaymentSession
from flinks_sessions.sandbox.validation import validate_new_session
from flinks_sessions.services.start import build_session_body
from flinks_sessions.signals import session_cancelled, session_status_changed
from tests.factories import PAYOR


def remote_session(
    sandbox: Any, *, reference: str = "ORDER-1", product: str = "eft", amount: str = "10.00"
) -> str:
    """A session in the sandbox's state, as if created through the API; returns its id."""
    body = build_session_body(product=product, amount=Decimal(amount), reference_id=reference, payor=PAYOR)
    return sandbox.state.create_session(
        validate_new_session(body), client_id=sandbox.config.client_id
    ).session_id


def make_sessions(
    sandbox: Any,
    count: int = 1,
    *,
    reference: str = "ORDER",
    product: str = "eft",
    account: str = "default",
    owner: Any = None,
    age: timedelta | None = None,
    remote: bool = True,
    **fields: Any,
) -> list[PaymentSession]:
    """``count`` open sessions known to the sandbox (``remote=False``: unknown to it, so Flinks answers 404)."""
    rows = []
    for index in range(count):
        ref = reference if count == 1 else f"{reference}-{index}"
        values: dict[str, Any] = {
            "session_id": remote_session(sandbox, reference=ref, product=product)
            if remote
            else str(uuid.uuid4()),
            "reference_id": ref,
            "amount": Decimal("10.00"),
            "product": product,
            "account": account,
            "owner": owner,
            "status": PaymentSession.Status.INITIATED,
            "remote_status": "Initiated",
            **fields,
        }
        rows.append(PaymentSession(**values))
    created = PaymentSession.objects.bulk_create(rows)
    if age is not None:
        PaymentSession.objects.filter(pk__in=[row.pk for row in created]).update(
            created_at=timezone.now() - age
        )
    return list(PaymentSession.objects.filter(pk__in=[row.pk for row in created]).order_by("pk"))


def make_session(sandbox: Any, **kwargs: Any) -> PaymentSession:
    return make_sessions(sandbox, 1, **kwargs)[0]


class SignalLog:
    """Counts ``session_cancelled`` and ``session_status_changed`` per session, from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.cancelled: Counter[int] = Counter()
        self.changed: Counter[int] = Counter()
        self.cancelled_sources: list[str] = []

    def _on_cancelled(self, sender: Any, session: PaymentSession, source: str, **kwargs: Any) -> None:
        with self._lock:
            self.cancelled[session.pk] += 1
            self.cancelled_sources.append(source)

    def _on_changed(self, sender: Any, session: PaymentSession, **kwargs: Any) -> None:
        with self._lock:
            self.changed[session.pk] += 1


@contextmanager
def signal_log() -> Iterator[SignalLog]:
    log = SignalLog()
    session_cancelled.connect(log._on_cancelled, sender=PaymentSession, weak=False)
    session_status_changed.connect(log._on_changed, sender=PaymentSession, weak=False)
    try:
        yield log
    finally:
        session_cancelled.disconnect(log._on_cancelled, sender=PaymentSession)
        session_status_changed.disconnect(log._on_changed, sender=PaymentSession)


def cancel_calls(sandbox: Any, session: PaymentSession | None = None) -> int:
    """POST .../cancel calls the sandbox answered (for one session, or all)."""
    suffix = f"/{session.session_id}/cancel" if session is not None else "/cancel"
    return sandbox.count(method="POST", path_suffix=suffix)


def spy_on_rows_stored_one_by_one(monkeypatch: Any) -> list[int]:
    """The pks of the sessions the cancel engine stores row by row (under the row lock), not with a group."""
    from flinks_sessions.services.engine import Engine

    stored: list[int] = []
    real_store_one = Engine.store_one

    def spy(self: Any, call: Any, answer: Any) -> Any:
        stored.append(call.session.pk)
        return real_store_one(self, call, answer)

    monkeypatch.setattr(Engine, "store_one", spy)
    return stored
