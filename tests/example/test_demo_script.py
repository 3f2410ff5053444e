"""``make demo`` as a process manager, ``timeout`` or a CI runner stops it: SIGTERM ends everything, cleanly."""

from __future__ import annotations

import os
import signal
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.extras import import_or_missing
from tests.processes import ROOT, Child, started

import_or_missing("environ", "the demo needs the `example` extra")
import_or_missing("django_tasks_db", "the demo needs the `example` extra")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def processes_with(marker: bytes) -> list[int]:
    """Every process whose environment holds ``marker`` (what the demo and each of its children inherit)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environment = (entry / "environ").read_bytes().split(b"\0")
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if marker in environment:
            found.append(int(entry.name))
    return found


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[Child, Path, bytes, tuple[int, int]]]:
    ports = (free_port(), free_port())
    # The whole path: the directory's name alone is the same in every pytest run on this machine, and another
    # run's demo (seen, then killed below) would pass for this one's.
    marker = f"FLINKS_DEMO_TEST={tmp_path}".encode()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "FLINKS_", "DATABASE_URL", "PYTEST_"))
    }
    env.update(
        DEMO_PORT=str(ports[0]),
        FLINKS_SANDBOX_PORT=str(ports[1]),
        DEMO_PYTHON=sys.executable,
        DATABASE_URL=f"sqlite:///{tmp_path / 'demo.sqlite3'}",
        FLINKS_DEMO_TEST=str(tmp_path),
    )
    log = tmp_path / "demo.log"
    try:
        with started(
            [str(ROOT / "scripts" / "demo.sh")],
            log=log,
            env=env,
            ready="The demo shop is running",
            timeout=120,
        ) as script:
            yield script, log, marker, ports
    finally:
        for pid in processes_with(marker):  # whatever a failed test left behind
            os.kill(pid, signal.SIGKILL)


def test_sigterm_stops_every_child_frees_the_ports_and_exits_0(
    demo: tuple[Child, Path, bytes, tuple[int, int]],
) -> None:
    script, log, marker, ports = demo
    assert script.poll() is None, log.read_text()  # the fixture waited for the demo's ready line
    assert all(listening(port) for port in ports)
    assert len(processes_with(marker)) >= 4  # the script, the sandbox, the worker, runserver (and its child)

    script.send_signal(signal.SIGTERM)

    assert script.wait(timeout=30) == 0, log.read_text()
    assert processes_with(marker) == []
    assert not any(listening(port) for port in ports)
    assert b"==> stopped" in log.read_bytes()
