"""The only writers of a session's state.

Every trigger (beacon, admin, command, task, webhook, reconciliation) calls one of these; each change happens
under a row lock, exactly once, and is announced by a signal after commit. No HTTP call is made while a row lock
is held: the cancel claims the row, commits, calls Flinks, then stores the outcome in a second transaction.
``cancel_sessions`` runs the same protocol over batches of sessions for sweeps and admin actions.
"""

from flinks_sessions.services.cancel import (
    CancelOutcome,
    CancelResult,
    cancel_session,
    claim_ttl,
    request_cancel,
    withdraw_cancel,
)
from flinks_sessions.services.cancel_many import cancel_sessions
from flinks_sessions.services.start import build_session_body, confirm_creation, start_session
from flinks_sessions.services.sync import SyncOutcome, SyncResult, sync_session
from flinks_sessions.services.transitions import ApplyOutcome, ApplyResult, apply_locked, apply_remote_status

__all__ = [
    "ApplyOutcome",
    "ApplyResult",
    "CancelOutcome",
    "CancelResult",
    "SyncOutcome",
    "SyncResult",
    "apply_locked",
    "apply_remote_status",
    "build_session_body",
    "cancel_session",
    "cancel_sessions",
    "claim_ttl",
    "confirm_creation",
    "request_cancel",
    "start_session",
    "sync_session",
    "withdraw_cancel",
]
