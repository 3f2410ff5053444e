"""A site's checkout destination as a callable (``RECOVERY_CHECKOUT`` set to its dotted path)."""

from __future__ import annotations

from typing import Any


def for_session(session: Any) -> str:
    return f"/shop/pay/{session.reference_id}/"
