"""The sandbox scenarios Flinks documents, selected by ``referenceId``.

A merchant's tests use the same references against the real UAT environment, so the emulator keys its
behaviour on them too; any other reference behaves like ``Happy1``. A site that keeps its own references (the
example shop's orders) names the scenario in ``options.sandboxScenario`` instead, an option only this emulator
reads: a shop sends it only while it talks to the sandbox.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any


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


# The creation option that names a scenario beside the site's own ``referenceId``.
SANDBOX_SCENARIO_OPTION = "sandboxScenario"


def scenario_for(reference_id: str | None, options: Mapping[str, Any] | None = None) -> Scenario:
    """The scenario ``options.sandboxScenario`` names, else the one the reference selects (case-insensitively),
    ``Happy1`` by default."""
    for name in ((options or {}).get(SANDBOX_SCENARIO_OPTION), reference_id):
        if isinstance(name, str) and name.strip().lower() in SCENARIOS:
            return SCENARIOS[name.strip().lower()]
    return HAPPY1
