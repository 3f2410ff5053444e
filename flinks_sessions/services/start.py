"""Starting a session: validate locally, create it at Flinks, store it."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from flinks_sessions.client import RemoteStatus, get_client
from flinks_sessions.conf import get_settings
from flinks_sessions.exceptions import FlinksUnavailable
from flinks_sessions.models import PaymentSession, SessionEvent
from flinks_sessions.services.transitions import audit_event
from flinks_sessions.status import Product, Status

logger = logging.getLogger("flinks_sessions.services")

_EFT_REFERENCE = re.compile(r"[A-Za-z0-9-]{1,36}")
MIN_AMOUNT = Decimal("0.01")
MAX_AMOUNT = Decimal("99999.99")


def _clean_amount(amount: Decimal | int | str) -> Decimal:
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        raise ValidationError(f"amount {amount!r} is not a number", code="amount") from None
    if value != value.quantize(Decimal("0.01")) or not MIN_AMOUNT <= value <= MAX_AMOUNT:
        raise ValidationError(
            f"amount must be between {MIN_AMOUNT} and {MAX_AMOUNT} CAD with at most 2 decimals", code="amount"
        )
    return value.quantize(Decimal("0.01"))


def _clean_reference(reference_id: str, product: str) -> str:
    if product == Product.EFT and not _EFT_REFERENCE.fullmatch(reference_id):
        raise ValidationError("an EFT referenceId is 1 to 36 letters, digits or hyphens", code="reference_id")
    if not reference_id or len(reference_id) > 100:
        raise ValidationError("referenceId must be 1 to 100 characters", code="reference_id")
    return reference_id


def build_session_body(
    *,
    product: str,
    amount: Decimal,
    reference_id: str,
    payor: Mapping[str, Any],
    payee: Mapping[str, Any] | None = None,
    options: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON body of ``POST /api/v2/sessions`` for a product (``docs/flinks-api.md``, "Products and creation")."""
    if product == Product.EFT and payee:
        raise ValidationError("EFT v2 sessions do not take a payee", code="payee")
    body: dict[str, Any] = {
        "type": "e-Transfer" if product == Product.ETRANSFER else "EFT",
        "referenceId": reference_id,
        "amount": float(amount),
        "currency": "CAD",
        "payor": dict(payor),
    }
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
    amount: Decimal | int | str,
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
    amount: Decimal | int | str,
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
    if product not in Product.values:
        raise ValidationError(
            f"unknown product {product!r}; use one of {', '.join(Product.values)}", code="product"
        )
    for key in ("firstName", "lastName", "email"):
        if not payor.get(key):
            raise ValidationError(f"payor.{key} is required", code="payor")
    clean_amount = _clean_amount(amount)
    clean_reference = _clean_reference(reference_id, product)
    account_name = account or get_settings().account_name_for(product)
    body = build_session_body(
        product=product,
        amount=clean_amount,
        reference_id=clean_reference,
        payor=payor,
        payee=payee,
        options=options,
    )
    fields = {
        "reference_id": clean_reference,
        "amount": clean_amount,
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
            logger.error("Creating Flinks session %s may or may not have succeeded: %s", clean_reference, exc)
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
    The amount must match too when the report carries one; of several timed-out attempts the oldest is taken.
    Call it inside a transaction: the candidate row is locked and returned locked, ready for the status to be
    applied (:func:`~flinks_sessions.services.apply_report` does).
    """
    if not remote.reference_id or not remote.session_id:
        return None
    candidates = PaymentSession.objects.select_for_update().filter(
        session_id__isnull=True, reference_id=remote.reference_id
    )
    if remote.amount is not None:
        candidates = candidates.filter(amount=remote.amount)
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
    )  # fmt: skip
    return session
