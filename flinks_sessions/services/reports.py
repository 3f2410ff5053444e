"""A status Flinks reported on its own (a webhook), about the session it names: found, locked and applied here.

The caller never holds the lock itself: this service takes it, inside the caller's transaction when there is
one (the webhook's outcome row then commits with the change it records) or in one of its own.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import transaction

from flinks_sessions.client import RemoteStatus
from flinks_sessions.models import PaymentSession
from flinks_sessions.services.origin import Origin
from flinks_sessions.services.result import Result
from flinks_sessions.services.start import confirm_creation
from flinks_sessions.services.transitions import ApplyOutcome, apply_locked

logger = logging.getLogger("flinks_sessions.services")


@dataclass(frozen=True)
class Mismatch:
    """A report whose referenceId is not the stored session's: logged, nothing applied.

    Not a verdict of the state machine (``transitions.decide``): the report was never put to it.
    """

    session: PaymentSession
    reported_reference: str


def apply_report(remote: RemoteStatus, *, source: str) -> Result[ApplyOutcome] | Mismatch | None:
    """Apply ``remote`` to the session with its Flinks id; ``None`` when no session here is that one.

    A session whose creation timed out has no id yet: the first report that names it is matched by its
    referenceId (and amount) and attaches the id, then applies as any other. A report whose referenceId is
    not the stored one is not about the session we know by that id (a misrouted or forged event, a mix-up of
    accounts): it is logged and answered with a :class:`Mismatch`, and nothing is applied.
    """
    origin = Origin(source)
    # Inside the caller's transaction no savepoint: an error here fails the caller's whole transaction anyway
    # (the webhook's rolls back and records the error), and a savepoint costs two more round trips.
    with transaction.atomic(savepoint=False):
        try:
            locked = PaymentSession.objects.select_for_update().get(session_id=remote.session_id)
        except PaymentSession.DoesNotExist:
            found = confirm_creation(remote, source=source)
            if found is None:
                return None
            locked = found
        if remote.reference_id and remote.reference_id != locked.reference_id:
            logger.warning(
                "Flinks reported referenceId %r for session %s, stored as %r: not applied",
                remote.reference_id[:100], remote.session_id, locked.reference_id,
            )  # fmt: skip
            return Mismatch(locked, remote.reference_id)
        return apply_locked(locked, remote, origin)
