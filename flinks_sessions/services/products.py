"""What each product accepts and how it is read back: two tables, one row per product.

:data:`RULES` is read by ``start_session`` before anything is sent. Each row is the product's own "Initiate
Session" page (``docs/flinks-api.md``, "Products and creation"): GEFT lets the shopper enter the amount and
uses the email only for notifications; e-Transfer needs the payor's first name, last name and email; EFT v2
limits the referenceId and takes no payee. A refusal is a
``ValidationError`` whose code is the field's group (``amount``, ``payor``, ``reference_id``, ``payee``) and
whose message and ``params["field"]`` name the field itself (``payor.email``).

:data:`STATUS_ROUTES` says through which endpoint a sync, and a cancel that Flinks refuses as already ended,
read a session's state: the one its product's pages document. The e-Transfer pages list Initiate Session,
Session Details and ``/Authorize``, and no ``/status`` (``docs/flinks-api.md``, "Reading a status").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import BooleanField, Case, Q, Value, When

from flinks_sessions.client import FlinksClient, RemoteStatus
from flinks_sessions.status import Product

MIN_AMOUNT = Decimal("0.01")
MAX_AMOUNT = Decimal("99999.99")
MAX_NAME = 100


@dataclass(frozen=True)
class ReferenceRule:
    """What a product accepts as ``referenceId``, and how the refusal describes it."""

    pattern: re.Pattern[str]
    hint: str


@dataclass(frozen=True)
class CreationRules:
    """The fields one product requires, allows and limits."""

    amount_required: bool
    payor_required: tuple[str, ...]
    payee_allowed: bool
    reference: ReferenceRule


NAMES = ("firstName", "lastName")
SHORT_REFERENCE = ReferenceRule(re.compile(r"[A-Za-z0-9-]{1,36}"), "1 to 36 letters, digits or hyphens")
FREE_REFERENCE = ReferenceRule(re.compile(r".{1,100}", re.DOTALL), "1 to 100 characters")

RULES: dict[str, CreationRules] = {
    # Per product: amount required, payor fields required, payee allowed, referenceId accepted.
    Product.EFT: CreationRules(True, (*NAMES, "email"), False, SHORT_REFERENCE),
    Product.GEFT: CreationRules(False, NAMES, True, FREE_REFERENCE),
    Product.ETRANSFER: CreationRules(True, (*NAMES, "email"), True, FREE_REFERENCE),
}


# The endpoint each product's state is read through: ``/status`` carries the webhook's fields; ``/details``
# carries the same ones and more, and is the only reading route the e-Transfer pages list.
STATUS_ROUTES: dict[str, str] = {
    Product.EFT: "status",
    Product.GEFT: "status",
    Product.ETRANSFER: "details",
}


def read_status(client: FlinksClient, session_id: str, product: str) -> RemoteStatus:
    """What Flinks says ``session_id`` is, asked through the endpoint its ``product`` documents."""
    if STATUS_ROUTES.get(product, "status") == "details":
        return RemoteStatus.from_payload(client.get_details(session_id))
    return client.get_status(session_id)


# An e-Transfer created with ``options.notificationPreferences.sendInteracLink``: Flinks emailed the Interac
# request, and the payer may pay it from their bank long after closing the shop's tab. Leaving the page and
# the abandoned-session sweep leave it to Flinks' own expiry (``docs/flinks-api.md``, "Interac link by email").
EMAILED_LINK = Q(
    product=Product.ETRANSFER, start_params__options__notificationPreferences__sendInteracLink=True
)


def emailed_link() -> Case:
    """:data:`EMAILED_LINK` as an expression that is never NULL (``exclude(EMAILED_LINK)`` would also drop
    every e-Transfer without the option, whose JSON path reads as NULL)."""
    return Case(When(EMAILED_LINK, then=Value(True)), default=Value(False), output_field=BooleanField())


def emails_payment_link(product: str, start_params: Mapping[str, Any]) -> bool:
    """Whether a session of ``product`` created with ``start_params`` had Flinks email its Interac request."""
    if product != Product.ETRANSFER:
        return False
    options = start_params.get("options") if isinstance(start_params, Mapping) else None
    preferences = options.get("notificationPreferences") if isinstance(options, Mapping) else None
    return isinstance(preferences, Mapping) and preferences.get("sendInteracLink") is True


def invalid(field: str, message: str, code: str) -> ValidationError:
    """A refusal that names ``field`` in its message and in ``params``."""
    return ValidationError(f"{field}: {message}", code=code, params={"field": field})


def rules_for(product: str) -> CreationRules:
    try:
        return RULES[product]
    except KeyError:
        raise invalid(
            "product", f"unknown product {product!r}; use one of {', '.join(Product.values)}", "product"
        ) from None


def clean_amount(amount: Decimal | int | str | None, rules: CreationRules) -> Decimal | None:
    """Two decimals between 0.01 and 99,999.99, or ``None`` where the product lets the shopper enter it."""
    if amount is None or amount == "":
        if rules.amount_required:
            raise invalid("amount", "is required for this product", "amount")
        return None
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        raise invalid("amount", f"{amount!r} is not a number", "amount") from None
    if (
        not value.is_finite()
        or value != value.quantize(Decimal("0.01"))
        or not MIN_AMOUNT <= value <= MAX_AMOUNT
    ):
        raise invalid(
            "amount", f"must be between {MIN_AMOUNT} and {MAX_AMOUNT} CAD with at most 2 decimals", "amount"
        )
    return value.quantize(Decimal("0.01"))


def clean_reference(reference_id: str, rules: CreationRules) -> str:
    if not isinstance(reference_id, str) or not rules.reference.pattern.fullmatch(reference_id):
        raise invalid("referenceId", f"must be {rules.reference.hint}", "reference_id")
    return reference_id


def clean_payor(payor: Mapping[str, Any], rules: CreationRules) -> dict[str, Any]:
    if not isinstance(payor, Mapping):
        raise invalid("payor", "must be an object", "payor")
    for key in rules.payor_required:
        value = payor.get(key)
        if not isinstance(value, str) or not value.strip():
            raise invalid(f"payor.{key}", "is required for this product", "payor")
    for key in ("firstName", "lastName"):
        value = payor.get(key)
        if isinstance(value, str) and len(value) > MAX_NAME:
            raise invalid(f"payor.{key}", f"is at most {MAX_NAME} characters", "payor")
    email = payor.get("email")
    if email not in (None, "") and (not isinstance(email, str) or "@" not in email.strip("@")):
        raise invalid("payor.email", "is not an email address", "payor")
    return dict(payor)


def clean_payee(payee: Mapping[str, Any] | None, rules: CreationRules) -> dict[str, Any] | None:
    if not payee:
        return None
    if not rules.payee_allowed:
        raise invalid("payee", "is not accepted by EFT v2 sessions", "payee")
    return dict(payee)
