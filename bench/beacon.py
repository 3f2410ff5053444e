"""Does the exit beacon ever wait for Flinks, and what does it cost next to the cheapest DRF view?

Run: ``.venv/bin/python bench/beacon.py`` (PostgreSQL from ``DATABASE_URL``, default
postgres://postgres@127.0.0.1:5432/test; the run uses its own database ``flinks_bench_beacon``).
``--beacons N`` (default 2000 per phase), ``--clients N`` (8), ``--latency S`` (0.5), ``--rounds N`` (4),
``--workers N`` / ``--threads N`` for gunicorn (2 x 4, gthread); ``--smoke`` (a few requests, no target checked);
``--without-enqueue`` measures the beacon with its task hand-off removed (what a design without a task per beacon
could at best reach; not a mode of the package).

Set-up, as in production: the example project under gunicorn, one ``db_worker`` draining the task queue, the
Flinks sandbox in its own process, N concurrent keep-alive clients, one beacon per session (each with its valid
token; sessions are created at the sandbox through its control API and stored as rows in bulk). In one run,
interleaved in rounds so drift hits every phase alike:

- the beacon with the sandbox answering at once;
- the beacon with the sandbox answering after ``--latency`` seconds (the worker's cancels crawl; the beacon must
  not notice);
- a trivial DRF view on the same server (``bench/beacon_site``): ``@api_view`` with DRF defaults, answers 202;
- the floor: that trivial view plus one autocommit UPDATE of the session's row, the least a beacon that records
  anything must do (no token, no parsing, no throttle, no task). Its ratio to the trivial view bounds what any
  beacon can reach on this host.

Targets: beacon@latency / beacon@0 p50 and p99 ≤ 1.2; beacon / trivial p50 ≤ 2 and p99 ≤ 3; at most 3 SQL
statements per accepted beacon (``CaptureQueriesContext`` in this process, same code path and database;
transaction control, which Django logs too, is counted apart). Misses are printed; ``--strict`` exits 1 on one.
Also printed: where the host's CPU went per request in each phase (/proc utime + stime of gunicorn, the
bench's PostgreSQL backends, the db_worker, the sandbox, these clients, and whatever else shares the host), and
where one beacon's time goes, request by request in this process (the view, the service, its UPDATE, its task
INSERT), next to the trivial view, and what the hand-built intent UPDATE saves over the ORM's.
The server runs the example project's settings with ``CONN_MAX_AGE=600`` and
its ``CONN_HEALTH_CHECKS`` on (a SELECT 1 on each request's first query); ``--no-health-checks`` shows that cost.
"""

from __future__ import annotations

import argparse
import http.client
import math
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.benchdb import DEFAULT_URL, SMOKE_HELP, SMOKE_NOTE, fresh_database  # noqa: E402 - after the path is set

BENCH_DB = "flinks_bench_beacon"
SETTINGS = "bench.beacon_site.settings"
PAYOR = {"firstName": "John", "lastName": "Doe", "email": "john@example.com"}
CONTROL = ("BEGIN", "SAVEPOINT", "RELEASE", "COMMIT", "ROLLBACK")
TARGET_LATENCY_RATIO = 1.2
TARGET_TRIVIAL_P50 = 2.0
TARGET_TRIVIAL_P99 = 3.0
TARGET_QUERIES = 3
LOG_DIR = ROOT / "var" / "bench-beacon"


# --- processes --------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def drop_database(database_url: str) -> None:
    import psycopg

    admin = urlunsplit(urlsplit(database_url)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')


@contextmanager
def process(
    name: str, command: list[str], env: dict[str, str], *, read_stdout: bool = False
) -> Iterator[subprocess.Popen[str]]:
    """A child process logging to var/bench-beacon/<name>.log; SIGTERM (then SIGKILL) on exit.

    ``read_stdout`` hands stdout to the caller, who must read it (an unread pipe fills and stalls the child).
    """
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    with (LOG_DIR / f"{name}.log").open("w") as log:
        stdout: Any = subprocess.PIPE if read_stdout else log
        child = subprocess.Popen(command, cwd=ROOT, env=env, stdout=stdout, stderr=log, text=True)
        try:
            yield child
        finally:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
                try:
                    child.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()
            if child.stdout:
                child.stdout.close()


def start_sandbox(env: dict[str, str]) -> Any:
    command = [sys.executable, "-m", "flinks_sessions.sandbox", "--port", "0", "--expire-after", "0"]
    return process("sandbox", command, env, read_stdout=True)


def sandbox_url(child: subprocess.Popen[str]) -> str:
    assert child.stdout is not None
    line = child.stdout.readline()
    if "listening on" not in line:
        raise SystemExit(f"the sandbox did not start: {line!r} (see {LOG_DIR / 'sandbox.log'})")
    return line.rsplit(" ", 1)[-1].strip()


def wait_until_up(port: int, path: str = "/", timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            if conn.getresponse().status < 500:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"the server on port {port} did not come up (see {LOG_DIR})")
        time.sleep(0.1)


# --- data -------------------------------------------------------------------------------------------------------


def create_sessions(count: int, sandbox: str) -> list[tuple[str, str]]:
    """``count`` sessions at the sandbox (control API, no tokens spent) and as rows; returns (id, token)."""
    from flinks_sessions.api import exit_token
    from flinks_sessions.models import PaymentSession
    from flinks_sessions.sandbox import SandboxControl
    from flinks_sessions.services.start import build_session_body

    local = threading.local()

    def create(index: int) -> str:
        if not hasattr(local, "control"):
            local.control = SandboxControl(sandbox)
        body = build_session_body(
            product="eft", amount=Decimal("100.00"), reference_id=f"bench-{index}", payor=PAYOR
        )
        return str(local.control.create_session(body)["sessionId"])

    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(create, range(count)))
    rows = [
        PaymentSession(session_id=sid, reference_id=f"bench-{i}", amount="100.00")
        for i, sid in enumerate(ids)
    ]
    PaymentSession.objects.bulk_create(rows, batch_size=1000)
    return [(str(row.session_id), exit_token(row)) for row in rows]


def measure_queries(session: tuple[str, str]) -> tuple[list[str], list[str]]:
    """The SQL of one accepted beacon, in this process, against the bench database and its task backend."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    session_id, token = session
    with CaptureQueriesContext(connection) as queries:
        response = Client().post(
            f"/flinks/sessions/{session_id}/exit/",
            urlencode({"token": token, "reason": "pagehide"}),
            content_type="application/x-www-form-urlencoded",
        )
    assert response.status_code == 202, response.content
    assert response.json()["queued"] is True
    sql = [query["sql"] for query in queries]
    data = [text for text in sql if not text.lstrip().upper().startswith(CONTROL)]
    control = [text for text in sql if text.lstrip().upper().startswith(CONTROL)]
    return data, control


def breakdown(sessions: list[tuple[str, str]], samples: int) -> dict[str, tuple[float, float]]:
    """Where a beacon's time goes, one request at a time in this process: (median wall ms, median CPU ms).

    Measured before the server and the worker start, so nothing else of ours competes for the machine.
    """
    from django.db import DEFAULT_DB_ALIAS
    from django.test import Client
    from django.utils import timezone

    from flinks_sessions.models import PaymentSession
    from flinks_sessions.services import request_cancel
    from flinks_sessions.services.intent import _record_intent
    from flinks_sessions.status import OPEN_STATUSES
    from flinks_sessions.tasks import enqueue_cancel

    # The intent UPDATE as the ORM would build it each time, here only: what the hand-built statement the package
    # ships (services/intent.py) saves, measured in this run. It is kept only while that is over 10 % of a beacon.
    client = Client()
    form = "application/x-www-form-urlencoded"

    def trivial(sid: str, token: str) -> None:
        client.post("/bench/trivial/", urlencode({"token": token}), content_type=form)

    def beacon(sid: str, token: str) -> None:
        client.post(f"/flinks/sessions/{sid}/exit/", urlencode({"token": token}), content_type=form)

    def service(sid: str, token: str) -> None:
        request_cancel(sid, source="beacon", reason="pagehide")

    def update(sid: str, token: str) -> None:
        _record_intent(DEFAULT_DB_ALIAS, sid, now=timezone.now(), source="beacon", reason="pagehide")

    def update_through_orm(sid: str, token: str) -> None:
        now = timezone.now()
        PaymentSession.objects.filter(
            session_id=sid, cancel_requested_at__isnull=True, status__in=OPEN_STATUSES
        ).update(cancel_requested_at=now, cancel_source="beacon", cancel_reason="pagehide", updated_at=now)

    def enqueue(sid: str, token: str) -> None:
        enqueue_cancel(sid, source="beacon", reason="pagehide")

    steps = {
        "trivial DRF view": trivial,
        "beacon view": beacon,
        "  services.request_cancel": service,
        "    its UPDATE (autocommit)": update,
        "    its task enqueue (INSERT)": enqueue,
        "    the same UPDATE through the ORM": update_through_orm,
    }
    results: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in steps}
    pool = iter(sessions)
    for _ in range(samples):
        own = {name: next(pool) for name in list(steps)[:4]}
        own["    its task enqueue (INSERT)"] = own["    its UPDATE (autocommit)"]  # that intent's task
        own["    the same UPDATE through the ORM"] = next(pool)
        for name, step in steps.items():
            wall, cpu = time.perf_counter(), time.process_time()
            step(*own[name])
            results[name][0].append(time.perf_counter() - wall)
            results[name][1].append(time.process_time() - cpu)
    return {name: (percentile(w, 0.5) * 1000, percentile(c, 0.5) * 1000) for name, (w, c) in results.items()}


# --- clients ----------------------------------------------------------------------------------------------------


def run_clients(
    port: int, requests: list[tuple[str, bytes]], clients: int, expect: int
) -> tuple[list[float], float]:
    """POST every request, ``clients`` at a time on keep-alive connections; latencies (s) and wall time."""
    chunks = [requests[index::clients] for index in range(clients)]
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors: list[str] = []
    start = threading.Barrier(clients + 1)
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "*/*"}

    def client(index: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.connect()
        start.wait()
        for path, body in chunks[index]:
            for attempt in (1, 2):
                began = time.perf_counter()
                try:
                    conn.request("POST", path, body, headers)
                    response = conn.getresponse()
                    response.read()
                except (http.client.HTTPException, OSError):
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                    if attempt == 2:
                        raise
                    continue
                latencies[index].append(time.perf_counter() - began)
                if response.status != expect:
                    errors.append(f"{path}: {response.status}")
                break
        conn.close()

    threads = [threading.Thread(target=client, args=(index,)) for index in range(clients)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    if errors:
        raise SystemExit(f"{len(errors)} unexpected answers, e.g. {errors[:3]}")
    return [value for chunk in latencies for value in chunk], wall


CPU_GROUPS = (
    "gunicorn",
    "postgres backends",
    "postgres (other)",
    "db_worker",
    "sandbox",
    "bench clients",
    "other (not ours)",
)


def cpu_snapshot() -> dict[int, tuple[str, float]]:
    """CPU seconds (user + system) used so far by each process on this host, with its group, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    found: dict[int, tuple[str, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        pid = int(entry.name)
        if pid == os.getpid():
            group = "bench clients"
        elif "gunicorn" in command:
            group = "gunicorn"
        elif "db_worker" in command:
            group = "db_worker"
        elif "flinks_sessions.sandbox" in command:
            group = "sandbox"
        elif command.startswith("postgres"):
            group = "postgres backends" if BENCH_DB in command else "postgres (other)"
        else:
            group = "other (not ours)"
        found[pid] = (group, (int(fields[11]) + int(fields[12])) / tick)
    return found


def cpu_used(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]) -> dict[str, float]:
    """CPU seconds per group between two snapshots (a process that exits in between is left out)."""
    used = dict.fromkeys(CPU_GROUPS, 0.0)
    for pid, (group, seconds) in after.items():
        used[group] += seconds - before.get(pid, (group, 0.0))[1]
    return used


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def beacon_requests(sessions: list[tuple[str, str]]) -> list[tuple[str, bytes]]:
    return [
        (f"/flinks/sessions/{sid}/exit/", urlencode({"token": token, "reason": "pagehide"}).encode())
        for sid, token in sessions
    ]


# --- the run ----------------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--beacons", type=int, default=2000, help="requests per phase (default 2000)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--latency", type=float, default=0.5, help="the slow sandbox's latency in seconds")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker (default 4)")
    parser.add_argument(
        "--worker-nice",
        type=int,
        default=10,
        help="niceness of the db_worker (default 10; 0 = same as the web)",
    )
    parser.add_argument(
        "--breakdown", type=int, default=200, help="samples for the in-process cost breakdown"
    )
    parser.add_argument(
        "--async-commit",
        action="store_true",
        help="synchronous_commit=off for the bench database (to see what WAL flushes cost; not a default)",
    )
    parser.add_argument(
        "--no-health-checks",
        action="store_true",
        help="CONN_HEALTH_CHECKS off (the example project's default is on: a SELECT 1 per request using the DB)",
    )
    parser.add_argument(
        "--without-enqueue",
        action="store_true",
        help="measure the beacon with its task hand-off removed (what avoiding a task per beacon could reach)",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--keep-db", action="store_true", help=f"leave the {BENCH_DB} database behind")
    parser.add_argument("--smoke", action="store_true", help=SMOKE_HELP)
    args = parser.parse_args()
    if args.smoke:
        args.beacons, args.rounds, args.warmup, args.breakdown, args.clients, args.latency = (
            16,
            1,
            8,
            4,
            4,
            0.05,
        )
        args.strict = False

    database_url = fresh_database(
        os.environ.get("DATABASE_URL", DEFAULT_URL), BENCH_DB, async_commit=args.async_commit
    )
    port = free_port()
    env = {
        key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "FLINKS_", "SHOP_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE=SETTINGS,
        DATABASE_URL=database_url,
        DJANGO_DEBUG="False",
        DJANGO_CONN_MAX_AGE="600",
        DJANGO_CONN_HEALTH_CHECKS=str(not args.no_health_checks),
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")])),
        PYTHONUNBUFFERED="1",
        BENCH_WITHOUT_ENQUEUE="1" if args.without_enqueue else "0",
        # The sandbox's control API token: the child sandbox and SandboxControl both read it.
        FLINKS_SANDBOX_TOKEN=secrets.token_urlsafe(24),
    )
    try:
        with start_sandbox(env) as sandbox_process:
            sandbox = sandbox_url(sandbox_process)
            env["FLINKS_BASE_URL"] = sandbox
            os.environ.update(env)
            return run(args, env, sandbox, port)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep_db:
            with suppress(Exception):
                drop_database(database_url)


def run(args: argparse.Namespace, env: dict[str, str], sandbox: str, port: int) -> int:
    import django

    django.setup()
    from django.core.management import call_command

    from flinks_sessions.sandbox import SandboxControl

    control = SandboxControl(sandbox)
    call_command("migrate", verbosity=0)
    per_round = max(1, args.beacons // args.rounds)
    total = per_round * args.rounds
    extra = 5 * args.breakdown + 1
    print(f"==> creating {2 * total + args.warmup + extra} sessions at the sandbox and in {BENCH_DB}")
    sessions = create_sessions(2 * total + args.warmup + extra, sandbox)
    query_data, query_control = measure_queries(sessions.pop())
    print(f"==> cost breakdown, one request at a time ({args.breakdown} samples)")
    costs = breakdown([sessions.pop() for _ in range(5 * args.breakdown)], args.breakdown)
    warmup, fast, slow = (
        sessions[: args.warmup],
        sessions[args.warmup :][:total],
        sessions[args.warmup + total :],
    )

    gunicorn = [
        sys.executable, "-m", "gunicorn", "example_project.wsgi:application",
        "--bind", f"127.0.0.1:{port}", "--workers", str(args.workers), "--worker-class", "gthread",
        "--threads", str(args.threads), "--keep-alive", "60", "--backlog", "256",
    ]  # fmt: skip
    # Background work yields to web requests, as a deployment sharing one host should arrange (docs/deployment.md).
    worker = [
        "nice", "-n", str(args.worker_nice),
        sys.executable, "manage.py", "db_worker", "--interval", "0.05", "--no-startup-delay",
    ]  # fmt: skip
    with process("gunicorn", gunicorn, env), process("db_worker", worker, env):
        wait_until_up(port)
        print(f"==> warming up ({args.warmup} beacons, {args.warmup} trivial requests)")
        trivial_body = urlencode({"token": warmup[0][1], "reason": "pagehide"}).encode()
        run_clients(port, beacon_requests(warmup), args.clients, 202)
        run_clients(port, [("/bench/trivial/", trivial_body)] * args.warmup, args.clients, 202)

        phases: dict[str, list[float]] = {"fast": [], "slow": [], "trivial": [], "floor": []}
        walls: dict[str, float] = dict.fromkeys(phases, 0.0)
        cpu: dict[str, dict[str, float]] = {name: dict.fromkeys(CPU_GROUPS, 0.0) for name in phases}
        order = ["fast", "trivial", "slow", "floor"]
        print(f"==> measuring: {args.rounds} rounds x {per_round} requests per phase, {args.clients} clients")
        for number in range(args.rounds):
            for phase in order[number % len(order) :] + order[: number % len(order)]:
                chunk = slice(number * per_round, (number + 1) * per_round)
                if phase == "trivial":
                    requests = [("/bench/trivial/", trivial_body)] * per_round
                elif phase == "floor":
                    requests = [(f"/bench/floor/{sid}/", trivial_body) for sid, _ in slow[chunk]]
                else:
                    control.update_faults(latency=args.latency if phase == "slow" else 0.0)
                    requests = beacon_requests((slow if phase == "slow" else fast)[chunk])
                before = cpu_snapshot()
                latencies, wall = run_clients(port, requests, args.clients, 202)
                after = cpu_snapshot()
                phases[phase] += latencies
                walls[phase] += wall
                for group, seconds in cpu_used(before, after).items():
                    cpu[phase][group] += seconds
        control.update_faults(latency=0.0)
        cancels = control.count(method="POST", path_suffix="/cancel")
        from django_tasks_db.models import DBTaskResult

        backlog = DBTaskResult.objects.filter(status="READY").count()

    return report(
        args,
        phases=phases,
        walls=walls,
        cpu=cpu,
        query_data=query_data,
        query_control=query_control,
        cancels=cancels,
        backlog=backlog,
        total=total,
        costs=costs,
    )


def report(
    args: argparse.Namespace,
    *,
    phases: dict[str, list[float]],
    walls: dict[str, float],
    cpu: dict[str, dict[str, float]],
    query_data: list[str],
    query_control: list[str],
    cancels: int,
    backlog: int,
    total: int,
    costs: dict[str, tuple[float, float]],
) -> int:
    labels = {
        "fast": "beacon, Flinks answering at once",
        "slow": f"beacon, Flinks answering in {args.latency * 1000:.0f} ms",
        "trivial": "trivial DRF view",
        "floor": "trivial DRF view + 1 raw UPDATE",
    }
    stats = {
        name: {q: percentile(values, q) * 1000 for q in (0.5, 0.9, 0.99, 1.0)}
        for name, values in phases.items()
    }
    print()
    print(
        f"Exit beacon: gunicorn gthread {args.workers}x{args.threads}, PostgreSQL ({BENCH_DB}"
        f"{', synchronous_commit=off' if args.async_commit else ''}), 1 db_worker (nice {args.worker_nice}), "
        f"sandbox in its own process; {args.clients} clients, {total} requests per phase; CONN_MAX_AGE=600, "
        f"CONN_HEALTH_CHECKS={'off' if args.no_health_checks else 'on'}"
        f"{'; WITHOUT the task enqueue (--without-enqueue)' if args.without_enqueue else ''}"
    )
    print(f"{'':40} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8} {'req/s':>8}")
    for name, label in labels.items():
        s = stats[name]
        rate = len(phases[name]) / walls[name]
        print(f"{label:40} {s[0.5]:8.2f} {s[0.9]:8.2f} {s[0.99]:8.2f} {s[1.0]:8.2f} {rate:8.0f}")

    print("\n  Where the host's CPU went, per request served (ms; /proc utime + stime over each phase):")
    print(f"  {'':22}" + "".join(f" {name:>12}" for name in labels))
    for group in (*CPU_GROUPS, "total"):
        row = []
        for name in labels:
            used = sum(cpu[name].values()) if group == "total" else cpu[name][group]
            row.append(f" {used / len(phases[name]) * 1000:12.2f}")
        print(f"  {group:22}" + "".join(row))

    checks: list[tuple[str, float, float]] = [
        ("beacon@slow / beacon@fast p50", stats["slow"][0.5] / stats["fast"][0.5], TARGET_LATENCY_RATIO),
        ("beacon@slow / beacon@fast p99", stats["slow"][0.99] / stats["fast"][0.99], TARGET_LATENCY_RATIO),
    ]
    for name in ("fast", "slow"):
        checks.append(
            (f"beacon@{name} / trivial p50", stats[name][0.5] / stats["trivial"][0.5], TARGET_TRIVIAL_P50)
        )
        checks.append(
            (f"beacon@{name} / trivial p99", stats[name][0.99] / stats["trivial"][0.99], TARGET_TRIVIAL_P99)
        )
    print()
    missed = 0
    for label, ratio, target in checks:
        ok = ratio <= target
        missed += not ok
        print(f"  {label:34} {ratio:5.2f}  (target ≤ {target:g})  {'ok' if ok else 'MISSED'}")
    floor_p50 = stats["floor"][0.5] / stats["trivial"][0.5]
    print(
        f"  {'floor / trivial p50':34} {floor_p50:5.2f}  (a lower bound: the trivial view plus one autocommit UPDATE,"
        " none of the beacon's checks and no task; no beacon that records anything can do better)"
    )
    kinds = ", ".join(text.split()[0] for text in query_data)
    ok = len(query_data) <= TARGET_QUERIES
    missed += not ok
    print(
        f"  {'SQL statements per accepted beacon':34} {len(query_data):5d}  (target ≤ {TARGET_QUERIES})  "
        f"{'ok' if ok else 'MISSED'}   [{kinds}; plus {len(query_control)} transaction control: "
        f"{', '.join(text.split()[0] for text in query_control)}]"
    )
    print(
        f"\n  the db_worker meanwhile: {cancels} cancels reached the sandbox, {backlog} still queued at the end "
        "(it works behind the beacons; no beacon waits for it)"
    )
    print("\n  Where a beacon's time goes (in-process, one at a time, medians):")
    print(f"  {'':36} {'wall ms':>8} {'CPU ms':>8}")
    for name, (wall, spent) in costs.items():
        print(f"  {name:36} {wall:8.2f} {spent:8.2f}")
    saving = costs["    the same UPDATE through the ORM"][1] - costs["    its UPDATE (autocommit)"][1]
    share = saving / costs["beacon view"][1]
    verdict = "keep it" if share > 0.10 else "go back to the ORM"
    print(
        f"  the hand-built intent UPDATE saves {saving:.3f} ms CPU per beacon: {share:.1%} of the beacon's CPU "
        f"(threshold 10 %: {verdict})"
    )
    if args.smoke:
        print(SMOKE_NOTE)
    return 1 if missed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
