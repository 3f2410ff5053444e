"""``make demo`` as a process manager, ``timeout`` or a CI runner stops it: SIGTERM ends everything, cleanly."""

from __future__ import annotations

import os
import re
import signal
import socket
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

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


# The script, its log, its environment marker, its two ports.
Demo = tuple[Child, Path, bytes, tuple[int, int]]


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    ports = (free_port(), free_port())
    # Unique to this run: tmp_path's name is the same in every run of this test, and another run on the machine
    # (a second worktree, another xdist session) would otherwise find, count and kill our demo (and we theirs).
    token = uuid.uuid4().hex
    marker = f"FLINKS_DEMO_TEST={token}".encode()
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
        FLINKS_DEMO_TEST=token,
        FLINKS_RECOVERY_DELAY="1",  # the reminder of an abandoned checkout, in test time
        DEMO_RECOVERY_EVERY="2",
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


def the_terminal_says_each_thing_once_and_in_order(demo: Demo) -> None:
    """One reloader line (runserver's), the worker's start before the banner, no 404 for the browser's icon."""
    script, log, _marker, (port, _sandbox) = demo
    text = script.output()  # the fixture waited for the banner
    assert text.count("Watching for file changes") == 1, text
    assert "Starting worker" in text.split("The demo shop is running")[0], text
    icon = requests.get(f"http://127.0.0.1:{port}/favicon.ico", timeout=10)
    assert icon.status_code == 200
    assert icon.headers["Content-Type"].startswith("image/")
    assert 'rel="icon"' in requests.get(f"http://127.0.0.1:{port}/", timeout=10).text
    time.sleep(0.5)
    assert "Not Found: /favicon.ico" not in log.read_text()


def the_metrics_show_the_cancels_its_worker_made(demo: Demo) -> None:
    """A shopper leaves the checkout; the demo's worker cancels at Flinks; the dev server's /metrics counts it.

    The shopper had ticked "Remind me": the demo's recovery sweep prints the reminder email in the terminal, and
    its link opens the Continue page, whose Continue leads to a new payment page for the order.
    """
    _script, log, _marker, (port, _sandbox) = demo
    shop = f"http://127.0.0.1:{port}"
    browser = requests.Session()
    product = browser.get(f"{shop}/products/maple-syrup/", timeout=10).text
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', product)
    assert csrf, product
    form = {
        "first_name": "John",
        "last_name": "Doe",
        "email": "john@example.com",
        "scenario": "Happy1",
        "recovery_consent": "on",
    }
    checkout = browser.post(
        f"{shop}/products/maple-syrup/checkout/",
        data={**form, "csrfmiddlewaretoken": csrf.group(1)},
        headers={"Referer": f"{shop}/products/maple-syrup/"},
        timeout=30,
    ).text
    exit_url = re.search(r'data-exit-url="([^"]+)"', checkout)
    token = re.search(r'data-token="([^"]+)"', checkout)
    assert exit_url, checkout
    assert token, checkout
    beacon = browser.post(
        shop + exit_url.group(1), data={"token": token.group(1), "reason": "pagehide"}, timeout=10
    )
    assert beacon.status_code == 202, beacon.text

    deadline = time.monotonic() + 60
    while True:
        scrape = browser.get(f"{shop}/metrics", timeout=10).text
        counted = re.search(
            r'^flinks_sessions_cancels_total\{[^}]*source="beacon"[^}]*\} ([0-9.]+)$', scrape, re.M
        )
        if counted and float(counted.group(1)) >= 1:
            break
        assert time.monotonic() < deadline, f"no beacon cancel in /metrics:\n{scrape}\n{log.read_text()}"
        time.sleep(0.5)

    deadline = time.monotonic() + 60
    while not (link := re.search(rf"http://127\.0\.0\.1:{port}/flinks/recover/\S+/", log.read_text())):
        assert time.monotonic() < deadline, f"no reminder email in the demo's terminal:\n{log.read_text()}"
        time.sleep(0.5)
    assert "==> email to john@example.com: Your order order-" in log.read_text()
    reader = requests.Session()  # the payer's mail client: another browser
    page = reader.get(link.group(0), timeout=10)
    assert page.status_code == 200
    assert 'data-recovery-state="ready"' in page.text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert token, page.text
    again = reader.post(
        link.group(0),
        data={"csrfmiddlewaretoken": token.group(1)},
        headers={"Referer": link.group(0)},
        timeout=30,
    )
    assert again.status_code == 200, again.text
    assert re.search(r"/pay/[0-9a-f-]{36}/$", again.url), again.url
    assert "<iframe" in again.text


def sigterm_stops_every_child_frees_the_ports_and_exits_0(demo: Demo) -> None:
    script, log, marker, ports = demo
    assert script.poll() is None, log.read_text()  # the fixture waited for the demo's ready line
    assert all(listening(port) for port in ports)
    assert len(processes_with(marker)) >= 4  # the script, the sandbox, the worker, runserver (and its child)

    script.send_signal(signal.SIGTERM)

    assert script.wait(timeout=30) == 0, log.read_text()
    assert processes_with(marker) == []
    assert not any(listening(port) for port in ports)
    assert b"==> stopped" in log.read_bytes()


@pytest.mark.slow
def test_the_demo_says_each_thing_once_counts_its_cancels_and_stops_on_sigterm(demo: Demo) -> None:
    """One demo, started once (it takes a while): its terminal, a cancel its worker makes, the reminder, its stop."""
    the_terminal_says_each_thing_once_and_in_order(demo)
    the_metrics_show_the_cancels_its_worker_made(demo)
    sigterm_stops_every_child_frees_the_ports_and_exits_0(demo)
