"""Everything the sandbox remembers: access tokens, sessions, their transitions and their expiry.

All of it sits behind one lock so the emulator answers concurrent clients the way the real service does: a
token starts at most one session even when two creations race, and a session changes to a terminal state
exactly once, whoever (the cancel API, the hosted page, a test, the expiry sweeper) gets there first.
Listeners (the webhook sender) are called after the lock is released, once per transition.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from .config import SandboxConfig
from .scenarios import Scenario, scenario_for
from .wire import json_amount

logger = logging.getLogger("flinks_sessions.sandbox")


class Product(StrEnum):
    """The three products served by ``/api/v2/sessions``; the value is what ``disabled_products`` names."""

    EFT = "eft"
    GEFT = "geft"
    ETRANSFER = "etransfer"


INITIATED = "Initiated"
IN_PROGRESS = "InProgress"
COMPLETED = "Completed"
FAILED = "Failed"
CANCELLED = "Cancelled"
EXPIRED = "Expired"
TERMINAL = frozenset({COMPLETED, FAILED, CANCELLED, EXPIRED})

# Where the hosted flow stands for each status, reported as ``step.current`` by ``/details``; a GEFT session
# waiting for the merchant's guarantee decision reports GUARANTEE_STEP.
GUARANTEE_STEP = "GuaranteeDecision"
STEPS = {
    INITIATED: "Welcome",
    IN_PROGRESS: "AccountSelection",
    COMPLETED: "Confirmation",
    FAILED: "Error",
    CANCELLED: "SessionEnded",
    EXPIRED: "SessionEnded",
}


class SessionNotFoundError(LookupError):
    """No session with this id for this client."""


class SessionTerminalError(Exception):
    """The session has already ended; it carries a snapshot so callers can report the truth."""

    def __init__(self, session: Session) -> None:
        super().__init__(f"Session {session.session_id} is {session.status}")
        self.session = session


class TokenAlreadyUsedError(Exception):
    """The access token already created a session (one page of the Flinks docs: one token, one session)."""


class NotGuaranteedError(Exception):
    """A guarantee call on a session that is not GEFT."""


class GuaranteeNotOfferedError(Exception):
    """A guarantee decision on a GEFT session that has no guarantee waiting for one."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Token:
    value: str
    client_id: str
    expires_at: float
    session_id: str | None = None


@dataclass
class NewSession:
    """A validated creation request (a stored :class:`Session` starts as a copy of it)."""

    product: Product
    type: str
    direction: str | None
    reference_id: str | None
    # ``None`` for a GEFT session whose shopper enters the amount in the hosted flow.
    amount: Decimal | None
    currency: str
    payor: dict[str, Any]
    payee: dict[str, Any] | None = None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(kw_only=True)
class Session(NewSession):
    """One session as the emulator stores it: its creation request and what Flinks keeps about it since.

    The ``*_body`` methods give the documented JSON shapes.
    """

    session_id: str
    client_id: str
    scenario: Scenario
    created_at: datetime
    updated_at: datetime
    last_activity: float
    status: str = INITIATED
    status_details: str | None = "EFT0101"
    omit_details: bool = False
    account: dict[str, str] | None = None
    guarantee: dict[str, Any] | None = None
    # What Flinks settles: the guarantee's offered amount once accepted (lower after a reduced offer).
    settled_amount: Decimal | None = None
    # A guarantee offer was sent to the merchant and Flinks waits for /guarantees/confirm.
    awaiting_guarantee: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    def status_label(self) -> str:
        """The status as the product spells it: GEFT ``Canceled``, EFT v2 and e-Transfer ``Cancelled``."""
        if self.status == CANCELLED and self.product is Product.GEFT:
            return "Canceled"
        return self.status

    def reported_amount(self) -> Decimal | None:
        """The amount ``/status`` and webhooks carry: the settled one once known, else the requested one."""
        return self.settled_amount if self.settled_amount is not None else self.amount

    def step(self) -> str:
        if self.awaiting_guarantee and not self.terminal:
            return GUARANTEE_STEP
        return STEPS.get(self.status, "Welcome")

    def visible_details(self) -> str | None:
        return None if self.omit_details else self.status_details

    def _status_fields(self) -> dict[str, Any]:
        body: dict[str, Any] = {"status": self.status_label()}
        details = self.visible_details()
        # e-Transfer leaves the field out when it has nothing to say; the EFT products send null.
        if details is not None or self.product is not Product.ETRANSFER:
            body["statusDetails"] = details
        return body

    def status_body(self) -> dict[str, Any]:
        """``GET /status``: the same fields a webhook carries."""
        return {
            "sessionId": self.session_id,
            "referenceId": self.reference_id,
            "amount": _amount_or_none(self.reported_amount()),
            **self._status_fields(),
        }

    def cancel_body(self) -> dict[str, Any]:
        return {"sessionId": self.session_id, "referenceId": self.reference_id, **self._status_fields()}

    def webhook_payload(self) -> dict[str, Any]:
        return {
            "sessionId": self.session_id,
            "amount": _amount_or_none(self.reported_amount()),
            "referenceId": self.reference_id,
            "status": self.status_label(),
            "statusDetails": self.visible_details(),
        }

    def offer_payload(self) -> dict[str, Any]:
        """The guarantee event's payload (Flinks does not publish it; these are ``guaranteeDetails``' names)."""
        guarantee = self.guarantee or {}
        return {
            "sessionId": self.session_id,
            "referenceId": self.reference_id,
            "requestedAmount": guarantee.get("requestedAmount"),
            "offeredAmount": guarantee.get("offeredAmount"),
            "offerType": guarantee.get("offerType"),
        }

    def details_body(self) -> dict[str, Any]:
        """``GET /details``: the full session, payor account masked as Flinks shows it.

        The payor's account appears once the shopper has started (never while ``Initiated``); GEFT adds
        ``guaranteeDetails``, EFT v2 the ``userDetails`` the shopper confirmed at the bank.
        """
        body: dict[str, Any] = {
            "sessionId": self.session_id,
            "referenceId": self.reference_id,
            "type": self.type,
            "direction": self.direction,
            "amount": _amount_or_none(self.reported_amount()),
            "currency": self.currency,
            **self._status_fields(),
            "step": {"current": self.step()},
            "payor": {**self.payor, "account": dict(self.account) if self.account else None},
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.updated_at),
        }
        if self.payee is not None:
            body["payee"] = self.payee
        if self.product is Product.GEFT:
            body["guaranteeDetails"] = dict(self.guarantee or {})
        if self.product is Product.EFT:
            body["userDetails"] = {
                "firstName": self.payor.get("firstName"),
                "lastName": self.payor.get("lastName"),
                "email": self.payor.get("email"),
                "accountValidated": self.account is not None and self.status == COMPLETED,
            }
        return body

    def control_view(self) -> dict[str, Any]:
        """What ``/_sandbox/sessions`` shows: the details plus the emulator's own bookkeeping."""
        return {
            **self.details_body(),
            "product": self.product.value,
            "scenario": self.scenario.name,
            "language": self.scenario.language,
            "terminal": self.terminal,
            "history": list(self.history),
        }


def _amount_or_none(amount: Decimal | None) -> int | float | None:
    return None if amount is None else json_amount(amount)


@dataclass(frozen=True)
class Transition:
    """One change of status, handed to listeners after the state lock is released."""

    session: Session
    previous_status: str
    source: str


Listener = Callable[[Transition], None]
# Called (outside the lock) with a snapshot of a GEFT session whose guarantee now waits for the merchant.
OfferListener = Callable[["Session"], None]


def _masked_account(session_id: str) -> dict[str, str]:
    digits = str(int(hashlib.sha256(session_id.encode()).hexdigest()[:8], 16) % 10_000).zfill(4)
    return {
        "institution": "FlinksCapital",
        "institutionName": "Flinks Capital",
        "institutionNumber": "777",
        "transitNumber": "77777",
        "accountNumber": "*****" + digits,
    }


class SandboxState:
    """Tokens and sessions of one sandbox, safe to use from every request thread at once."""

    def __init__(self, config: SandboxConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self._config = config
        self._clock = clock
        self._lock = threading.RLock()
        self._tokens: dict[str, Token] = {}
        self._sessions: dict[str, Session] = {}
        self._listeners: list[Listener] = []
        self._offer_listeners: list[OfferListener] = []

    # -- listeners -------------------------------------------------------------------------------------------

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def add_offer_listener(self, listener: OfferListener) -> None:
        self._offer_listeners.append(listener)

    def _notify_offer(self, session: Session) -> None:
        for listener in list(self._offer_listeners):
            try:
                listener(session)
            except Exception:
                logger.exception("sandbox guarantee offer listener failed")

    def _notify(self, transitions: list[Transition]) -> None:
        for transition in transitions:
            for listener in list(self._listeners):
                try:
                    listener(transition)
                except Exception:
                    logger.exception("sandbox transition listener failed")

    # -- tokens ----------------------------------------------------------------------------------------------

    def issue_token(self, client_id: str) -> Token:
        token = Token(str(uuid.uuid4()), client_id, self._clock() + float(self._config.token_ttl))
        with self._lock:
            self._tokens[token.value] = token
        return token

    def check_token(self, value: str) -> tuple[Token | None, str]:
        """The live token for ``value``, or ``None`` and why not (for the 401 message)."""
        with self._lock:
            token = self._tokens.get(value)
            if token is None:
                return None, "Valid access token required"
            if self._clock() >= token.expires_at:
                del self._tokens[value]
                return None, "Access token expired; request a new one from /api/v1/authorize"
            return copy.copy(token), ""

    def revoke_token(self, value: str) -> bool:
        """Invalidate one token (an injected 401 does this, so a retry with the same token fails too)."""
        with self._lock:
            return self._tokens.pop(value, None) is not None

    def revoke_tokens(self) -> int:
        with self._lock:
            count = len(self._tokens)
            self._tokens.clear()
        return count

    # -- sessions --------------------------------------------------------------------------------------------

    def create_session(self, new: NewSession, *, client_id: str, token_value: str | None = None) -> Session:
        """Store a new session; with ``token_value`` the token is spent (atomically) on it."""
        now = utc_now()
        session = Session(
            **{part.name: copy.copy(getattr(new, part.name)) for part in fields(NewSession)},
            session_id=str(uuid.uuid4()),
            client_id=client_id,
            scenario=scenario_for(new.reference_id, new.options),
            created_at=now,
            updated_at=now,
            last_activity=self._clock(),
            omit_details=new.product is Product.ETRANSFER and self._config.etransfer_omit_status_details,
        )
        if new.product is Product.GEFT:
            session.guarantee = {
                "enabled": True,
                "requestedAmount": _amount_or_none(new.amount),
                "offeredAmount": None,
                "offerType": None,
                "guaranteeAccepted": None,
            }
        session.history.append(
            {"status": INITIATED, "statusDetails": "EFT0101", "source": "api", "at": iso(now)}
        )
        with self._lock:
            if token_value is not None:
                token = self._tokens.get(token_value)
                if token is not None and token.session_id is not None:
                    raise TokenAlreadyUsedError(token.session_id)
                if token is not None:
                    token.session_id = session.session_id
            self._sessions[session.session_id] = session
            return copy.deepcopy(session)

    def _find(self, session_id: str, client_id: str | None, expired: list[Transition]) -> Session:
        session = self._sessions.get(session_id)
        if session is None or (client_id is not None and session.client_id != client_id):
            raise SessionNotFoundError(session_id)
        self._expire_if_idle(session, expired)
        return session

    def get(self, session_id: str, client_id: str | None = None) -> Session:
        """A snapshot of the session (expiring it first if it sat idle too long)."""
        expired: list[Transition] = []
        try:
            with self._lock:
                return copy.deepcopy(self._find(session_id, client_id, expired))
        finally:
            self._notify(expired)

    def sessions(self) -> list[Session]:
        expired: list[Transition] = []
        with self._lock:
            for session in self._sessions.values():
                self._expire_if_idle(session, expired)
            snapshots = [copy.deepcopy(session) for session in self._sessions.values()]
        self._notify(expired)
        return snapshots

    def _expire_if_idle(self, session: Session, out: list[Transition]) -> None:
        limit = self._config.expire_after
        if limit is None or session.terminal:
            return
        if self._clock() - session.last_activity >= limit:
            out.append(self._apply(session, EXPIRED, "EFT0601", "expiry"))

    def expire_due(self) -> int:
        """Expire every idle session now (the sweeper); returns how many ended."""
        expired: list[Transition] = []
        with self._lock:
            for session in self._sessions.values():
                self._expire_if_idle(session, expired)
        self._notify(expired)
        return len(expired)

    def _apply(self, session: Session, status: str, details: str | None, source: str) -> Transition:
        previous = session.status
        session.status = status
        session.status_details = details
        session.updated_at = utc_now()
        session.history.append(
            {"status": status, "statusDetails": details, "source": source, "at": iso(session.updated_at)}
        )
        return Transition(copy.deepcopy(session), previous, source)

    def _change(
        self,
        session_id: str,
        change: Callable[[Session], tuple[str, str | None] | None],
        *,
        source: str,
        client_id: str | None = None,
        activity: bool = False,
    ) -> Session:
        """Run ``change`` on a live session under the lock; it returns the new (status, details) or None."""
        transitions: list[Transition] = []
        try:
            with self._lock:
                session = self._find(session_id, client_id, transitions)
                if session.terminal:
                    raise SessionTerminalError(copy.deepcopy(session))
                if activity:
                    session.last_activity = self._clock()
                target = change(session)
                if target is not None and target != (session.status, session.status_details):
                    transitions.append(self._apply(session, target[0], target[1], source))
                return copy.deepcopy(session)
        finally:
            self._notify(transitions)

    def start(self, session_id: str, *, source: str = "page") -> Session:
        """The shopper opened the hosted flow: Initiated becomes InProgress and the idle clock restarts."""

        def change(session: Session) -> tuple[str, str | None] | None:
            if session.account is None:
                session.account = _masked_account(session.session_id)
            return (IN_PROGRESS, None) if session.status == INITIATED else None

        return self._change(session_id, change, source=source, activity=True)

    def touch(self, session_id: str) -> Session:
        """Shopper activity that does not change the status still keeps the session alive."""
        return self._change(session_id, lambda _session: None, source="page", activity=True)

    def complete(self, session_id: str, details: str = "EFT0301", *, source: str = "control") -> Session:
        """The payment goes through; a GEFT guarantee not offered yet is offered and auto-accepted.

        That is Flinks' behaviour for a client with no guarantee webhook configured. The settled amount is
        the guarantee's offer (lower than requested after a reduced offer).
        """

        def change(session: Session) -> tuple[str, str | None]:
            if session.account is None:
                session.account = _masked_account(session.session_id)
            if session.guarantee is not None:
                if session.guarantee.get("offeredAmount") is None:
                    _make_offer(session)
                if session.guarantee.get("guaranteeAccepted") is None:
                    session.guarantee["guaranteeAccepted"] = True
                session.settled_amount = Decimal(str(session.guarantee["offeredAmount"]))
            session.awaiting_guarantee = False
            return COMPLETED, details

        return self._change(session_id, change, source=source, activity=True)

    def pay(self, session_id: str, *, source: str = "page") -> Session:
        """The shopper authorises the payment: a GEFT guarantee goes to the merchant when its webhook is on.

        Otherwise (EFT v2, e-Transfer, or no guarantee webhook, where Flinks auto-accepts) it completes.
        """
        session = self.get(session_id)
        if session.product is Product.GEFT and self._config.guarantee_webhook and not session.terminal:
            return self.offer_guarantee(session_id, source=source)
        return self.complete(session_id, "EFT0301", source=source)

    def offer_guarantee(self, session_id: str, *, source: str = "page") -> Session:
        """The shopper reached the guarantee: Flinks offers it to the merchant and waits for the decision.

        Listeners (the webhook sender) are told after the lock is released. A session whose offer is already
        out, or that is not GEFT, raises.
        """

        def change(session: Session) -> tuple[str, str | None] | None:
            if session.guarantee is None:
                raise NotGuaranteedError(session.session_id)
            if session.account is None:
                session.account = _masked_account(session.session_id)
            _make_offer(session)
            session.guarantee["guaranteeAccepted"] = None
            session.awaiting_guarantee = True
            return (IN_PROGRESS, None) if session.status == INITIATED else None

        offered = self._change(session_id, change, source=source, activity=True)
        self._notify_offer(offered)
        return offered

    def guarantee_undelivered(self, session_id: str) -> Session | None:
        """The offer's event could not be delivered three times: the session fails (EFT0402)."""

        def change(session: Session) -> tuple[str, str | None] | None:
            if not session.awaiting_guarantee:
                return None
            session.awaiting_guarantee = False
            return FAILED, "EFT0402"

        try:
            return self._change(session_id, change, source="guarantee-webhook")
        except (SessionNotFoundError, SessionTerminalError):
            return None

    def fail(self, session_id: str, details: str | None = None, *, source: str = "control") -> Session:
        """Fail with ``details`` or with the scenario's failure code (EFT0402 unless told otherwise)."""
        return self._change(
            session_id,
            lambda session: (FAILED, details or session.scenario.failure_details),
            source=source,
            activity=True,
        )

    def cancel(self, session_id: str, *, source: str = "api", client_id: str | None = None) -> Session:
        return self._change(session_id, lambda _s: (CANCELLED, "EFT0501"), source=source, client_id=client_id)

    def expire(self, session_id: str, *, source: str = "control") -> Session:
        return self._change(session_id, lambda _s: (EXPIRED, "EFT0601"), source=source)

    def confirm_guarantee(self, session_id: str, accepted: bool, *, client_id: str | None = None) -> Session:
        """The merchant's decision: with an offer waiting, acceptance completes and rejection fails (EFT0402).

        With no offer out (no guarantee webhook, or the shopper has not reached it) the answer is recorded and
        the status does not change.
        """

        def change(session: Session) -> tuple[str, str | None] | None:
            if session.guarantee is None:
                raise NotGuaranteedError(session.session_id)
            session.guarantee["guaranteeAccepted"] = accepted
            if not session.awaiting_guarantee:
                return None
            session.awaiting_guarantee = False
            if not accepted:
                return FAILED, "EFT0402"
            session.settled_amount = Decimal(str(session.guarantee["offeredAmount"]))
            return COMPLETED, "EFT0301"

        return self._change(session_id, change, source="api", client_id=client_id, activity=True)

    def reset(self) -> None:
        with self._lock:
            self._sessions.clear()
            self._tokens.clear()


def _make_offer(session: Session) -> None:
    """The guarantee Flinks offers: the scenario's share of the amount (the shopper enters one if none was set)."""
    assert session.guarantee is not None  # noqa: S101 - only GEFT sessions get an offer
    if session.amount is None:
        session.amount = session.scenario.amount
        session.guarantee["requestedAmount"] = json_amount(session.amount)
    offered = (session.amount * session.scenario.offer_ratio).quantize(Decimal("0.01"))
    session.guarantee["offeredAmount"] = json_amount(offered)
    session.guarantee["offerType"] = "Full" if offered >= session.amount else "Reduced"
