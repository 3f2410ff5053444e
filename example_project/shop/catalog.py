"""The shop's products: a fixed list, so the example needs no tables of its own."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Product:
    slug: str
    name: str
    description: str
    price: Decimal


PRODUCTS: dict[str, Product] = {
    product.slug: product
    for product in (
        Product(
            "maple-syrup",
            "Maple syrup, 1 L",
            "Grade A amber, from a sugar shack near Saint-Hyacinthe.",
            Decimal(100),
        ),
        Product("canoe-paddle", "Canoe paddle", "Ash and cherry, hand finished.", Decimal("249.50")),
        Product("wool-toque", "Wool toque", "Merino, knitted in Nova Scotia.", Decimal("39.99")),
    )
}
