"""Reading a session's ``/details`` and storing what it says of the status and of the amount Flinks settles.

``/details`` carries the same status fields as ``/status`` plus the step reached, the masked payor account
and (GEFT) ``guaranteeDetails`` (``docs/flinks-api.md``, "Status"). A site that shows these to an operator or
a shopper reads them here, and the stored session learns from the same answer: a new status through the state
machine, the amount through :func:`~flinks_sessions.services.transitions.note_amount`.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from flinks_sessions.client import RemoteStatus, get_client
from flinks_sessions.models import PaymentSession
from flinks_sessions.services.origin import Origin
from flinks_sessions.services.transitions import apply_locked, copy_state, lock


def fetch_details(session: PaymentSession) -> dict[str, Any]:
    """``GET /details`` (no lock held), then store its status and amount under the row lock; returns the body.

    Raises :class:`~flinks_sessions.exceptions.FlinksError` when Flinks cannot be asked, ``ValueError`` for a
    session Flinks never confirmed. Must not run inside ``atomic()``: it makes an HTTP call.
    """
    if session.session_id is None:
        raise ValueError("the session was never confirmed by Flinks: it has no details")
    details = get_client(session.account).get_details(str(session.session_id))
    remote = RemoteStatus.from_payload(details)
    if remote.status is not None or remote.amount is not None:
        with transaction.atomic():
            locked = lock(session.pk)
            apply_locked(locked, remote, Origin("sync"))
        copy_state(locked, session)
    return details
