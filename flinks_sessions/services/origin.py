"""Who asked for a change and why: one value from a public entry point down to every audit row it writes.

Every audit row, log record and signal says which trigger caused it (``source``), on whose behalf (``actor``)
and why (``reason``). The public services take these as keyword arguments; each builds one :class:`Origin` at
its entry, which checks the source there, before anything is claimed, called or stored, and the claim engine,
the state machine and the audit writer carry it as one value (``docs/architecture.md``, "The claim protocol").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flinks_sessions.signals import SOURCES


@dataclass(frozen=True)
class Origin:
    """``source`` is one of :data:`~flinks_sessions.signals.SOURCES`; ``actor`` a user, or ``None``."""

    source: str
    actor: Any = None
    reason: str = ""

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"source must be one of {', '.join(SOURCES)}, not {self.source!r}")
