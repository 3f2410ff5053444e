"""Starting a session: validate locally, create it at Flinks, store it."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Q

from flinks_sessions.client import CreatedSession, RemoteStatus, get_client
from flinks_sessions.conf import get_settings
from flinks_sessions.exceptions import FlinksUnavailable
from flinks_sessions.log_context import session_extra
from flinks_sessions.models import PaymentSession, SessionEvent
from flinks_sessions.services.origin import Origin
from flinks_sessions.services.products import (
    clean_amount,
    clean_payee,
    clean_payor,
    clean_reference,
    rules_for,
)
from flinks_sessions.services.transitions import audit_event
from flinks_sessions.status import Product, Status

logger = logging.getLogger("flinks_sessions.services")


def build_session_body(
    *,
    product: str,
    amount: Decimal | None,
    reference_id: str,
    payor: Mapping[str, Any],
    payee: Mapping[str, Any] | None = None,
    options: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON body of ``POST /api/v2/sessions`` for a product (``docs/flinks-api.md``, "Products and creation").

    A GEFT session without an amount leaves the field out: the shopper enters it in the hosted flow.
    """
    clean_payee(payee, rules_for(product))
    body: dict[str, Any] = {
        "type": "e-Transfer" if product == Product.ETRANSFER else "EFT",
        "referenceId": reference_id,
        "currency": "CAD",
        "payor": dict(payor),
    }
    if amount is not None:
        body["amount"] = float(amount)
    merged_options = dict(options or {})
    if product != Product.ETRANSFER:
        body["direction"] = "DEBIT"
        guarantee = dict(merged_options.get("guarantee") or {})
        guarantee["enable"] = product == Product.GEFT
        merged_options["guarantee"] = guarantee
    if merged_options:
        body["options"] = merged_options
    if payee:
        body["payee"] = dict(payee)
    return body


@dataclass(frozen=True)
class Creation:
    """A session ready to be created at Flinks: validated, its request body built, its row's columns known."""

    body: dict[str, Any]
    fields: dict[str, Any]

    @property
    def account(self) -> str:
        return str(self.fields["account"])


def prepare(parameters: Mapping[str, Any]) -> Creation:
    """Validate the keyword arguments of :func:`start_session` (``ValidationError``); nothing is sent."""
    product = parameters.get("product") or Product.EFT
    payor, payee, options = parameters["payor"], parameters.get("payee"), parameters.get("options")
    rules = rules_for(product)
    amount = clean_amount(parameters.get("amount"), rules)
    reference = clean_reference(parameters["reference_id"], rules)
    body = build_session_body(
        product=product,
        amount=amount,
        reference_id=reference,
        payor=clean_payor(payor, rules),
        payee=payee,
        options=options,
    )
    owner = parameters.get("owner")
    fields = {
        "reference_id": reference,
        "amount": amount,
        "product": product,
        "account": parameters.get("account") or get_settings().account_name_for(product),
        "owner": owner if getattr(owner, "pk", None) else None,
        "metadata": dict(parameters.get("metadata") or {}),
        "recovery_consent": bool(parameters.get("recovery_consent")),
        "start_params": {
            key: dict(value)
            for key, value in (("payor", payor), ("payee", payee), ("options", options))
            if value
        },
    }
    return Creation(body, fields)


def start_session(
    *,
    amount: Decimal | int | str | None = None,
    reference_id: str,
    payor: Mapping[str, Any],
    product: str = Product.EFT,
    owner: Any = None,
    account: str | None = None,
    payee: Mapping[str, Any] | None = None,
    options: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
    recovery_consent: bool = False,
) -> PaymentSession:
    """Create the session at Flinks and store it. Raises ``ValidationError`` for bad input (nothing sent).

    What each product requires is :data:`~flinks_sessions.services.products.RULES`: ``amount`` may be left
    out for GEFT only (the shopper enters it), ``payor.email`` is required for EFT v2 and e-Transfer, EFT v2
    takes no ``payee`` and a shorter ``reference_id``. The error's message and ``params["field"]`` name the
    field.

    If the creation's outcome is unknown (a timeout or a 5xx after the request went out), a row without a
    session id is stored with the error, so the site can reconcile it by ``reference_id``, and
    :class:`~flinks_sessions.exceptions.FlinksUnavailable` is raised with ``ambiguous=True``.

    ``payor``, ``payee`` and ``options`` are kept on the row (``start_params``): a restart
    (:func:`~flinks_sessions.services.restart_session`) sends them again, so the shopper types nothing twice.

    ``recovery_consent``: the payer agreed to be reminded once if they abandon this order
    (:mod:`~flinks_sessions.services.recovery`); stored, and inherited by a restart. Without it, never a notice.
    """
    creation = prepare(locals())
    try:
        created = get_client(creation.account).create_session(creation.body)
    except FlinksUnavailable as exc:
        record_ambiguous(creation, exc, source="api")
        raise
    return store_created(creation, created, Origin("api"))


def record_ambiguous(creation: Creation, error: FlinksUnavailable, *, source: str) -> None:
    """A creation that may or may not have reached Flinks: a row without a session id, to be reconciled."""
    if not error.ambiguous:
        return
    reference = creation.fields["reference_id"]
    PaymentSession.objects.create(**creation.fields, last_error=f"creation outcome unknown: {error}"[:1000])
    logger.error(
        "Creating Flinks session %s may or may not have succeeded: %s",
        reference,
        error,
        extra=session_extra(
            source=source, outcome="ambiguous", reference_id=reference, account=creation.account
        ),
    )


def store_created(
    creation: Creation,
    created: CreatedSession,
    origin: Origin,
    *,
    restarted_from: PaymentSession | None = None,
) -> PaymentSession:
    """Store a session Flinks created, and for a restart the link to the predecessor and its audit row."""
    with transaction.atomic():
        session = PaymentSession.objects.create(
            **creation.fields,
            session_id=created.session_id,
            status=Status.INITIATED,
            remote_status="Initiated",
            restarted_from=restarted_from,
        )
        why = f"restart of {restarted_from.session_id}" if restarted_from is not None else ""
        _created_event(session, created.session_id, created.reference_id, origin, reason=why)
        if restarted_from is not None:
            payload = {"successor": created.session_id}
            audit_event(restarted_from, SessionEvent.Kind.RESTARTED, origin, payload=payload).save()
    return session


def confirm_creation(remote: RemoteStatus, *, source: str) -> PaymentSession | None:
    """Attach a Flinks session id to the session whose creation timed out, matched by its referenceId.

    :func:`start_session` stores such a creation without an id (``docs/flinks-api.md``: no idempotency key,
    referenceId is the app's reconciliation key); the first report Flinks sends for it (a webhook) names both.
    When the report carries an amount it must not exceed the one asked for: Flinks may settle less (a reduced
    offer, Next Best Offer), never more; a GEFT creation without an amount matches any. Of several timed-out
    attempts the oldest is taken.
    Call it inside a transaction: the candidate row is locked and returned locked, ready for the status to be
    applied (:func:`~flinks_sessions.services.apply_report` does).
    """
    if not remote.reference_id or not remote.session_id:
        return None
    candidates = PaymentSession.objects.select_for_update().filter(
        session_id__isnull=True, reference_id=remote.reference_id
    )
    if remote.amount is not None:
        candidates = candidates.filter(Q(amount__gte=remote.amount) | Q(amount__isnull=True))
    session = candidates.order_by("created_at", "pk").first()
    if session is None:
        return None
    session.session_id = remote.session_id
    session.save(update_fields=["session_id", "updated_at"])
    _created_event(
        session,
        remote.session_id,
        remote.reference_id,
        Origin(source),
        reason="creation confirmed by Flinks (matched by referenceId)",
    )
    logger.warning(
        "Attached Flinks session %s to the ambiguous creation of reference %s (row %s)",
        remote.session_id, remote.reference_id, session.pk,
        extra=session_extra(session, source=source, outcome="attached"),
    )  # fmt: skip
    return session


def _created_event(
    session: PaymentSession, session_id: Any, reference_id: Any, origin: Origin, *, reason: str
) -> None:
    """The ``created`` audit row: Flinks knows the session by this id (and the app's reference).

    Written by :func:`~flinks_sessions.services.transitions.audit_event` like every other row, so it says who
    asked (the operator or shopper behind a restart); a creation comes from no earlier status.
    """
    payload = {"sessionId": session_id, "referenceId": reference_id}
    kind = SessionEvent.Kind.CREATED
    audit_event(
        session, kind, origin, reason=reason, from_status="", to_status=session.status, payload=payload
    ).save()
