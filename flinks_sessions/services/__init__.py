"""The only writers of a session's state: the app's public services.

Every trigger (beacon, admin, command, task, webhook, reconciliation) calls one of these; each change happens
under a row lock or a conditional UPDATE that proves the row's state, exactly once, and is announced by a
signal after commit. No HTTP call is made while a row lock is held: every action that calls Flinks for a
session (a cancel, a guarantee decision, "Start again", a sync, a recovery notice) goes through the one claim engine
(:mod:`~flinks_sessions.services.engine`; ``docs/architecture.md``, "The claim protocol"). Every service
answers a :class:`Result`: the action's outcome, the session, the error. This layer never imports the task
layer: a recorded intent is announced (``signals.cancel_requested``) and the task layer enqueues it.
"""

from flinks_sessions.services.cancel import CancelOutcome, cancel_session, cancel_sessions
from flinks_sessions.services.details import fetch_details
from flinks_sessions.services.guarantee import GuaranteeOutcome, apply_guarantee_policy, decide_guarantee
from flinks_sessions.services.intent import request_cancel, withdraw_cancel
from flinks_sessions.services.recovery import send_recovery_notices
from flinks_sessions.services.restart import RestartOutcome, restart_session, successor_of
from flinks_sessions.services.result import Result
from flinks_sessions.services.start import start_session
from flinks_sessions.services.sync import SyncOutcome, sync_session, sync_sessions
from flinks_sessions.services.transitions import ApplyOutcome, apply_remote_status

__all__ = [
    "ApplyOutcome",
    "CancelOutcome",
    "GuaranteeOutcome",
    "RestartOutcome",
    "Result",
    "SyncOutcome",
    "apply_guarantee_policy",
    "apply_remote_status",
    "cancel_session",
    "cancel_sessions",
    "decide_guarantee",
    "fetch_details",
    "request_cancel",
    "restart_session",
    "send_recovery_notices",
    "start_session",
    "successor_of",
    "sync_session",
    "sync_sessions",
    "withdraw_cancel",
]
