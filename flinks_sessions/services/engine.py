"""The claim engine: claim, call, finish, written once for every action that calls Flinks for a session.

A cancel, a guarantee decision and a "Start again" must each reach Flinks once, however many triggers race;
``docs/architecture.md`` ("The claim protocol") states the protocol and ``docs/model`` checks it. An
:class:`Action` says only what is its own: which rows it may take (and why not, read back from the row), which
HTTP call to make, and how to store the answer. :class:`Engine` does the rest, the same way for every action:

1. *Claim*, in one short durable transaction: one conditional UPDATE (:func:`take`) sets the action's claim
   token and time (``<action>_claim``, ``<action>_claimed_at``) on every row of a chunk that the action may
   take and that holds no live claim; a claim older than :func:`claim_ttl` (its worker died or stalled) may be
   taken over. One SELECT reads the rows back: a row not taken is answered from what it holds (``pending``
   while another caller holds it, "already done" when it is). The client is had before any claim, per account.
2. *Call*, with no transaction open and no lock held. Every exception, typed or not, becomes an
   :class:`Answer`, so nothing can leave a claim behind.
3. *Finish*, under the row lock: the action stores the answer; a session Flinks does not know is marked; a
   failure is recorded (for this action: ``record_failure``); the claim is released if it is still ours, and
   only then. An action may store a batch of common answers together first (the cancel does).

A sync uses the same call and finish without a claim (it only reports what Flinks says). Many sessions go
through :mod:`~flinks_sessions.services.pipeline`, one through :func:`~flinks_sessions.services.pipeline.run_one`.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, ClassVar, Generic, TypeVar

from django.db import transaction
from django.db.models import Model, Q, QuerySet
from django.utils import timezone

from flinks_sessions.client import FlinksClient
from flinks_sessions.conf import get_settings
from flinks_sessions.exceptions import FlinksAPIError, FlinksError, FlinksNotFound, FlinksUnavailable
from flinks_sessions.log_context import session_extra
from flinks_sessions.models import PaymentSession, free_of_claim
from flinks_sessions.services.accounts import Clients, describe_error
from flinks_sessions.services.origin import Origin
from flinks_sessions.services.result import Out, Result
from flinks_sessions.services.transitions import copy_state, lock, mark_not_found, record_failure

logger = logging.getLogger("flinks_sessions.services")

M = TypeVar("M", bound=Model)


class Reply(StrEnum):
    """What kind of answer a call got, whatever the action."""

    ANSWERED = "answered"  # Flinks answered; ``value`` is what the action's call returned
    NOT_FOUND = "not_found"  # 404: Flinks does not know the session
    REFUSED = "refused"  # Flinks read the request and said no (a 4xx), or the action refused before calling
    FAILED = "failed"  # no answer (network, 5xx after the retries), or something unexpected broke the call


@dataclass(frozen=True)
class Answer:
    """What one call got. ``value`` is the action's return value, or the exception of a failure."""

    reply: Reply
    value: Any = None
    error: str = ""


@dataclass(frozen=True)
class Call:
    """A session on its way to Flinks: its client, and the claim it holds (``None`` for an unclaimed action)."""

    session: PaymentSession
    client: FlinksClient
    claim: uuid.UUID | None = None


def claim_ttl() -> timedelta:
    """How long a claim protects a call in flight: the worst case of one call with all its retries.

    After that, the worker holding it is presumed dead (killed mid-call) and another may take the claim over.
    ``CLAIM_TTL`` overrides the computed value for every claim; set it above your worst-case call time.
    """
    settings = get_settings()
    if settings.claim_ttl is not None:
        return timedelta(seconds=settings.claim_ttl)
    per_try = settings.connect_timeout + settings.read_timeout
    retry = settings.retry
    backoff = sum(min(retry.backoff_max, retry.backoff * 2**n) for n in range(retry.attempts))
    return timedelta(seconds=max(60.0, 2 * (per_try * (retry.attempts + 1) + backoff)))


def take(
    rows: QuerySet[M], column: str, *, now: datetime, stale_before: datetime | None, **values: Any
) -> int:
    """The conditional UPDATE every claim is: rows whose ``column`` holds no claim younger than
    ``stale_before`` get ``now`` there (and ``values``). Of concurrent claimants exactly one changes a row."""
    return rows.filter(free_of_claim(column, stale_before=stale_before)).update(**{column: now}, **values)


class Action(Generic[Out]):
    """What one kind of call to Flinks says about itself; :class:`Engine` does everything else.

    ``name`` prefixes the claim's columns (``""``: the action takes no claim); ``outcomes`` is its enum, which
    has ``failed`` and ``not_found`` (and ``pending`` when it claims); ``failure`` is the audit kind of a failed
    call (``""``: not recorded); ``finish_fields`` are the columns :meth:`store` may set besides the claim's.
    ``origin`` (who asked, and why) goes into every audit row, log record and signal of the run.
    """

    name: ClassVar[str] = ""
    outcomes: ClassVar[type[StrEnum]]
    failure: ClassVar[str] = ""
    finish_fields: ClassVar[tuple[str, ...]] = ()

    def __init__(self, origin: Origin) -> None:
        self.origin = origin

    def outcome(self, value: str) -> Out:
        return self.outcomes(value)  # type: ignore[return-value]

    def refuse(self, session: PaymentSession) -> Result[Out] | None:
        """A result for a session not to be called at all, decided before any claim; ``None`` to go on."""
        return None

    def claimable(self) -> Q:
        """What a row must be for this action to take it (besides holding no live claim)."""
        return Q()

    def claim_values(self, now: datetime) -> dict[str, Any]:
        """What the claim's UPDATE writes besides the claim itself."""
        return {}

    def claimed(self, sessions: list[PaymentSession]) -> None:
        """Inside the claim's transaction, for the rows it took (the cancel audits its attempts here)."""

    def why_not(self, session: PaymentSession) -> Result[Out]:
        """The result of a row the claim did not take, from what the row holds now: nothing was called."""
        return Result(self.outcome("pending"), session)

    def call(self, client: FlinksClient, session: PaymentSession) -> Any:
        """The HTTP call(s); may return an :class:`Answer` of its own (a refusal decided on the way)."""
        raise NotImplementedError

    def store_many(
        self, done: list[tuple[Call, Answer]]
    ) -> tuple[list[Result[Out]], list[tuple[Call, Answer]]]:
        """Store what may be stored in bulk; return those results and the answers left to store one by one."""
        return [], done

    def store(self, locked: PaymentSession, answer: Answer, *, now: datetime) -> tuple[Out, str]:
        """Under the row lock: store an answer (never a 404, which the engine marks); the outcome and error.

        A non-empty error is recorded as a failure of this action.
        """
        raise NotImplementedError

    def report(self, results: list[Result[Out]]) -> list[Result[Out]]:
        """Every result leaves the engine here: count and log them."""
        source = self.origin.source
        for result in results:
            if not result.ok:
                logger.warning(
                    "%s of Flinks session %s (%s) failed: %s",
                    self.name or "sync", result.session.session_id, source, result.error,
                    extra=session_extra(result.session, source=source, outcome=result.outcome),
                )  # fmt: skip
        return results


class Engine(Generic[Out]):
    """The stages of one run of an action over one session or many, for :mod:`~flinks_sessions.services.pipeline`."""

    def __init__(self, action: Action[Out]) -> None:
        self.action = action
        self.ttl = claim_ttl()
        self.clients = Clients()
        self.seen: set[int] = set()
        meta = PaymentSession._meta
        # Every column, the primary key first: what a claim reads back into the caller's objects.
        self.fields = (meta.pk.attname, *(f.attname for f in meta.concrete_fields if f is not meta.pk))

    def _failed(self, session: PaymentSession, error: str) -> Result[Out]:
        return Result(self.action.outcome("failed"), session, error)

    # --- claim ---------------------------------------------------------------------------------------------

    def claim(self, sessions: list[PaymentSession]) -> tuple[list[Call], list[Result[Out]]]:
        early: list[Result[Out]] = []
        ready: dict[int, tuple[PaymentSession, FlinksClient]] = {}
        claims = bool(self.action.name)
        for session in sessions:
            refused = self.action.refuse(session) if session.pk is not None else None
            if session.pk is None:
                early.append(self._failed(session, "the session was never saved"))
            elif refused is not None:
                early.append(refused)
            elif claims and session.pk in self.seen:  # named twice: this very run is calling for it
                early.append(Result(self.action.outcome("pending"), session))
            else:
                self.seen.add(session.pk)
                client = self.clients.get(session.account)
                if isinstance(client, FlinksClient):
                    ready[session.pk] = (session, client)
                else:
                    early.append(self._failed(session, str(client)))
        if not claims:
            return [Call(session, client) for session, client in ready.values()], self.action.report(early)
        claimed: list[Call] = []
        if ready:
            claimed, unclaimed = self._take(ready)
            early.extend(unclaimed)
        return claimed, self.action.report(early)

    def _take(
        self, ready: dict[int, tuple[PaymentSession, FlinksClient]]
    ) -> tuple[list[Call], list[Result[Out]]]:
        """One transaction: the conditional UPDATE, one SELECT of the rows, and the action's own writes."""
        name = self.action.name
        now = timezone.now()
        claim = uuid.uuid4()
        claimed: list[Call] = []
        early: list[Result[Out]] = []
        rows = PaymentSession.objects.filter(self.action.claimable(), pk__in=list(ready))
        with transaction.atomic(durable=True):
            take(
                rows,
                f"{name}_claimed_at",
                now=now,
                stale_before=now - self.ttl,
                **{f"{name}_claim": claim, "updated_at": now},
                **self.action.claim_values(now),
            )
            for row in PaymentSession.objects.filter(pk__in=list(ready)).order_by().values_list(*self.fields):
                session, client = ready.pop(row[0])
                for field, value in zip(self.fields, row, strict=True):
                    setattr(session, field, value)
                if getattr(session, f"{name}_claim") == claim:
                    claimed.append(Call(session, client, claim))
                else:
                    early.append(self.action.why_not(session))
            if claimed:
                self.action.claimed([call.session for call in claimed])
        gone = "the session no longer exists"
        early.extend(self._failed(session, gone) for session, _client in ready.values())
        return claimed, early

    def claim_failed(self, session: PaymentSession, error: Exception) -> Result[Out]:
        return self.action.report([self._failed(session, describe_error(error))])[0]

    # --- call ----------------------------------------------------------------------------------------------

    def call(self, call: Call) -> Answer:
        """The action's call, every exception typed into an answer."""
        try:
            value = self.action.call(call.client, call.session)
        except FlinksNotFound as exc:
            return Answer(Reply.NOT_FOUND, exc, str(exc))
        except FlinksUnavailable as exc:
            return Answer(Reply.FAILED, exc, str(exc))
        except FlinksAPIError as exc:  # Flinks read the request and said no: its answer, not an outage
            return Answer(Reply.REFUSED, exc, str(exc))
        except FlinksError as exc:
            return Answer(Reply.FAILED, exc, str(exc))
        except Exception as exc:
            logger.exception(
                "The %s call for Flinks session %s raised",
                self.action.name or "sync",
                call.session.session_id,
                extra=session_extra(call.session, source=self.action.origin.source, outcome="failed"),
            )
            return Answer(Reply.FAILED, exc, describe_error(exc))
        return value if isinstance(value, Answer) else Answer(Reply.ANSWERED, value)

    # --- finish --------------------------------------------------------------------------------------------

    def finish(self, done: list[tuple[Call, Answer]]) -> list[Result[Out]]:
        results, rest = self.action.store_many(done)
        results.extend(self.store_one(call, answer) for call, answer in rest)
        return self.action.report(results)

    def store_one(self, call: Call, answer: Answer) -> Result[Out]:
        """Under the row lock: store the answer, mark or record a failure, release our claim (only ours)."""
        action, session, name = self.action, call.session, self.action.name
        now = timezone.now()
        try:
            with transaction.atomic(durable=bool(name)):
                locked = lock(session.pk)
                if answer.reply is Reply.NOT_FOUND:
                    mark_not_found(locked, action.origin, reason=answer.error, now=now)
                    outcome, error = action.outcome("not_found"), answer.error
                else:
                    outcome, error = action.store(locked, answer, now=now)
                    if error and action.failure:
                        record_failure(locked, action.failure, error, action.origin, now=now)
                fields = ["updated_at", *action.finish_fields]
                if name:
                    if (
                        getattr(locked, f"{name}_claim") == call.claim
                    ):  # a stale claim may have been taken over
                        setattr(locked, f"{name}_claim", None)
                        setattr(locked, f"{name}_claimed_at", None)
                    fields += [f"{name}_claim", f"{name}_claimed_at"]
                locked.save(update_fields=fields)
            copy_state(locked, session)
        except Exception as exc:  # the claim stays until claim_ttl(); a sweep or a new try picks it up then
            logger.exception(
                "Could not store the %s of Flinks session %s",
                name or "sync",
                session.session_id,
                extra=session_extra(session, source=action.origin.source, outcome="failed"),
            )
            return self._failed(session, describe_error(exc))
        return Result(outcome, session, error)
