"""Start again: a successor session for the same order after a cancel, an expiry or a failure.

The shopper who left the payment (or whose session expired or failed) clicks "Start again"; a double click or
two tabs must still create one session at Flinks, not two. The claim protocol of the cancel engine
(``docs/architecture.md``, "The claim protocol") is the model, in three steps:

1. *Claim*: one conditional UPDATE sets ``restart_claimed_at`` on the predecessor when nobody holds a live
   restart claim and it has no successor. Whoever loses reads the successor if it exists by now, and is told
   :class:`~flinks_sessions.exceptions.RestartPending` otherwise.
2. *Call*, with no transaction open: the predecessor is cancelled through the cancel engine if it is still
   open, then the successor is created at Flinks (``start_session``'s one HTTP call).
3. *Store*: the successor's row carries ``restarted_from`` (one-to-one, so the database itself refuses a second
   successor) and both audit rows are written in the same transaction; ``session_restarted`` is sent after
   commit. A failure before the successor is stored releases the claim, so the shopper may try again.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.db import router, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from flinks_sessions.exceptions import RestartPending, RestartRefused
from flinks_sessions.models import PaymentSession
from flinks_sessions.services.cancel import cancel_session, claim_ttl
from flinks_sessions.services.start import create_session
from flinks_sessions.services.transitions import check_source
from flinks_sessions.signals import send_safely, session_restarted
from flinks_sessions.status import Status

logger = logging.getLogger("flinks_sessions.services")

# What a restart may change; the reference (the order) and the link to the predecessor never change.
OVERRIDABLE = frozenset({"amount", "payor", "product", "owner", "account", "payee", "options", "metadata"})


def successor_of(session: PaymentSession) -> PaymentSession | None:
    """The session that replaced ``session``, read from the database (never a cached relation)."""
    return PaymentSession.objects.filter(restarted_from_id=session.pk).first()


def restart_session(
    session: PaymentSession, *, source: str = "api", actor: Any = None, reason: str = "", **overrides: Any
) -> PaymentSession:
    """The successor of ``session`` for the same order, created once however many requests ask at once.

    The predecessor is cancelled first (through the cancel engine, as ``source``) if it is still open. The new
    session repeats the predecessor's amount, reference, product, account, owner, metadata and creation
    parameters (payor, payee, options); ``overrides`` replaces any of :data:`OVERRIDABLE`. A session that
    already has a successor returns it (a repeated click is answered, not refused).

    Raises :class:`~flinks_sessions.exceptions.RestartPending` while another request is creating the successor,
    :class:`~flinks_sessions.exceptions.RestartRefused` for a completed session, one Flinks never confirmed, or
    one whose cancel failed, and whatever ``start_session`` raises (``ValidationError``, ``FlinksError``) when
    the creation fails; the claim is then released. Must not run inside ``atomic()``: it calls Flinks.
    """
    check_source(source)
    unknown = set(overrides) - OVERRIDABLE
    if unknown:
        raise TypeError(f"restart_session() cannot override {', '.join(sorted(unknown))}")
    existing = successor_of(session)
    if existing is not None:
        return existing
    _check_restartable(session)
    claimed_at = _claim(session)
    if claimed_at is None:
        existing = successor_of(session)
        if existing is not None:
            return existing
        raise RestartPending("another request is restarting this session")
    try:
        _end(session, source=source, actor=actor, reason=reason)
        successor = create_session(
            **_parameters(session, overrides),
            restarted_from=session,
            source=source,
            actor=actor,
            reason=reason,
        )
    except BaseException:
        PaymentSession.objects.filter(pk=session.pk, restart_claimed_at=claimed_at).update(
            restart_claimed_at=None
        )
        raise
    using = router.db_for_write(PaymentSession)
    transaction.on_commit(
        lambda: send_safely(
            session_restarted, PaymentSession, session=successor, previous=session, source=source
        ),
        using=using,
    )
    logger.info("Restarted Flinks session %s as %s", session.session_id, successor.session_id)
    return successor


def _check_restartable(session: PaymentSession) -> None:
    if session.session_id is None:
        raise RestartRefused("Flinks never confirmed this session: reconcile it before starting again")
    if session.status == Status.COMPLETED:
        raise RestartRefused("this session completed: there is nothing to start again")


def _claim(session: PaymentSession) -> datetime | None:
    """One conditional UPDATE: ours when nobody holds a live restart claim and no successor exists."""
    now = timezone.now()
    taken = (
        PaymentSession.objects.filter(pk=session.pk)
        .exclude(status=Status.COMPLETED)
        .filter(Q(restart_claimed_at__isnull=True) | Q(restart_claimed_at__lt=now - claim_ttl()))
        .filter(~Exists(PaymentSession.objects.filter(restarted_from=OuterRef("pk"))))
        .update(restart_claimed_at=now, updated_at=now)
    )
    if not taken:
        return None
    session.restart_claimed_at = now
    return now


def _end(session: PaymentSession, *, source: str, actor: Any, reason: str) -> None:
    """Cancel the predecessor if Flinks could still act on it: never two live sessions for one order."""
    session.refresh_from_db()
    if session.status == Status.COMPLETED:
        raise RestartRefused("this session completed: there is nothing to start again")
    if not session.is_open:
        return
    result = cancel_session(session, source=source, reason=reason or "restarted", actor=actor)
    if session.is_open:
        raise RestartRefused(f"the session could not be cancelled first: {result.error or result.outcome}")


def _parameters(session: PaymentSession, overrides: dict[str, Any]) -> dict[str, Any]:
    params: dict[str, Any] = {
        "amount": session.amount,
        "reference_id": session.reference_id,
        "product": session.product,
        "account": session.account,
        "owner": session.owner,
        "metadata": session.metadata,
        **{
            key: session.start_params[key]
            for key in ("payor", "payee", "options")
            if key in session.start_params
        },
    }
    params.update(overrides)
    if "payor" not in params:
        raise RestartRefused("this session was created without stored payor details: pass payor=")
    return params
