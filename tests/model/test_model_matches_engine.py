"""The SPIN models of the claim protocol (docs/model) name every state, outcome and column the engine has.

The models prove things only about what they contain: a status, an outcome or a claim column added to the
engine and not to a model would make docs/architecture.md's guarantees silently partial. These tests read the
models' ``mtype`` enumerations and ``column:`` notes and compare them with the code: claim.pml the cancel,
guarantee.pml the guarantee decision, restart.pml Start again, recovery.pml the recovery notice (and its
notice row's states). scripts/check-model.sh (CI's model step) checks
the models themselves.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from flinks_sessions import status
from flinks_sessions.models import PaymentSession, RecoveryNotice
from flinks_sessions.services import ApplyOutcome, CancelOutcome, GuaranteeOutcome, RestartOutcome
from flinks_sessions.services.recovery import RecoveryOutcome
from flinks_sessions.status import Status
from tests.extras import missing

MODELS = Path(__file__).resolve().parents[2] / "docs" / "model"

# Columns the claim protocol reads or writes: the row's state, the intent, every action's claim, the 404 mark,
# the guarantee's decision and the restart's link.
PROTOCOL_COLUMN = re.compile(
    r"^(status|status_details|cancel.*|.*claim.*|not_found_at|guarantee_decision|restarted_from)$"
)


def read_model(name: str) -> str:
    path = MODELS / f"{name}.pml"
    if not path.exists():
        missing("docs", f"{path} is not in this tree (an sdist ships no docs/)")
    return path.read_text()


@pytest.fixture(scope="module")
def model() -> str:
    return read_model("claim")


@pytest.fixture(scope="module")
def every_model() -> str:
    return "\n".join(read_model(name) for name in ("claim", "guarantee", "restart", "recovery"))


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


def test_every_guarantee_outcome_is_modelled() -> None:
    modelled = enumeration(read_model("guarantee"), "goutcome")
    assert set(modelled) == {outcome.value for outcome in GuaranteeOutcome}


def test_every_restart_outcome_is_modelled() -> None:
    assert set(enumeration(read_model("restart"), "routcome")) == {
        outcome.value for outcome in RestartOutcome
    }


def test_every_recovery_outcome_and_notice_state_is_modelled() -> None:
    model = read_model("recovery")
    assert set(enumeration(model, "coutcome")) == {outcome.value for outcome in RecoveryOutcome}
    # The model leaves out "failed" (the email backend raised): recorded like "sent", and never sent again.
    states = {value.removeprefix("N_") for value in enumeration(model, "nstate")} - {"none"}
    assert states == {state.value for state in RecoveryNotice.State} - {RecoveryNotice.State.FAILED.value}


def test_every_verdict_of_decide_is_modelled(model: str) -> None:
    # Unknown statuses change nothing (kept raw), so the model, whose Flinks only reports known ones, omits them.
    expected = {outcome.value for outcome in ApplyOutcome} - {ApplyOutcome.UNKNOWN_STATUS.value}
    assert set(enumeration(model, "apply")) == expected


def test_modelled_details_are_the_state_machines_codes(model: str) -> None:
    codes = {value for name, value in vars(status).items() if name.startswith("DETAIL_")}
    assert set(enumeration(model, "details")) - {"NoDetails"} <= codes


def test_every_protocol_column_is_modelled(every_model: str) -> None:
    fields = {field.name for field in PaymentSession._meta.concrete_fields}
    protocol = {name for name in fields if PROTOCOL_COLUMN.match(name)}
    assert protocol - modelled_columns(every_model) == set(), "columns the models do not have"


def test_the_models_name_only_real_columns(every_model: str) -> None:
    fields = {field.name for field in PaymentSession._meta.concrete_fields}
    assert modelled_columns(every_model) - fields == set()
