"""A status Flinks reported on its own (a webhook), about the session it names: found, locked and applied here.

The caller never holds the lock itself: this service takes it, inside the caller's transaction when there is
one (the webhook's outcome row then commits with the change it records) or in one of its own.
"""

from __future__ import annotations

from django.db import transaction

from flinks_sessions.client import RemoteStatus
from flinks_sessions.models import PaymentSession
from flinks_sessions.services.start import confirm_creation
from flinks_sessions.services.transitions import ApplyResult, apply_locked, check_source


def apply_report(remote: RemoteStatus, *, source: str) -> ApplyResult | None:
    """Apply ``remote`` to the session with its Flinks id; ``None`` when no session here is that one.

    A session whose creation timed out has no id yet: the first report that names it is matched by its
    referenceId (and amount) and attaches the id, then applies as any other.
    """
    check_source(source)
    with transaction.atomic():
        try:
            locked = PaymentSession.objects.select_for_update().get(session_id=remote.session_id)
        except PaymentSession.DoesNotExist:
            found = confirm_creation(remote, source=source)
            if found is None:
                return None
            locked = found
        return apply_locked(locked, remote, source=source)
