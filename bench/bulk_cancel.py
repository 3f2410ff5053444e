"""How close does ``flinks_cancel_sessions`` get to the floor this machine allows?

Run: ``.venv/bin/python bench/bulk_cancel.py`` (PostgreSQL from ``DATABASE_URL``, default
postgres://postgres@127.0.0.1:5432/test; the benchmark uses its own database ``flinks_bench``).

It starts the sandbox in its own process with 50 ms of latency on every API call, then, in one run:

- the floor: a bare ``ThreadPoolExecutor`` of plain ``requests`` calls (one shared Session, one token), making
  the same number of ``POST /cancel`` calls to the same sandbox at the same concurrency, without Django or a
  database;
- the measured time: ``call_command("flinks_cancel_sessions", ..., "--concurrency", N)`` over as many stored
  sessions (claim, call, store, audit, signal for each);
- services only: ``services.cancel_session`` (the single cancel: the admin button, the beacon's task, Start
  again) from a bare pool of as many threads, one call per session;
- the latency-only ideal (sessions * latency / concurrency) and the authorize calls the command made;
- where a single cancel's time goes: its SQL statements, and the package's functions that took the most time
  over a few cancels one at a time (cProfile).

The settings are the test suite's without django-payments (``bench/cancel_site``): a site's signal receivers
are its own cost. Targets: measured <= 1.3 * floor with exactly one authorize; services only <= 1.5 * floor.
Both at concurrency 32 over 2,000 sessions and at concurrency 1 over 200. Options: ``--sessions``,
``--concurrency``, ``--latency``, ``--repeat`` (best of N), ``--smoke`` (a few sessions, no target checked).
The database is created afresh on each run.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from io import StringIO
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.benchdb import (  # noqa: E402 - after the path
    DEFAULT_URL,
    SMOKE_HELP,
    SMOKE_NOTE,
    fresh_database,
    package_profile,
)

BENCH_DB = "flinks_bench"
TARGET_SINGLE = 1.5  # single cancel_session calls from a bare pool, against the same floor
PAYOR = {"firstName": "John", "lastName": "Doe", "email": "john@example.com"}


# --- environment: database, sandbox, Django ------------------------------------------------------------------


def start_sandbox(latency: float) -> tuple[subprocess.Popen[str], str]:
    # The sandbox's control API token: the child sandbox and SandboxControl both read it.
    os.environ.setdefault("FLINKS_SANDBOX_TOKEN", secrets.token_urlsafe(24))
    process = subprocess.Popen(
        [
            sys.executable, "-m", "flinks_sessions.sandbox",
            "--port", "0", "--latency", str(latency), "--expire-after", "0",
        ],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    if "listening on" not in line:
        process.kill()
        raise SystemExit(f"the sandbox did not start: {line!r}")
    return process, line.rsplit(" ", 1)[-1]


def setup_django(database_url: str, sandbox_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ["FLINKS_TEST_DB_NAME"] = BENCH_DB
    os.environ["FLINKS_TEST_SANDBOX_URL"] = sandbox_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.cancel_site.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


# --- sessions ------------------------------------------------------------------------------------------------


def create_remote_sessions(control: Any, count: int, prefix: str) -> list[str]:
    """Sessions in the sandbox through its control API (no token spent), a few at a time."""
    from flinks_sessions.services.start import build_session_body

    def create(index: int) -> str:
        body = build_session_body(
            product="eft", amount=Decimal("10.00"), reference_id=f"{prefix}-{index}", payor=PAYOR
        )
        return str(control.create_session(body)["sessionId"])

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(create, range(count)))


def store_sessions(session_ids: list[str], prefix: str) -> None:
    from django.db import connection

    from flinks_sessions.models import PaymentSession

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE flinks_sessions_sessionevent, flinks_sessions_paymentsession RESTART IDENTITY CASCADE"
        )
    PaymentSession.objects.bulk_create(
        [
            PaymentSession(
                session_id=session_id,
                reference_id=f"{prefix}-{index}",
                amount=Decimal("10.00"),
                status=PaymentSession.Status.INITIATED,
                remote_status="Initiated",
            )
            for index, session_id in enumerate(session_ids)
        ],
        batch_size=1000,
    )


# --- the two measurements ------------------------------------------------------------------------------------


def floor(sandbox_url: str, session_ids: list[str], concurrency: int) -> float:
    """Plain requests: one Session with a pool as large as the concurrency, one token, no Django, no DB."""
    import requests
    from requests.adapters import HTTPAdapter

    http = requests.Session()  # as requests ships it (trust_env on), like the app's client
    http.mount("http://", HTTPAdapter(pool_connections=1, pool_maxsize=max(concurrency, 10)))
    token = http.post(
        f"{sandbox_url}/api/v1/authorize",
        data={"grant_type": "client_credentials"},
        auth=("sandbox-client", "sandbox-secret"),
        timeout=10,
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}

    def cancel(session_id: str) -> int:
        return http.post(
            f"{sandbox_url}/api/v2/sessions/{session_id}/cancel", headers=headers, timeout=10
        ).status_code

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        codes = list(pool.map(cancel, session_ids))
    elapsed = time.perf_counter() - started
    http.close()
    assert set(codes) == {200}, set(codes)
    return elapsed


def services_pool(count: int, concurrency: int) -> tuple[float, float]:
    """``services.cancel_session`` from a bare ThreadPoolExecutor: Django and the database, but no command.

    Separates what the command and its runner add from what one cancel costs in the services and client.
    """
    from django.apps import apps
    from django.db import connections

    from flinks_sessions import services
    from flinks_sessions.models import PaymentSession

    apps.get_app_config("flinks_sessions").clients.clear()
    sessions = list(PaymentSession.objects.all())
    assert len(sessions) == count

    def work(session: PaymentSession) -> str:
        return services.cancel_session(session, source="command").outcome.value

    cpu = time.process_time()
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        outcomes = list(pool.map(work, sessions))
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu
        # One close per worker thread (the barrier makes each thread take exactly one); not timed.
        barrier = threading.Barrier(concurrency)

        def close(_n: int) -> None:
            barrier.wait()
            connections.close_all()

        list(pool.map(close, range(concurrency)))
    assert set(outcomes) == {"cancelled"}, set(outcomes)
    assert_announced()
    return elapsed, cpu


def assert_announced() -> None:
    """Every signal's receivers ran: a failing one (a missing table, say) would add its retries to the figures."""
    from flinks_sessions.models import SessionEvent

    failing = SessionEvent.objects.filter(announcement="failing").values_list("announce_error", flat=True)[:1]
    assert not failing, f"a signal receiver failed: {failing[0]}"


def command(control: Any, count: int, concurrency: int) -> tuple[float, int, str, float]:
    """``flinks_cancel_sessions`` in-process, with a cold client (so its one authorize is counted)."""
    from django.apps import apps
    from django.core.management import call_command
    from django.db import connections

    from flinks_sessions.models import PaymentSession

    apps.get_app_config("flinks_sessions").clients.clear()
    connections.close_all()
    control.clear_requests()
    out = StringIO()
    cpu = time.process_time()
    started = time.perf_counter()
    call_command(
        "flinks_cancel_sessions",
        "--older-than",
        "0s",
        "--concurrency",
        str(concurrency),
        stdout=out,
        stderr=out,
    )
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu
    authorizes = control.count(method="POST", path_suffix="/authorize")
    cancels = control.count(method="POST", path_suffix="/cancel")
    summary = out.getvalue().strip().splitlines()[-1]
    cancelled = PaymentSession.objects.filter(status=PaymentSession.Status.CANCELLED).count()
    assert cancels == count == cancelled, (cancels, count, cancelled, summary)
    assert_announced()
    return elapsed, authorizes, summary, cpu


def where_the_time_goes(control: Any, count: int) -> list[str]:
    """A single cancel at a time: its SQL statements, and the package's functions that took the most time."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from flinks_sessions import services
    from flinks_sessions.models import PaymentSession

    prefix = f"PROF-{uuid.uuid4().hex[:6]}"
    store_sessions(create_remote_sessions(control, count + 1, prefix), prefix)
    first, *rest = PaymentSession.objects.all()
    with CaptureQueriesContext(connection) as captured:
        services.cancel_session(first, source="command")
    kinds = [query["sql"].split()[0] for query in captured.captured_queries]
    ours = package_profile(lambda: [services.cancel_session(session, source="command") for session in rest])
    lines = [
        f"Where a single cancel's time goes ({count} cancels one at a time, under cProfile, which slows it):",
        f"  SQL statements: {len(kinds)} ({', '.join(kinds)})",
    ]
    lines += [f"  {name:48} {seconds / count * 1000:7.2f} ms per cancel" for seconds, name in ours[:10]]
    return lines


@dataclass
class Figures:
    sessions: int
    concurrency: int
    latency: float
    floor: float
    floor_cpu: float
    services: float
    services_cpu: float
    measured: float
    measured_cpu: float
    authorizes: int
    summary: str

    @property
    def ratio(self) -> float:
        return self.measured / self.floor

    @property
    def ideal(self) -> float:
        return self.sessions * self.latency / self.concurrency

    def _cpu(self, seconds: float) -> str:
        return f"CPU here {seconds:5.2f} s = {seconds / self.sessions * 1000:4.2f} ms/cancel"

    def report(self) -> str:
        met = "met" if self.ratio <= 1.3 else "MISSED"
        single = self.services / self.floor
        single_met = "met" if single <= TARGET_SINGLE else "MISSED"
        return "\n".join(
            [
                (
                    f"{self.sessions} sessions, concurrency {self.concurrency}, sandbox latency "
                    f"{self.latency * 1000:.0f} ms"
                ),
                f"  floor (bare requests pool):        {self.floor:6.2f} s   {self._cpu(self.floor_cpu)}",
                f"  flinks_cancel_sessions (measured): {self.measured:6.2f} s   {self._cpu(self.measured_cpu)}",
                f"  services only (bare pool):         {self.services:6.2f} s   {self._cpu(self.services_cpu)}",
                f"  ratio measured/floor:              {self.ratio:6.2f}     (target <= 1.30: {met})",
                (
                    f"  ratio services only/floor:         {single:6.2f}     (target <= {TARGET_SINGLE:.2f}:"
                    f" {single_met})"
                ),
                f"  latency-only ideal:                {self.ideal:6.2f} s",
                (
                    f"  authorize calls during the command: {self.authorizes:5d}     (target 1: "
                    f"{'met' if self.authorizes == 1 else 'MISSED'})"
                ),
                f"  command summary: {self.summary}",
            ]
        )


def measure(
    control: Any, sandbox_url: str, *, count: int, concurrency: int, latency: float, repeat: int
) -> Figures:
    """Best of ``repeat`` for each of the three measurements, each on fresh sessions."""
    floor_best = services_best = measured_best = (float("inf"), 0.0)
    authorizes, summary = 0, ""
    for attempt in range(repeat):
        floor_ids = create_remote_sessions(control, count, f"FLOOR{attempt}")
        cpu = time.process_time()
        elapsed = floor(sandbox_url, floor_ids, concurrency)
        floor_best = min(floor_best, (elapsed, time.process_time() - cpu))

        prefix = f"SVC{attempt}-{uuid.uuid4().hex[:6]}"
        store_sessions(create_remote_sessions(control, count, prefix), prefix)
        services_best = min(services_best, services_pool(count, concurrency))

        prefix = f"CMD{attempt}-{uuid.uuid4().hex[:6]}"
        store_sessions(create_remote_sessions(control, count, prefix), prefix)
        elapsed, authorizes, summary, cpu = command(control, count, concurrency)
        measured_best = min(measured_best, (elapsed, cpu))
    return Figures(
        count, concurrency, latency, *floor_best, *services_best, *measured_best, authorizes, summary
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sessions", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--serial-sessions", type=int, default=200, help="sessions for the concurrency-1 run")
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--repeat", type=int, default=1, help="best of N runs of each measurement")
    parser.add_argument("--smoke", action="store_true", help=SMOKE_HELP)
    args = parser.parse_args()
    if args.smoke:
        args.sessions, args.concurrency, args.serial_sessions, args.latency, args.repeat = 40, 8, 5, 0.01, 1

    database_url = os.environ.get("DATABASE_URL", DEFAULT_URL)
    fresh_database(database_url, BENCH_DB)  # the schema the code migrates to, never a previous run's
    sandbox, sandbox_url = start_sandbox(args.latency)
    try:
        setup_django(database_url, sandbox_url)
        # tests.settings logs the app at DEBUG (so tests exercise every log call); a production site does not.
        logging.getLogger("flinks_sessions").setLevel(logging.INFO)
        from flinks_sessions.sandbox import SandboxControl

        control = SandboxControl(sandbox_url, timeout=30)
        print(
            f"bench/bulk_cancel.py: PostgreSQL database {BENCH_DB}, sandbox in its own process at {sandbox_url}, "
            f"{os.cpu_count()} CPUs, best of {args.repeat}"
        )
        results = [
            measure(
                control,
                sandbox_url,
                count=args.sessions,
                concurrency=args.concurrency,
                latency=args.latency,
                repeat=args.repeat,
            ),
            measure(
                control,
                sandbox_url,
                count=args.serial_sessions,
                concurrency=1,
                latency=args.latency,
                repeat=args.repeat,
            ),
        ]
        for figures in results:
            print(figures.report(), flush=True)
        print("\n".join(where_the_time_goes(control, 5 if args.smoke else 100)), flush=True)
        if args.smoke:
            print(SMOKE_NOTE)
        control.reset()
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
