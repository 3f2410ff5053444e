"""The browser-facing API: the exit beacon, its bfcache resume, and the status a checkout page polls.

Only the token helpers are imported here, so ``from flinks_sessions.api import exit_token`` stays cheap for
templates and does not pull in Django REST framework until a view is routed.
"""

from __future__ import annotations

from flinks_sessions.api.tokens import BadExitToken, exit_token, read_exit_token

__all__ = ["BadExitToken", "exit_token", "read_exit_token"]
