"""The only writers of a session's state.

Every trigger (beacon, admin, command, task, webhook, reconciliation) calls one of these; each change happens
under a row lock or a conditional UPDATE that proves the row's state, exactly once, and is announced by a
signal after commit. No HTTP call is made while a row lock is held: the cancel engine claims the row, commits,
calls Flinks, then stores the outcome in a second transaction (``docs/architecture.md``, "The claim protocol").
This layer never imports the task layer: a recorded intent is announced (``signals.cancel_requested``) and the
task layer enqueues it.
"""

from flinks_sessions.services.cancel import (
    CancelOutcome,
    CancelResult,
    cancel_session,
    cancel_sessions,
    claim_ttl,
)
from flinks_sessions.services.details import fetch_details
from flinks_sessions.services.guarantee import (
    GuaranteeOutcome,
    GuaranteeResult,
    apply_guarantee_policy,
    decide_guarantee,
    policy_decision,
)
from flinks_sessions.services.intent import request_cancel, withdraw_cancel
from flinks_sessions.services.offers import OfferOutcome, OfferResult, record_guarantee_offer
from flinks_sessions.services.reports import Mismatch, apply_report
from flinks_sessions.services.restart import restart_session, successor_of
from flinks_sessions.services.start import build_session_body, start_session
from flinks_sessions.services.sync import SyncOutcome, SyncResult, sync_session, sync_sessions
from flinks_sessions.services.transitions import ApplyOutcome, ApplyResult, apply_remote_status

__all__ = [
    "ApplyOutcome",
    "ApplyResult",
    "CancelOutcome",
    "CancelResult",
    "GuaranteeOutcome",
    "GuaranteeResult",
    "Mismatch",
    "OfferOutcome",
    "OfferResult",
    "SyncOutcome",
    "SyncResult",
    "apply_guarantee_policy",
    "apply_remote_status",
    "apply_report",
    "build_session_body",
    "cancel_session",
    "cancel_sessions",
    "claim_ttl",
    "decide_guarantee",
    "fetch_details",
    "policy_decision",
    "record_guarantee_offer",
    "request_cancel",
    "restart_session",
    "start_session",
    "successor_of",
    "sync_session",
    "sync_sessions",
    "withdraw_cancel",
]
