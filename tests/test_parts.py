"""``make test``'s two parts (scripts/pytest-in-parts.sh, tests/parts.py): the serial part always runs its tests.

A test that starts a pytest of its own (tests/test_safety_net.py does) hands it the parts' environment; that
nested session once wrote "no serial test" over the outer run's count, and the serial part was skipped in CI
while the closing line still read green. Here a probe suite has one serial test and one test that runs a nested
pytest, through the real script.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT

PROBE = """
import subprocess
import sys

import pytest


def test_runs_a_pytest_of_its_own(tmp_path):
    (tmp_path / "test_inner.py").write_text("def test_inner():\\n    pass\\n")
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "tests.parts", str(tmp_path)], check=True)


@pytest.mark.serial
def test_alone():
    pass
"""


@pytest.mark.slow
def test_the_serial_part_runs_even_when_a_test_runs_a_nested_pytest(tmp_path: Path) -> None:
    (tmp_path / "test_probe.py").write_text(PROBE)
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    serial: alone\n")
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "FLINKS_TEST_WORKERS": "2"}
    # The probe needs no Django: without its settings, pytest-django stays out of the five pytest processes.
    for name in (
        "FLINKS_TEST_PART",
        "FLINKS_TEST_COUNTS",
        "PYTEST_CURRENT_TEST",
        "PYTEST_XDIST_WORKER",
        "DJANGO_SETTINGS_MODULE",
    ):
        environment.pop(name, None)
    done = subprocess.run(  # noqa: S603 - the project's own script and interpreter
        [
            str(ROOT / "scripts" / "pytest-in-parts.sh"),
            sys.executable,
            "-p",
            "tests.parts",
            "-p",
            "no:cacheprovider",
        ],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "part 2 of 2" in output, output
    closing = output.strip().splitlines()[-1]
    assert closing.startswith("="), output
    assert " 2 passed in " in closing, output
