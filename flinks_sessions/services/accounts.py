"""Clients for a run over many sessions, had once per account before anything is claimed.

A session whose account is not configured cannot be called; finding that out before the claim means its
sessions fail alone, claim nothing, and are not recorded as if Flinks had failed (a configuration error is the
site's to fix, and ``manage.py check`` names it).
"""

from __future__ import annotations

import logging

from django.core.exceptions import ImproperlyConfigured

from flinks_sessions.client import FlinksClient, get_client
from flinks_sessions.exceptions import FlinksError

logger = logging.getLogger("flinks_sessions.services")


class Clients:
    """``get_client`` per account, remembered for one run, the configuration error included."""

    def __init__(self) -> None:
        self._by_account: dict[str, FlinksClient | ImproperlyConfigured] = {}

    def get(self, account: str) -> FlinksClient | ImproperlyConfigured:
        known = self._by_account.get(account)
        if known is None:
            try:
                known = get_client(account)
            except ImproperlyConfigured as exc:
                logger.error("Sessions of Flinks account %r cannot be called: %s", account, exc)
                known = exc
            self._by_account[account] = known
        return known


def describe_error(error: Exception) -> str:
    """An error as stored and reported: Flinks' own message, or the type and message of anything else."""
    text = str(error) if isinstance(error, FlinksError) else f"{type(error).__name__}: {error}"
    return text[:1000]
