"""The SPIN model of the claim protocol (docs/model/claim.pml) names every state, outcome and column the engine has.

The model proves things only about what it contains: a status, a cancel outcome or a claim column added to the
engine and not to the model would make docs/architecture.md's guarantees silently partial. These tests read the
model's ``mtype`` enumerations and its ``column:`` notes and compare them with the code; scripts/check-model.sh
(CI's model step) checks the model itself.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from flinks_sessions import status
from flinks_sessions.models import PaymentSession
from flinks_sessions.services import ApplyOutcome, CancelOutcome
from flinks_sessions.status import Status

MODEL = Path(__file__).resolve().parents[2] / "docs" / "model" / "claim.pml"

# Columns the claim protocol reads or writes: the row's state, the intent, the claim, and the 404 mark.
PROTOCOL_COLUMN = re.compile(r"^(status|status_details|cancel.*|.*claim.*|not_found_at)$")
# The guarantee decision's own claim: the same discipline on columns no cancel reads or writes, outside the
# model (docs/architecture.md says so, and tests/guarantee/test_guarantee_race.py backs it instead).
NOT_MODELLED = frozenset({"guarantee_claim", "guarantee_claimed_at", "restart_claim", "restart_claimed_at"})


@pytest.fixture(scope="module")
def model() -> str:
    if not MODEL.exists():
        pytest.skip(f"{MODEL} is not in this tree (an sdist ships no docs/)")
    return MODEL.read_text()


def enumeration(model: str, name: str) -> list[str]:
    found = re.search(rf"^mtype:{name}\s*=\s*\{{([^}}]*)\}}", model, re.MULTILINE)
    assert found, f"the model declares no mtype:{name}"
    return [value.strip() for value in found.group(1).split(",")]


def modelled_columns(model: str) -> set[str]:
    return {column for note in re.findall(r"column: ([\w ]+)", model) for column in note.split()}


def test_every_status_is_modelled(model: str) -> None:
    # The model spells them as Flinks does (InProgress); the enum's values are snake_case (in_progress).
    modelled = {value.lower() for value in enumeration(model, "status")}
    assert modelled == {value.replace("_", "") for value in Status.values}


def test_every_cancel_outcome_is_modelled(model: str) -> None:
    assert set(enumeration(model, "outcome")) == {outcome.value for outcome in CancelOutcome}


def test_every_verdict_of_decide_is_modelled(model: str) -> None:
    # Unknown statuses change nothing (kept raw), so the model, whose Flinks only reports known ones, omits them.
    expected = {outcome.value for outcome in ApplyOutcome} - {ApplyOutcome.UNKNOWN_STATUS.value}
    assert set(enumeration(model, "apply")) == expected


def test_modelled_details_are_the_state_machines_codes(model: str) -> None:
    codes = {value for name, value in vars(status).items() if name.startswith("DETAIL_")}
    assert set(enumeration(model, "details")) - {"NoDetails"} <= codes


def test_every_protocol_column_is_modelled(model: str) -> None:
    fields = {field.name for field in PaymentSession._meta.concrete_fields}
    protocol = {name for name in fields if PROTOCOL_COLUMN.match(name)} - NOT_MODELLED
    assert protocol - modelled_columns(model) == set(), "columns the model does not have"


def test_the_model_names_only_real_columns(model: str) -> None:
    fields = {field.name for field in PaymentSession._meta.concrete_fields}
    assert modelled_columns(model) - fields == set()
