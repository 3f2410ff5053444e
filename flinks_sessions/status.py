"""Session statuses: the one enum, how Flinks' spellings map onto it, and which moves are allowed.

Flinks spells the cancelled state ``Cancelled`` (EFT v2, e-Transfer) or ``Canceled`` (GEFT), in mixed case, and
may grow new values; everything that reads a status from Flinks goes through :func:`normalise_status` so the
rest of the app only ever sees :class:`Status` (``docs/flinks-api.md``, "Status").
"""

from __future__ import annotations

import logging

from django.db import models
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

logger = logging.getLogger("flinks_sessions.status")

StrOrPromise = str | Promise  # a lazy translation is a Promise until rendered


class Status(models.TextChoices):
    """The normalised state of a payment session, as stored."""

    INITIATED = "initiated", _("Initiated")
    IN_PROGRESS = "in_progress", _("In progress")
    COMPLETED = "completed", _("Completed")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")
    EXPIRED = "expired", _("Expired")


def label_of(choices: type[models.TextChoices], value: str) -> str:
    """A stored choice in words, in the active language (a value the choices do not know, as stored)."""
    try:
        return str(choices(value).label)
    except ValueError:
        return value


class Product(models.TextChoices):
    """The Flinks Pay product a session was created for; fixed at creation."""

    EFT = "eft", _("EFT")
    GEFT = "geft", _("Guaranteed EFT")
    ETRANSFER = "etransfer", _("Interac e-Transfer")


TERMINAL_STATUSES: frozenset[str] = frozenset(
    {Status.COMPLETED, Status.FAILED, Status.CANCELLED, Status.EXPIRED}
)
# The states Flinks can still move or cancel, in declaration order (for choices and stable SQL).
OPEN_STATUSES: tuple[str, ...] = tuple(status for status in Status.values if status not in TERMINAL_STATUSES)

# Flinks' detail codes that matter to the state machine (``docs/flinks-api.md``, "Status").
DETAIL_PAYMENT_SCHEDULED = "EFT0301"
DETAIL_PAD_PENDING = "EFT0302"
DETAIL_CANCELLED_BY_API = "EFT0501"
DETAIL_EXPIRED = "EFT0601"


class Source(models.TextChoices):
    """Who or what triggered a change: the ``source`` of every audit row, cancel intent and signal."""

    BEACON = "beacon", _("Shopper's browser")
    ADMIN = "admin", _("Operator (admin)")
    COMMAND = "command", _("Management command")
    API = "api", _("Site code")
    WEBHOOK = "webhook", _("Flinks webhook")
    SYNC = "sync", _("Sync with Flinks")


class CancelReason(models.TextChoices):
    """Why a cancel was asked for, as the app stores it in ``cancel_reason`` and the audit trail.

    The page's exits (``checkout.js`` posts these values), a graced exit and Start again; an operator's or a
    command's own words are stored as typed. The labels are what the abandonment report shows.
    """

    PAGEHIDE = "pagehide", _("Left the page")
    # A graced exit (the page went into the back/forward cache): the one reason a resume may take back.
    BFCACHE = "bfcache", _("Left the page (back/forward cache)")
    BEFOREUNLOAD = "beforeunload", _("Left the page (site's handler)")
    CLOSE = "close", _("Abandoned in the payment page")
    PAD_EXIT = "pad_exit", _("Refused the debit agreement")
    OTHER_FUNDING = "other_funding", _("Chose another way to pay")
    RETURN_TO_CLIENT = "return_to_client", _("Returned to the shop")
    MANUAL = "manual", _("The site's Cancel button")
    OTHER = "other", _("Left the page (no reason the app knows)")
    RESTARTED = "restarted", _("Started again")


# What each Flinks detail code means, for people (``docs/flinks-api.md``, "Status"): the admin shows it beside
# the code. A code that is not listed is shown as Flinks sent it.
MEANINGS_OF_DETAILS: dict[str, StrOrPromise] = {
    "EFT0101": _("Created; the payor has not started"),
    "EFT0301": _("Payment scheduled"),
    "EFT0302": _("Account validated; pre-authorized debit signature still pending"),
    "EFT0401": _("Bank login failed"),
    "EFT0402": _("No guarantee offered"),
    "EFT0403": _("Payor name did not match the bank account"),
    "EFT0404": _("Insufficient balance"),
    "EFT0501": _("Cancelled by an API request"),
    "EFT0601": _("Timed out"),
}


def detail_meaning(code: str) -> str:
    """The meaning of a Flinks detail code in the active language, or ``""`` for an unknown or empty one."""
    meaning = MEANINGS_OF_DETAILS.get((code or "").strip().upper())
    return str(meaning) if meaning is not None else ""


_SPELLINGS: dict[str, Status] = {
    "initiated": Status.INITIATED,
    "inprogress": Status.IN_PROGRESS,
    "completed": Status.COMPLETED,
    "failed": Status.FAILED,
    "cancelled": Status.CANCELLED,
    "canceled": Status.CANCELLED,
    "expired": Status.EXPIRED,
}


def normalise_status(raw: object) -> Status | None:
    """Map any documented spelling (``Canceled``, `` CANCELLED ``, ``InProgress``, ``in_progress``) to a Status.

    An unknown or missing value returns ``None`` and is logged: the caller keeps the raw string and changes
    nothing, so a new upstream value can never crash a webhook or a sweep.
    """
    if not isinstance(raw, str):
        if raw is not None:
            logger.warning("Ignoring a Flinks status that is not a string: %r", raw)
        return None
    key = raw.strip().lower().replace("_", "").replace("-", "")
    status = _SPELLINGS.get(key)
    if status is None:
        logger.warning("Unknown Flinks status %r kept raw and not applied", raw)
    return status


def is_terminal(status: str) -> bool:
    """Terminal states are sinks: nothing but the one correction below moves a session out of them."""
    return status in TERMINAL_STATUSES


def is_allowed_transition(current: str, current_details: str, new: str, new_details: str | None) -> bool:
    """Whether moving from ``(current, current_details)`` to ``(new, new_details)`` is a real, allowed change.

    - A move to the state already held is a no-op (``False``): nothing is stored, nothing is sent.
    - Terminal states are sinks. The one exception: Completed ``EFT0302`` (account validated, PAD signature
      pending) may become Completed ``EFT0301`` (payment scheduled), which is the same outcome made final.
    - Non-terminal states only move forward: a late ``Initiated`` never undoes ``InProgress``.
    """
    if is_terminal(current):
        return (
            current == Status.COMPLETED
            and new == Status.COMPLETED
            and current_details == DETAIL_PAD_PENDING
            and new_details == DETAIL_PAYMENT_SCHEDULED
        )
    if new == current:
        return False
    return not (current == Status.IN_PROGRESS and new == Status.INITIATED)
