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
    # The Flinks Pay product its checkout uses; empty for the shop's default (``SHOP_PRODUCT``).
    flinks_product: str = ""


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
        Product(
            "cedar-canoe",
            "Cedar strip canoe",
            "Paid by guaranteed EFT: Flinks offers a guarantee and the shop accepts it before you are done.",
            Decimal(1000),
            flinks_product="geft",
        ),
    )
}
