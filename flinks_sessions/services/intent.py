"""The wish to cancel, recorded now and acted on later: the beacon's path, the admin's "cancel in background".

Recording the intent is one conditional UPDATE; the cancel itself (:func:`~flinks_sessions.services.cancel_session`)
runs in a worker. This layer never enqueues: it announces the recorded intent with the ``cancel_requested``
signal after commit, and the task layer, which owns the enqueueing, answers it. The stored intent is what
makes that safe: a lost or failed enqueue is picked up by ``flinks_cancel_sessions --retry-failed``.
"""

from __future__ import annotations

import functools
import uuid
from typing import Any, cast

from django.db import connections, router, transaction
from django.db.models import Field, Q
from django.utils import timezone

from flinks_sessions.models import PaymentSession, SessionEvent
from flinks_sessions.services.graced import GRACED_REASON, is_graced
from flinks_sessions.services.origin import Origin
from flinks_sessions.services.products import EMAILED_LINK
from flinks_sessions.services.transitions import audit_event
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
    A beacon records nothing for an e-Transfer whose Interac request Flinks emailed (``products.EMAILED_LINK``).
    A malformed id raises ``ValidationError``, as the ORM does for any UUID lookup.
    """
    Origin(source)  # an unknown source is refused here, as by every service, before anything is written
    now = timezone.now()
    session_id = str(session.session_id if isinstance(session, PaymentSession) else session)
    if session_id == "None":
        return False
    # One conditional UPDATE is atomic on its own: no explicit transaction, so an accepted beacon costs this
    # statement and the enqueue. Inside a caller's transaction, the announcement still waits for its commit.
    using = router.db_for_write(PaymentSession)
    # An explicit request also replaces a graced intent (CLOSE after a bfcache exit): the resume can no longer
    # take it back, and the cancel is enqueued now rather than after the grace period.
    explicit = reason != GRACED_REASON and delay is None
    # Leaving the page never cancels an e-Transfer whose Interac request was emailed: it is still payable.
    keep_emailed = source == "beacon"
    if not _record_intent(
        using,
        session_id,
        now=now,
        source=source,
        reason=reason[:255],
        explicit=explicit,
        keep_emailed=keep_emailed,
    ):
        return False
    transaction.on_commit(
        lambda: send_safely(
            cancel_requested, PaymentSession, session_id=session_id, source=source, reason=reason, delay=delay
        ),
        using=using,
    )
    if isinstance(session, PaymentSession):
        session.cancel_requested_at, session.cancel_source, session.cancel_reason = now, source, reason[:255]
    return True


_INTENT_FIELDS = ("cancel_requested_at", "cancel_source", "cancel_reason", "updated_at")


def _field(name: str) -> Field[Any, Any]:
    return cast("Field[Any, Any]", PaymentSession._meta.get_field(name))  # plain columns, never relations


@functools.cache
def _not_emailed_sql(using: str) -> tuple[str, tuple[Any, ...]]:
    """``NOT EMAILED_LINK`` for one database, as the ORM compiles it (a JSON path per backend), built once."""
    query = PaymentSession.objects.filter(EMAILED_LINK).query
    sql, params = query.where.as_sql(query.get_compiler(using), connections[using])
    return f"(CASE WHEN {sql} THEN 1 ELSE 0 END) = 0", tuple(params)


@functools.cache
def _intent_sql(using: str, explicit: bool, keep_emailed: bool = False) -> str:
    """The intent UPDATE for one database, built once: what the ORM's ``filter().update()`` would send."""
    quote = connections[using].ops.quote_name
    column = {name: quote(str(_field(name).column)) for name in (*_INTENT_FIELDS, "session_id", "status")}
    assignments = ", ".join(f"{column[name]} = %s" for name in _INTENT_FIELDS)
    statuses = ", ".join(["%s"] * len(OPEN_STATUSES))
    no_intent = f"{column['cancel_requested_at']} IS NULL"
    if explicit:
        no_intent = f"({no_intent} OR {column['cancel_reason']} = %s)"
    # Only quoted model identifiers are formatted in; every value is a query parameter.
    not_emailed = f" AND {_not_emailed_sql(using)[0]}" if keep_emailed else ""
    return (
        f"UPDATE {quote(PaymentSession._meta.db_table)} SET {assignments}"  # noqa: S608
        f" WHERE {column['session_id']} = %s AND {no_intent}"
        f" AND {column['status']} IN ({statuses}){not_emailed}"
    )


def _record_intent(
    using: str,
    session_id: str,
    *,
    now: Any,
    source: str,
    reason: str,
    explicit: bool = False,
    keep_emailed: bool = False,
) -> bool:
    """``filter(session_id=..., cancel_requested_at__isnull=True, status__in=OPEN_STATUSES).update(...)``.

    With ``explicit`` a graced intent (:data:`~flinks_sessions.services.graced.GRACED_REASON`) is replaced too;
    with ``keep_emailed`` an e-Transfer whose Interac request was emailed is left alone.

    Written out because it is the beacon's hot path: building the queryset costs about a sixth of a beacon's
    CPU, measured against this statement in the same run by ``bench/beacon.py`` (over the 10 % that justifies
    a second way to write it), for a statement that never changes. Values are prepared by the model's own
    fields, so every backend gets what the ORM would send (a malformed id still raises ``ValidationError``);
    the row count decides.
    """
    connection = connections[using]
    values = [
        _field(name).get_db_prep_value(value, connection)
        for name, value in zip(_INTENT_FIELDS, (now, source, reason, now), strict=True)
    ]
    values.append(_field("session_id").get_db_prep_value(session_id, connection))
    if explicit:
        values.append(GRACED_REASON)
    values.extend(str(status) for status in OPEN_STATUSES)
    if keep_emailed:
        values.extend(_not_emailed_sql(using)[1])
    with connection.cursor() as cursor:
        cursor.execute(_intent_sql(using, explicit, keep_emailed), values)
        return bool(cursor.rowcount)


def withdraw_cancel(session: PaymentSession, *, source: str, graced_only: bool = False) -> bool:
    """Take back a cancel intent no worker has claimed yet (the shopper came back from the back/forward cache).

    With ``graced_only`` (the resume endpoint) only an intent still marked graced is withdrawn, checked in the
    same UPDATE: an explicit request that landed meanwhile always wins.
    """
    origin = Origin(source)
    now = timezone.now()
    with transaction.atomic():
        withdrawn = (
            PaymentSession.objects.filter(
                is_graced() if graced_only else Q(cancel_requested_at__isnull=False),
                pk=session.pk,
                cancel_claim__isnull=True,
            )
            .exclude(status__in=TERMINAL_STATUSES)
            .update(
                cancel_requested_at=None,
                cancel_source="",
                cancel_reason="",
                cancel_failed_at=None,
                updated_at=now,
            )
        )
        if withdrawn:
            audit_event(session, SessionEvent.Kind.CANCEL_WITHDRAWN, origin).save()
            session.cancel_requested_at, session.cancel_source, session.cancel_reason = None, "", ""
            session.cancel_failed_at = None
    return bool(withdrawn)
