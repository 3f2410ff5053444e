"""The SPIN model of the announcements (docs/model/announce.pml) has the engine's states, and each of its broken
variants is a check that must fail in scripts/check-model.sh.

A state added to ``Announcement`` and not to the model would leave the "every stored transition is announced"
guarantee silently partial; a broken variant nobody runs proves nothing.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from flinks_sessions.models import Announcement, PaymentSession, SessionEvent

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "docs" / "model" / "announce.pml"
SCRIPT = ROOT / "scripts" / "check-model.sh"


@pytest.fixture(scope="module")
def model() -> str:
    if not MODEL.exists():
        pytest.skip(f"{MODEL} is not in this tree (an sdist ships no docs/)")
    return MODEL.read_text()


def test_every_announcement_state_is_modelled(model: str) -> None:
    found = re.search(r"^mtype:ann\s*=\s*\{([^}]*)\}", model, re.MULTILINE)
    assert found, "the model declares no mtype:ann"
    modelled = {value.strip().lower() for value in found.group(1).split(",")}
    assert modelled == {state.value for state in Announcement if state != Announcement.NONE}


def test_the_model_names_the_columns_it_stands_for(model: str) -> None:
    assert "SessionEvent.announcement" in model
    assert "PaymentSession.announcements_held" in model
    assert {field.name for field in SessionEvent._meta.fields} >= {"announcement", "announce_claim"}
    assert "announcements_held" in {field.name for field in PaymentSession._meta.fields}


def test_every_broken_variant_is_a_check_that_must_fail(model: str) -> None:
    script = SCRIPT.read_text()
    variants = set(re.findall(r"#ifdef (BROKEN_\w+)", model))
    assert variants == {"BROKEN_MARK_FIRST", "BROKEN_CLAIM"}
    for variant in variants:
        jobs = [
            line
            for line in script.splitlines()
            if line.strip().startswith('"announce-') and f"-D{variant}" in line
        ]
        assert jobs, f"scripts/check-model.sh runs no check of {variant}"
        assert all(":fail:" in job and ":hold:" not in job for job in jobs), jobs
