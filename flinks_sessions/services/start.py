"""Starting a session: validate locally, create it at Flinks, store it."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Q

from flinks_sessions.client import RemoteStatus, get_client
from flinks_sessions.conf import get_settings
from flinks_sessions.exceptions import FlinksUnavailable
from flinks_sessions.log_context import session_extra
from flinks_sessions.models import PaymentSession, SessionEvent
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
    """
    return create_session(
        amount=amount,
        reference_id=reference_id,
        payor=payor,
        product=product,
        owner=owner,
        account=account,
        payee=payee,
        options=options,
        metadata=metadata,
    )


def create_session(
    *,
    amount: Decimal | int | str | None,
    reference_id: str,
    payor: Mapping[str, Any],
    product: str = Product.EFT,
    owner: Any = None,
    account: str | None = None,
    payee: Mapping[str, Any] | None = None,
    options: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
    restarted_from: PaymentSession | None = None,
    source: str = "api",
    actor: Any = None,
    reason: str = "",
) -> PaymentSession:
    """:func:`start_session`, and for a restart the link to the predecessor, stored with the row itself."""
    rules = rules_for(product)
    cleaned_amount = clean_amount(amount, rules)
    reference = clean_reference(reference_id, rules)
    cleaned_payor = clean_payor(payor, rules)
    clean_payee(payee, rules)
    account_name = account or get_settings().account_name_for(product)
    body = build_session_body(
        product=product,
        amount=cleaned_amount,
        reference_id=reference,
        payor=cleaned_payor,
        payee=payee,
        options=options,
    )
    fields = {
        "reference_id": reference,
        "amount": cleaned_amount,
        "product": product,
        "account": account_name,
        "owner": owner if getattr(owner, "pk", None) else None,
        "metadata": dict(metadata or {}),
        "start_params": {
            key: dict(value)
            for key, value in (("payor", payor), ("payee", payee), ("options", options))
            if value
        },
    }
    try:
        created = get_client(account_name).create_session(body)
    except FlinksUnavailable as exc:
        if exc.ambiguous:
            PaymentSession.objects.create(**fields, last_error=f"creation outcome unknown: {exc}"[:1000])
            logger.error(
                "Creating Flinks session %s may or may not have succeeded: %s",
                reference,
                exc,
                extra=session_extra(
                    source=source, outcome="ambiguous", reference_id=reference, account=account_name
                ),
            )
        raise
    with transaction.atomic():
        session = PaymentSession.objects.create(
            **fields,
            session_id=created.session_id,
            status=Status.INITIATED,
            remote_status="Initiated",
            restarted_from=restarted_from,
        )
        SessionEvent.objects.create(
            session=session,
            kind=SessionEvent.Kind.CREATED,
            to_status=Status.INITIATED,
            source=source,
            reason=f"restart of {restarted_from.session_id}" if restarted_from is not None else "",
            payload={"sessionId": created.session_id, "referenceId": created.reference_id},
        )
        if restarted_from is not None:
            audit_event(
                restarted_from,
                SessionEvent.Kind.RESTARTED,
                source=source,
                actor=actor,
                reason=reason,
                payload={"successor": created.session_id},
            ).save()
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
    SessionEvent.objects.create(
        session=session,
        kind=SessionEvent.Kind.CREATED,
        to_status=session.status,
        source=source,
        reason="creation confirmed by Flinks (matched by referenceId)",
        payload={"sessionId": remote.session_id, "referenceId": remote.reference_id},
    )
    logger.warning(
        "Attached Flinks session %s to the ambiguous creation of reference %s (row %s)",
        remote.session_id, remote.reference_id, session.pk,
        extra=session_extra(session, source=source, outcome="attached"),
    )  # fmt: skip
    return session
