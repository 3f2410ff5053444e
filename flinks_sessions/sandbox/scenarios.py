"""The sandbox scenarios Flinks documents, selected by ``referenceId``.

A merchant's tests use the same references against the real UAT environment, so the emulator keys its
behaviour on them too; any other reference behaves like ``Happy1``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Scenario:
    """What the hosted flow shows and how it ends for one documented test persona."""

    name: str
    first_name: str
    last_name: str
    amount: Decimal
    language: str = "en"
    # Fraction of the requested amount a GEFT guarantee covers; below 1 is the "reduced offer" path.
    offer_ratio: Decimal = Decimal(1)
    # What the ``#fail`` button (and a failing run) produces.
    failure_details: str = "EFT0402"
    # ``Unhappy1`` always fails, whatever button the shopper presses.
    always_fails: bool = False


HAPPY1 = Scenario("Happy1", "John", "Doe", Decimal(100))
SCENARIOS: dict[str, Scenario] = {
    scenario.name.lower(): scenario
    for scenario in (
        HAPPY1,
        Scenario("Happy2", "Steve", "Diamond", Decimal(1000), offer_ratio=Decimal("0.5")),
        Scenario("Happy3", "Alex", "Rider", Decimal(100), language="fr"),
        Scenario("Unhappy1", "Joe", "Fails", Decimal(100), always_fails=True),
    )
}

# Browser event posted for each failure code; codes without a documented event post none.
FAILURE_EVENTS: dict[str, str] = {"EFT0402": "GUARANTEE_FAILED", "EFT0404": "GUARANTEE_FAILED"}


def scenario_for(reference_id: str | None) -> Scenario:
    """The scenario a reference selects (case-insensitively), ``Happy1`` by default."""
    if reference_id is None:
        return HAPPY1
    return SCENARIOS.get(reference_id.strip().lower(), HAPPY1)
