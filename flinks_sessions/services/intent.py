"""The wish to cancel, recorded now and acted on later: the beacon's path, the admin's "cancel in background".

Recording the intent is one conditional UPDATE; the cancel itself (:func:`~flinks_sessions.services.cancel_session`)
runs in a worker. This layer never enqueues: it announces the recorded intent with the ``cancel_requested``
signal after commit, and the task layer, which owns the enqueueing, answers it. The stored intent is what
makes that safe: a lost or failed enqueue is picked up by ``flinks_cancel_sessions --retry-failed``.
"""

from __future__ import annotations

import uuid

from django.db import router, transaction
from django.utils import timezone

from flinks_sessions.models import PaymentSession, SessionEvent
from flinks_sessions.services.transitions import audit_event, check_source
from flinks_sessions.signals import cancel_requested, send_safely
from flinks_sessions.status import OPEN_STATUSES, TERMINAL_STATUSES


def request_cancel(
    session: PaymentSession | uuid.UUID | str,
    *,
    source: str,
    reason: str = "",
    delay: float | None = None,
) -> bool:
    """Record the wish to cancel and hand the call to the task backend after commit; never waits for Flinks.

    ``session`` may be the instance or its Flinks session id (the beacon passes the id, so an accepted beacon
    costs one UPDATE and the task backend's INSERT). Returns ``True`` when this call recorded a new intent and
    enqueued the task, ``False`` when the session is unknown, already terminal, or already asked to cancel (a
    repeated beacon changes nothing). ``delay`` defers the task where the backend supports it (the
    back/forward-cache grace period); :func:`withdraw_cancel` can take the intent back until a worker claims it.
    A malformed id raises ``ValidationError``, as the ORM does for any UUID lookup.
    """
    check_source(source)
    now = timezone.now()
    session_id = str(session.session_id if isinstance(session, PaymentSession) else session)
    if session_id == "None":
        return False
    # One conditional UPDATE is atomic on its own: no explicit transaction, so an accepted beacon costs this
    # statement and the enqueue. Inside a caller's transaction, the announcement still waits for its commit.
    recorded = PaymentSession.objects.filter(
        session_id=session_id, cancel_requested_at__isnull=True, status__in=OPEN_STATUSES
    ).update(cancel_requested_at=now, cancel_source=source, cancel_reason=reason[:255], updated_at=now)
    if not recorded:
        return False
    transaction.on_commit(
        lambda: send_safely(
            cancel_requested, PaymentSession, session_id=session_id, source=source, reason=reason, delay=delay
        ),
        using=router.db_for_write(PaymentSession),
    )
    if isinstance(session, PaymentSession):
        session.cancel_requested_at, session.cancel_source, session.cancel_reason = now, source, reason[:255]
    return True


def withdraw_cancel(session: PaymentSession, *, source: str) -> bool:
    """Take back a cancel intent no worker has claimed yet (the shopper came back from the back/forward cache)."""
    check_source(source)
    now = timezone.now()
    with transaction.atomic():
        withdrawn = (
            PaymentSession.objects.filter(
                pk=session.pk, cancel_requested_at__isnull=False, cancel_claim__isnull=True
            )
            .exclude(status__in=TERMINAL_STATUSES)
            .update(cancel_requested_at=None, cancel_source="", cancel_reason="", updated_at=now)
        )
        if withdrawn:
            audit_event(session, SessionEvent.Kind.CANCEL_WITHDRAWN, source=source).save()
            session.cancel_requested_at, session.cancel_source, session.cancel_reason = None, "", ""
    return bool(withdrawn)
