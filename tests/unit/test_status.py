"""The status enum, Flinks' spellings, and the transition rules."""

from __future__ import annotations

import logging

import pytest

from flinks_sessions.models import PaymentSession
from flinks_sessions.status import Status, is_allowed_transition, is_terminal, normalise_status


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Cancelled", Status.CANCELLED),
        ("Canceled", Status.CANCELLED),
        ("  CANCELED ", Status.CANCELLED),
        ("cancelled", Status.CANCELLED),
        ("Initiated", Status.INITIATED),
        ("InProgress", Status.IN_PROGRESS),
        ("in_progress", Status.IN_PROGRESS),
        ("Completed", Status.COMPLETED),
        ("FAILED", Status.FAILED),
        ("Expired", Status.EXPIRED),
    ],
)
def test_every_documented_spelling_normalises(raw: str, expected: Status) -> None:
    assert normalise_status(raw) is expected


@pytest.mark.parametrize("raw", ["Refunded", "", None, 42, "Cancel led"])
def test_unknown_values_are_logged_not_raised(raw: object, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="flinks_sessions.status"):
        assert normalise_status(raw) is None
    if raw is not None:
        assert caplog.records


def test_public_enum_names() -> None:
    assert {s.name for s in PaymentSession.Status} == {
        "INITIATED", "IN_PROGRESS", "COMPLETED", "FAILED", "CANCELLED", "EXPIRED",
    }  # fmt: skip
    assert all(is_terminal(s) for s in ("completed", "failed", "cancelled", "expired"))
    assert not is_terminal(Status.INITIATED)
    assert not is_terminal(Status.IN_PROGRESS)


@pytest.mark.parametrize("terminal", [Status.COMPLETED, Status.FAILED, Status.CANCELLED, Status.EXPIRED])
@pytest.mark.parametrize("new", list(Status))
def test_terminal_states_are_sinks(terminal: Status, new: Status) -> None:
    assert not is_allowed_transition(terminal, "EFT0301", new, "EFT0401")


def test_the_one_terminal_correction() -> None:
    assert is_allowed_transition(Status.COMPLETED, "EFT0302", Status.COMPLETED, "EFT0301")
    assert not is_allowed_transition(Status.COMPLETED, "EFT0301", Status.COMPLETED, "EFT0302")


def test_same_state_is_a_no_op_and_progress_only_moves_forward() -> None:
    assert not is_allowed_transition(Status.INITIATED, "EFT0101", Status.INITIATED, "EFT0101")
    assert not is_allowed_transition(Status.IN_PROGRESS, "", Status.INITIATED, "EFT0101")
    assert is_allowed_transition(Status.INITIATED, "EFT0101", Status.IN_PROGRESS, None)
    assert is_allowed_transition(Status.IN_PROGRESS, "", Status.CANCELLED, "EFT0501")
    assert is_allowed_transition(Status.INITIATED, "EFT0101", Status.EXPIRED, "EFT0601")


def test_a_terminal_state_has_exactly_one_way_out() -> None:
    """Every move out of every terminal (state, details): only Completed EFT0302 → Completed EFT0301 is allowed,
    so each condition of that one correction is needed (a Completed EFT0301 does not "correct" itself again)."""
    details = ["", "EFT0301", "EFT0302", "EFT0401", "EFT0501", "EFT0601"]
    allowed = {
        (current, current_details, new, new_details)
        for current in (Status.COMPLETED, Status.FAILED, Status.CANCELLED, Status.EXPIRED)
        for current_details in details
        for new in Status
        for new_details in [*details, None]
        if is_allowed_transition(current, current_details, new, new_details)
    }
    assert allowed == {(Status.COMPLETED, "EFT0302", Status.COMPLETED, "EFT0301")}
