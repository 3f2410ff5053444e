"""The one shape every service answers in: the action's outcome, the session as stored, and why it failed.

"Held by another caller right now" (``pending``) and "already done" (``already_terminal``, ``already_decided``,
``existed``) are outcomes like any other, never exceptions; exceptions are kept for misuse and invalid input.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

from flinks_sessions.models import PaymentSession

Out = TypeVar("Out", bound=StrEnum)


@dataclass(frozen=True)
class Result(Generic[Out]):
    outcome: Out
    session: PaymentSession
    error: str = ""

    @property
    def ok(self) -> bool:
        """Whether the session is dealt with (or being dealt with): only ``failed`` asks for another try."""
        return self.outcome != "failed"
