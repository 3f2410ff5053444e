"""What the browser endpoints read and answer.

Beacon bodies come from a page being torn down: anything unexpected is made harmless rather than refused, so a
shopper's exit is never lost to a typo in a site's own handler. Unknown reasons are stored as ``other``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from flinks_sessions.status import CancelReason

# The reasons a page may give when it asks to cancel, as the API documents them; stored as ``cancel_reason``.
EXIT_REASONS: dict[str, Any] = {
    CancelReason.PAGEHIDE: _("The shopper left the checkout page."),
    CancelReason.BEFOREUNLOAD: _("The site's own unload handler reported the shopper leaving."),
    CancelReason.CLOSE: _("The shopper confirmed abandoning the hosted flow (CLOSE)."),
    CancelReason.PAD_EXIT: _(
        "The shopper refused the PAD agreement and left (COMPONENT_PAD_WARNING_SCREEN_EXIT)."
    ),
    CancelReason.OTHER_FUNDING: _(
        "The shopper chose another way to pay (COMPONENT_OTHER_FUNDING_OPTIONS_SELECTED)."
    ),
    CancelReason.RETURN_TO_CLIENT: _(
        "The shopper returned to the merchant (COMPONENT_NBO_RETURN_TO_CLIENT_SELECTED)."
    ),
    CancelReason.MANUAL: _("The site's page asked to cancel (FlinksCheckout.cancelNow)."),
    CancelReason.OTHER: _("The page gave no reason this app knows."),
}
_TRUE = frozenset({"1", "true", "yes", "on"})


@dataclass(frozen=True)
class ExitRequest:
    """A beacon's body, read leniently: an unknown ``reason`` becomes ``other``, ``grace`` is any true-ish flag.

    Plain parsing rather than a DRF serializer: the beacon is the hot path, and nothing here can be invalid.
    """

    reason: str = CancelReason.PAGEHIDE
    grace: bool = False

    @classmethod
    def from_data(cls, data: Any) -> ExitRequest:
        get = data.get if hasattr(data, "get") else {}.get
        raw_reason = get("reason")
        reason = str(raw_reason).strip().lower() if raw_reason is not None else ""
        if not reason:
            reason = CancelReason.PAGEHIDE
        elif reason not in EXIT_REASONS:
            reason = CancelReason.OTHER
        return cls(reason=reason, grace=str(get("grace", "")).strip().lower() in _TRUE)

    @property
    def stored_reason(self) -> str:
        """What the session records: ``bfcache`` for a graced exit (only those may be taken back)."""
        return CancelReason.BFCACHE if self.grace else self.reason


class SessionStatusSerializer(serializers.Serializer):
    """The public face of a session for a page that polls: no amounts, names or errors."""

    sessionId = serializers.UUIDField(source="session_id", read_only=True)  # noqa: N815 - JSON casing
    status = serializers.CharField(read_only=True)
    statusDetails = serializers.CharField(source="status_details", read_only=True)  # noqa: N815
    isTerminal = serializers.BooleanField(source="is_terminal", read_only=True)  # noqa: N815
