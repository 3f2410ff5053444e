"""``FLINKS_REQUIRE`` holds: with a required part missing, a pytest session fails; it never passes by skipping.

Each case runs a small pytest session in a subprocess, with this project's configuration (pyproject.toml) and
its real tests/conftest.py, over a probe file whose tests need one part each; the part is made unreachable
(Chromium hidden from PATH, a closed port, no DATABASE_URL). The browser probe uses the real module-scoped
``browser`` fixture of tests/browser, which once skipped before the conftest's check could fail the test.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.extras import EXTRAS, MARKERS
from tests.support import ROOT

PROBE = """
import pytest

from tests.browser.conftest import browser  # noqa: F401 - the real module-scoped fixture


@pytest.mark.browser
def test_browser(browser):
    assert browser.is_connected()


@pytest.mark.postgres
def test_postgres(db):
    from django.db import connection

    assert connection.vendor == "postgresql"


@pytest.mark.redis
def test_redis():
    pass


@pytest.mark.rabbitmq
def test_rabbitmq():
    pass
"""


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def session(tmp_path: Path, tests: list[str], require: str, **env: str | None) -> tuple[int, str]:
    """Run the probe's ``tests`` under ``FLINKS_REQUIRE=require`` with ``env`` changed (``None`` unsets).

    The exit status and pytest's output.
    """
    (tmp_path / "test_probe.py").write_text(PROBE)
    # The real conftest, loaded whole (hooks and fixtures) as a plugin of the probe's own conftest.
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["tests.conftest"]\n')
    environment = {**os.environ, "FLINKS_REQUIRE": require, "PYTHONPATH": str(ROOT)}
    for name, value in env.items():
        if value is None:
            environment.pop(name, None)
        else:
            environment[name] = value
    result = subprocess.run(  # noqa: S603 - this interpreter, this project's pytest
        [
            sys.executable,
            "-m",
            "pytest",
            "-c",
            str(ROOT / "pyproject.toml"),
            "--rootdir",
            str(tmp_path),
            "--confcutdir",
            str(tmp_path),
            "-p",
            "no:cacheprovider",
            "-q",
            "--tb=no",
            *(f"{tmp_path / 'test_probe.py'}::test_{test}" for test in tests),
        ],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return result.returncode, result.stdout + result.stderr


def everything_absent(tmp_path: Path) -> dict[str, str | None]:
    """No chromium on PATH, no DATABASE_URL (SQLite), Redis and RabbitMQ at ports nothing listens on."""
    empty = tmp_path / "bin"
    empty.mkdir(exist_ok=True)
    return {
        "PATH": str(empty),
        "DATABASE_URL": None,
        "FLINKS_TEST_REDIS_URL": f"redis://127.0.0.1:{closed_port()}/0",
        "FLINKS_TEST_RABBITMQ_URL": f"amqp://guest:guest@127.0.0.1:{closed_port()}//",
    }


def summary(output: str) -> str:
    return output.strip().splitlines()[-1]


def test_every_marker_has_a_probe() -> None:
    assert set(MARKERS) == {"postgres", "browser", "redis", "rabbitmq"}
    assert set(MARKERS) <= set(EXTRAS)
    for extra in MARKERS:
        assert f"def test_{extra}(" in PROBE


def test_each_required_part_that_is_missing_fails_its_test(tmp_path: Path) -> None:
    status, output = session(tmp_path, sorted(MARKERS), ",".join(MARKERS), **everything_absent(tmp_path))
    assert status == pytest.ExitCode.TESTS_FAILED, output
    assert summary(output).startswith(f"{len(MARKERS)} errors in"), output
    for extra in MARKERS:
        assert f"ERROR test_probe.py::test_{extra} - Failed: needs " in output, output


def test_without_the_requirement_the_same_session_skips(tmp_path: Path) -> None:
    """The failures above are the switch's doing: unrequired, each missing part is a skip."""
    status, output = session(tmp_path, sorted(MARKERS), "", **everything_absent(tmp_path))
    assert status == pytest.ExitCode.OK, output
    assert summary(output).startswith(f"{len(MARKERS)} skipped in"), output


def test_postgres_at_a_closed_port_fails_the_session(tmp_path: Path) -> None:
    database = f"postgres://postgres@127.0.0.1:{closed_port()}/test"
    status, output = session(tmp_path, ["postgres"], "postgres", DATABASE_URL=database)
    assert status == pytest.ExitCode.TESTS_FAILED, output
    assert summary(output).startswith("1 error in"), output


def test_an_unknown_name_in_flinks_require_stops_the_session(tmp_path: Path) -> None:
    status, output = session(tmp_path, ["redis"], "postgres,chromium")
    assert status == pytest.ExitCode.USAGE_ERROR, output
    assert "FLINKS_REQUIRE names unknown parts ['chromium']" in output, output
