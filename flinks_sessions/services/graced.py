"""Graced intents: a cancel asked for by a page going into the back/forward cache, which a resume may take back.

Such an intent is stored with ``cancel_reason = GRACED_REASON``; that reason is the one mark of "graced". Any
later explicit ``request_cancel`` (the hosted page's CLOSE, an operator, a sweep) rewrites the reason in its
intent UPDATE, so the resume that follows can no longer withdraw what the shopper or an operator meant:
``withdraw_cancel(..., graced_only=True)`` only ever matches a row still carrying the mark.
"""

from __future__ import annotations

from django.db.models import Q

from flinks_sessions.status import CancelReason

# The stored reason of a graced (back/forward cache) exit; only such an intent can be taken back.
GRACED_REASON = CancelReason.BFCACHE


def is_graced() -> Q:
    """The rows whose cancel intent is still graced, and so may be withdrawn by a resume."""
    return Q(cancel_requested_at__isnull=False, cancel_reason=GRACED_REASON)
