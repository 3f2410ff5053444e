"""``{% load shop_money %}{{ product.price|money }}``: one way to write a price (:mod:`example_project.shop.money`)."""

from __future__ import annotations

from decimal import Decimal

from django import template

from example_project.shop.money import format_money

register = template.Library()


@register.filter
def money(amount: Decimal | int | str) -> str:
    return format_money(amount)
