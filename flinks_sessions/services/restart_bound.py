"""How many times one order may start again: ``FLINKS_SESSIONS['RESTART_LIMIT']`` successors per order.

Each Start again answer carries a fresh token for the successor, so a client holding one token can walk an
order's chain for as long as it likes, and every step costs a cancel and a creation on the merchant's Flinks
account, whose rate limits then fall on real shoppers. The order is its reference and its account (the same
reference may belong to two accounts); the count is the sessions that replaced another one.
"""

from __future__ import annotations

from flinks_sessions.conf import get_settings
from flinks_sessions.models import PaymentSession


def restart_bound_reached(session: PaymentSession) -> str:
    """Why ``session``'s order may not start again (it has ``RESTART_LIMIT`` successors already), or ``""``."""
    limit = get_settings().restart_limit
    restarts = PaymentSession.objects.filter(
        reference_id=session.reference_id, account=session.account, restarted_from__isnull=False
    ).count()
    if restarts >= limit:
        return f"this order was started again {restarts} times, the most allowed (RESTART_LIMIT = {limit})"
    return ""
