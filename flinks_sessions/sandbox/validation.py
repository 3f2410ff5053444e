"""Validation of ``POST /api/v2/sessions`` bodies, with the rules docs/flinks-api.md records per product.

The emulator is deliberately strict: a client that passes here sends what the documentation asks for, and
every rejection says which field is wrong so the client author can fix it from the error alone.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from .state import NewSession, Product

EFT_REFERENCE = re.compile(r"^[A-Za-z0-9-]{1,36}$")
MAX_GEFT_REFERENCE = 100
MAX_NAME = 100
MIN_AMOUNT = Decimal("0.01")
MAX_AMOUNT = Decimal("99999.99")
TYPES = ("EFT", "e-Transfer")


class InvalidSessionError(ValueError):
    """The body breaks a documented rule; the message is the ProblemDetails ``detail``."""


def _guarantee_enabled(options: dict[str, Any]) -> bool:
    guarantee = options.get("guarantee")
    if guarantee is None:
        return False
    if not isinstance(guarantee, dict):
        raise InvalidSessionError("options.guarantee must be an object")
    enable = guarantee.get("enable", False)
    if not isinstance(enable, bool):
        raise InvalidSessionError("options.guarantee.enable must be true or false")
    return enable


def _reference(value: object, product: Product) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidSessionError("referenceId must be a string")
    if product is Product.EFT:
        if not EFT_REFERENCE.match(value):
            raise InvalidSessionError(
                "referenceId must be 1 to 36 characters of letters, digits and '-' for EFT sessions"
            )
    elif not value or len(value) > MAX_GEFT_REFERENCE:
        raise InvalidSessionError(f"referenceId must be 1 to {MAX_GEFT_REFERENCE} characters")
    return value


def _amount(value: object, product: Product) -> Decimal | None:
    if value is None:
        if product is Product.GEFT:
            return None  # the shopper enters it in the hosted flow
        raise InvalidSessionError("amount is required")
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InvalidSessionError("amount must be a number")
    try:
        amount = Decimal(str(value))
    except InvalidOperation as error:
        raise InvalidSessionError(f"amount {value!r} is not a number") from error
    if not amount.is_finite():
        raise InvalidSessionError("amount must be a finite number")
    exponent = amount.normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2:
        raise InvalidSessionError("amount must have at most 2 decimal places")
    if not MIN_AMOUNT <= amount <= MAX_AMOUNT:
        raise InvalidSessionError(f"amount must be between {MIN_AMOUNT} and {MAX_AMOUNT}")
    return amount.quantize(Decimal("0.01"))


def _payor(value: object, product: Product) -> dict[str, Any]:
    """GEFT uses the email only for notifications; EFT v2 and e-Transfer need it."""
    required = ("firstName", "lastName") if product is Product.GEFT else ("firstName", "lastName", "email")
    if not isinstance(value, dict):
        raise InvalidSessionError(f"payor is required and must be an object with {', '.join(required)}")
    for name in required:
        field_value = value.get(name)
        if not isinstance(field_value, str) or not field_value.strip():
            raise InvalidSessionError(f"payor.{name} is required")
    for name in ("firstName", "lastName"):
        if len(str(value[name])) > MAX_NAME:
            raise InvalidSessionError(f"payor.{name} must be at most {MAX_NAME} characters")
    email = value.get("email")
    if email not in (None, ""):
        text = str(email)
        if "@" not in text or text.startswith("@") or text.endswith("@"):
            raise InvalidSessionError("payor.email is not a valid email address")
    return dict(value)


def validate_new_session(body: object) -> NewSession:
    """Turn a creation body into a ``NewSession`` or raise ``InvalidSessionError``."""
    if not isinstance(body, dict):
        raise InvalidSessionError("request body must be a JSON object")
    kind = body.get("type")
    if kind not in TYPES:
        raise InvalidSessionError(f"type must be one of {', '.join(TYPES)}")
    options = body.get("options") or {}
    if not isinstance(options, dict):
        raise InvalidSessionError("options must be an object")
    direction = body.get("direction")
    if kind == "EFT":
        product = Product.GEFT if _guarantee_enabled(options) else Product.EFT
        if direction != "DEBIT":
            raise InvalidSessionError("direction must be DEBIT for EFT sessions")
    else:
        product = Product.ETRANSFER
        if direction not in (None, "DEBIT"):
            raise InvalidSessionError("direction must be DEBIT (or absent) for e-Transfer sessions")
    currency = body.get("currency")
    if currency != "CAD":
        raise InvalidSessionError("currency must be CAD")
    payee = body.get("payee")
    if payee is not None:
        if product is Product.EFT:
            raise InvalidSessionError("payee is not allowed for EFT sessions without guarantee")
        if not isinstance(payee, dict):
            raise InvalidSessionError("payee must be an object")
    return NewSession(
        product=product,
        type=kind,
        direction=direction,
        reference_id=_reference(body.get("referenceId"), product),
        amount=_amount(body.get("amount"), product),
        currency=currency,
        payor=_payor(body.get("payor"), product),
        payee=payee,
        options=options,
    )
