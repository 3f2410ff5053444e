"""Prices written one way on every page: the active locale's (``$1,249.50`` in English, ``1 249,50 $`` in French).

The digits come from Django's own localisation (``number_format``: the locale's decimal mark and grouping);
only where the sign goes is the shop's choice, since Canadian French writes it after the amount.
"""

from __future__ import annotations

from decimal import Decimal

from django.utils.formats import number_format
from django.utils.translation import get_language

NBSP = "\u00a0"


def format_money(amount: Decimal | int | str, currency: str = "CAD") -> str:
    """``amount`` with two decimals, grouped, and the dollar sign where the active language puts it."""
    digits = number_format(Decimal(str(amount)), decimal_pos=2, use_l10n=True, force_grouping=True)
    if (get_language() or "en").startswith("fr"):
        return f"{digits.replace(' ', NBSP)}{NBSP}$"
    return f"${digits}"
