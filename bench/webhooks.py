"""How much does the webhook receiver cost next to the cheapest possible endpoint?

Run: ``.venv/bin/python bench/webhooks.py`` (SQLite, then PostgreSQL from ``DATABASE_URL``, default
postgres://postgres@127.0.0.1:5432/test; PostgreSQL runs use their own database ``flinks_bench_webhooks``).
``--deliveries N`` (default 2000), ``--only sqlite|postgres``, ``--smoke`` (a few deliveries, no target checked).

Each backend runs in its own process with the full middleware stack (security, sessions, common, CSRF, auth,
messages) and Django's test client, and measures in the same run:

- the receiver: signed ``SessionSetupStatusChanged`` deliveries, one per stored session (the normal case:
  store, verify, lock, transition, audit, outcome), then the same deliveries again (all duplicates);
- the receiver with ``WEBHOOK_ASYNC`` (store, verify, enqueue into django-tasks-db; no worker runs);
- the baseline: a bare view, behind the same middleware, that reads the body and inserts it as one row, once
  with one raw SQL statement and once with ``Model.objects.create`` on a tiny model of the bench's own;
- the floor: the receiver's own verification, parsing and header redaction, then only the writes an applied
  delivery needs (lock, transition, audit row, log row) as raw SQL in one transaction, and on PostgreSQL also as
  one statement; and once in the receiver's own order (the log row committed on its own first, then the writes
  and the outcome in one more commit). The floors skip the ORM and signals, so their ratios bound what any
  implementation of this work can reach on the machine running the bench;
- SQL statements per delivery (``CaptureQueriesContext``), with transaction control (BEGIN/COMMIT, which
  Django 6 logs) counted apart from the data queries.

The variants are interleaved in ``--rounds`` batches so a busy machine slows them all alike.

Targets: receiver ≥ 0.5 times the bare view's deliveries/s and ≥ 0.8 times its floor's (log row first);
≤ 5 queries per delivery.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.benchdb import SMOKE_HELP, SMOKE_NOTE, package_profile  # noqa: E402 - after the path is set

BENCH_DB = "flinks_bench_webhooks"
SECRET = "bench-webhook-secret"  # noqa: S105 - a benchmark's own secret
SQLITE_PATH = ROOT / "var" / "bench-webhooks.sqlite3"
TARGET_RATIO = 0.5
TARGET_QUERIES = 5
TARGET_FLOOR = 0.8
CONTROL = ("BEGIN", "SAVEPOINT", "RELEASE", "COMMIT", "ROLLBACK")


# The site every variant runs in (bench/webhooks_djstripe.py's site adds dj-stripe to it).
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "rest_framework",
    "flinks_sessions",
    "django_tasks_db",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
FLINKS_SESSIONS = {
    "ACCOUNTS": {"default": {"BASE_URL": "http://127.0.0.1:9", "CLIENT_ID": "c", "CLIENT_SECRET": "s"}},
    "WEBHOOK_SECRETS": [SECRET],
}


# --- the child: one backend -------------------------------------------------------------------------------------


def database_settings(backend: str, name: str = BENCH_DB, sqlite_path: Path = SQLITE_PATH) -> dict[str, Any]:
    """A fresh, empty database for ``backend``: the SQLite file at ``sqlite_path``, or PostgreSQL's ``name``."""
    if backend == "sqlite":
        sqlite_path.parent.mkdir(exist_ok=True)
        sqlite_path.unlink(missing_ok=True)
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(sqlite_path),
            "OPTIONS": {"timeout": 30, "transaction_mode": "IMMEDIATE"},
        }
    from bench.benchdb import DEFAULT_URL, fresh_database

    url = urlsplit(fresh_database(os.environ.get("DATABASE_URL", DEFAULT_URL), name))
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "USER": url.username or "postgres",
        "PASSWORD": url.password or "",
        "HOST": url.hostname or "127.0.0.1",
        "PORT": str(url.port or 5432),
    }


def configure(backend: str) -> None:
    from django.conf import settings

    settings.configure(
        DEBUG=False,
        SECRET_KEY="bench-only",  # noqa: S106
        ALLOWED_HOSTS=["*"],
        USE_TZ=True,
        INSTALLED_APPS=INSTALLED_APPS,
        MIDDLEWARE=MIDDLEWARE,
        ROOT_URLCONF=__name__,
        DATABASES={"default": database_settings(backend)},
        # Only WEBHOOK_ASYNC enqueues anything: into django-tasks-db's table, as the example project does.
        TASKS={"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}},
        FLINKS_SESSIONS=FLINKS_SESSIONS,
    )
    import django

    django.setup()


def bare_view(request: Any) -> Any:
    """The floor: read the body, insert it as one row with one SQL statement, answer 200."""
    from django.db import connection
    from django.http import HttpResponse
    from django.utils import timezone

    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO bench_bare (received_at, body) VALUES (%s, %s)", [timezone.now(), request.body]
        )
    return HttpResponse(status=200)


_BARE_MODEL: Any = None


def bare_model() -> Any:
    """A tiny model of the bench's own (created with the schema editor, never migrated)."""
    global _BARE_MODEL  # noqa: PLW0603 - built once, after django.setup()
    if _BARE_MODEL is None:
        from django.db import models

        class BareRow(models.Model):
            received_at = models.DateTimeField(auto_now_add=True)
            body = models.BinaryField()

            class Meta:
                app_label = "bench"
                db_table = "bench_bare_orm"

            def __str__(self) -> str:
                return str(self.pk)

        _BARE_MODEL = BareRow
    return _BARE_MODEL


def bare_orm_view(request: Any) -> Any:
    """The floor as most Django views would write it: ``Model.objects.create``."""
    from django.http import HttpResponse

    bare_model().objects.create(body=request.body)
    return HttpResponse(status=200)


_FLOOR_LOCK = "SELECT id, status FROM flinks_sessions_paymentsession WHERE session_id = %(sid)s"
_FLOOR_TRANSITION = """UPDATE flinks_sessions_paymentsession SET status = %(status)s, remote_status = %(status)s,
    status_details = %(details)s, updated_at = %(now)s WHERE id = %(pk)s"""
_FLOOR_OUTCOME = """
UPDATE flinks_sessions_webhookdelivery SET outcome = 'applied', session_id = %(pk)s, processed_at = %(now)s
WHERE id = %(delivery)s
"""
# What the floor writes in each row; every other column gets its field's default (bench/benchdb.py), so a
# column added to a model later cannot break the floor.
_EVENT_VALUES = {
    "session_id": "%(pk)s",
    "kind": "'transition'",
    "from_status": "%(old)s",
    "to_status": "%(status)s",
    "status_details": "%(details)s",
    "source": "'webhook'",
    "created_at": "%(now)s",
}
_DELIVERY_VALUES = {
    "received_at": "%(now)s",
    "remote_addr": "%(addr)s",
    "headers": "%(headers)s",
    "body": "%(body)s",
    "signature_form": "%(form)s",
    "signature_valid": "%(valid)s",
    "event_type": "%(type)s",
    "flinks_session_id": "%(sid)s",
    "event_when": "%(when)s",
    "session_id": "%(pk)s",
    "remote_status": "%(status)s",
    "status_details": "%(details)s",
    "outcome": "'applied'",
    "error": "'bench floor'",
    "processed_at": "%(now)s",
}
_FLOOR: dict[str, Any] = {}


def floor_sql() -> dict[str, Any]:  # table and column names come from the models, values are parameters
    """The floors' statements, their columns read from the models (built once, after ``django.setup()``)."""
    if _FLOOR:
        return _FLOOR
    from django.db import connection

    from bench.benchdb import insert_columns
    from flinks_sessions.models import SessionEvent, WebhookDelivery

    event_table, delivery_table = SessionEvent._meta.db_table, WebhookDelivery._meta.db_table
    columns, values, defaults = insert_columns(SessionEvent, _EVENT_VALUES, connection)
    event_insert = f"INSERT INTO {event_table} ({columns}) VALUES ({values})"  # noqa: S608
    columns, values, more = insert_columns(
        SessionEvent, {**_EVENT_VALUES, "session_id": "id", "from_status": "old"}, connection
    )
    event_from_changed = f"INSERT INTO {event_table} ({columns}) SELECT {values} FROM changed"  # noqa: S608
    defaults |= more
    columns, values, more = insert_columns(WebhookDelivery, _DELIVERY_VALUES, connection)
    delivery_insert = f"INSERT INTO {delivery_table} ({columns}) VALUES ({values})"  # noqa: S608
    defaults |= more
    columns, values, more = insert_columns(
        WebhookDelivery, {**_DELIVERY_VALUES, "session_id": "(SELECT id FROM changed)"}, connection
    )
    delivery_from_changed = f"INSERT INTO {delivery_table} ({columns}) SELECT {values}"
    defaults |= more
    received = {
        **_DELIVERY_VALUES,
        "session_id": "NULL",
        "outcome": "'received'",
        "processed_at": "NULL",
    }
    columns, values, more = insert_columns(WebhookDelivery, received, connection)
    log_first = f"INSERT INTO {delivery_table} ({columns}) VALUES ({values}) RETURNING id"  # noqa: S608
    defaults |= more
    changed = """
WITH locked AS (
    SELECT id, status FROM flinks_sessions_paymentsession WHERE session_id = %(sid)s FOR UPDATE
), changed AS (
    UPDATE flinks_sessions_paymentsession p SET status = %(status)s, remote_status = %(status)s,
        status_details = %(details)s, updated_at = %(now)s
    FROM locked WHERE p.id = locked.id RETURNING p.id, locked.status AS old
), audit AS (
    """
    _FLOOR.update(
        writes=(_FLOOR_TRANSITION, event_insert, delivery_insert),
        one_statement=f"{changed}{event_from_changed}\n)\n{delivery_from_changed}",
        log_first=log_first,
        apply_one_statement=f"{changed}{event_from_changed}\n)\n"  # noqa: S608
        + _FLOOR_OUTCOME.replace("%(pk)s", "(SELECT id FROM changed)"),
        defaults=defaults,
    )
    return _FLOOR


def _floor_params(request: Any) -> dict[str, Any]:
    """The receiver's required work before any write, done with the package's own functions."""
    from django.db import connection
    from django.utils import timezone

    from flinks_sessions.conf import get_settings
    from flinks_sessions.models import PaymentSession
    from flinks_sessions.webhooks.envelope import parse_envelope
    from flinks_sessions.webhooks.storage import redact_headers, remote_address
    from flinks_sessions.webhooks.verification import signature_headers, verify

    settings = get_settings()
    body = request.body
    form, valid = verify(body, signature_headers(request.headers, settings), settings)
    envelope = parse_envelope(body)
    remote = envelope.remote
    session_id_field = PaymentSession._meta.get_field("session_id")  # its column type: uuid or char(32)
    if not valid or remote is None or remote.status is None or envelope.session_id is None:
        raise SystemExit("the floor only takes valid, applicable deliveries")
    return {
        "sid": session_id_field.get_db_prep_value(envelope.session_id, connection),
        "status": remote.status.value,
        "details": remote.status_details or "",
        "now": timezone.now(),
        "addr": remote_address(request, settings),
        "headers": json.dumps(redact_headers(request.headers)),
        "body": body,
        "form": form.value,
        "valid": True,
        "type": envelope.event_type,
        "when": envelope.when,
        **floor_sql()["defaults"],
    }


def floor_view(request: Any) -> Any:
    """The least SQL the required work can take in one transaction: lock, transition, audit row, log row."""
    from django.db import connection, transaction
    from django.http import HttpResponse

    params = _floor_params(request)
    lock = " FOR UPDATE" if connection.vendor == "postgresql" else ""  # SQLite locks the whole database
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_FLOOR_LOCK + lock, params)
        params["pk"], params["old"] = cursor.fetchone()
        for statement in floor_sql()["writes"]:
            cursor.execute(statement, params)
    return HttpResponse(status=200)


def floor_logged_first_view(request: Any) -> Any:
    """The receiver's own order: the log row committed on its own, then the writes and the outcome in one commit.

    On PostgreSQL the second commit is one statement; on SQLite, one transaction.
    """
    from django.db import connection, transaction
    from django.http import HttpResponse

    params = _floor_params(request)
    with connection.cursor() as cursor:
        cursor.execute(floor_sql()["log_first"], params)
        params["delivery"] = cursor.fetchone()[0]
        if connection.vendor == "postgresql":
            cursor.execute(floor_sql()["apply_one_statement"], params)
            return HttpResponse(status=200)
        with transaction.atomic():
            cursor.execute(_FLOOR_LOCK, params)
            params["pk"], params["old"] = cursor.fetchone()
            for statement in (*floor_sql()["writes"][:2], _FLOOR_OUTCOME):
                cursor.execute(statement, params)
    return HttpResponse(status=200)


def floor_one_statement_view(request: Any) -> Any:
    """PostgreSQL only: the same writes as one autocommit statement (one round trip, one commit)."""
    from django.db import connection
    from django.http import HttpResponse

    with connection.cursor() as cursor:
        cursor.execute(floor_sql()["one_statement"], _floor_params(request))
    return HttpResponse(status=200)


def floor_urlpatterns() -> list[Any]:
    """The floors' URLs (bench/webhooks_djstripe.py measures them in its own site too)."""
    from django.urls import path
    from django.views.decorators.csrf import csrf_exempt

    return [
        path("floor/", csrf_exempt(floor_view)),
        path("floor-one/", csrf_exempt(floor_one_statement_view)),
        path("floor-logged-first/", csrf_exempt(floor_logged_first_view)),
    ]


def floor_urls(vendor: str) -> dict[str, str]:
    """Each floor measured on a backend, by its name in the figures (the one-statement floor is PostgreSQL's)."""
    floors = {"floor": "/floor/", "floor_logged": "/floor-logged-first/"}
    if vendor == "postgresql":
        floors["floor_one"] = "/floor-one/"
    return floors


def best_floor(rates: dict[str, float]) -> float:
    """The best rate of the floors doing the required work at once (not in the receiver's two commits)."""
    return max(rates[key] for key in ("floor", "floor_one") if key in rates)


def _urlpatterns() -> list[Any]:
    from django.urls import include, path
    from django.views.decorators.csrf import csrf_exempt

    return [
        path("flinks/", include("flinks_sessions.urls")),
        path("bare/", csrf_exempt(bare_view)),
        path("bare-orm/", csrf_exempt(bare_orm_view)),
        *floor_urlpatterns(),
    ]


def __getattr__(name: str) -> Any:  # the URLconf is this module; patterns are built once Django is set up
    if name == "urlpatterns":
        return _urlpatterns()
    raise AttributeError(name)


def create_bare_tables() -> None:
    from django.db import connection

    ddl = {
        "sqlite": "CREATE TABLE bench_bare (id INTEGER PRIMARY KEY AUTOINCREMENT, received_at TEXT, body BLOB)",
        "postgresql": "CREATE TABLE bench_bare (id BIGSERIAL PRIMARY KEY, received_at TIMESTAMPTZ, body BYTEA)",
    }[connection.vendor]
    with connection.cursor() as cursor:
        cursor.execute(ddl)
    with connection.schema_editor() as editor:
        editor.create_model(bare_model())


def make_deliveries(count: int) -> list[tuple[bytes, dict[str, str]]]:
    """``count`` stored sessions and, for each, the Completed webhook Flinks would send."""
    from flinks_sessions.models import PaymentSession
    from flinks_sessions.signatures import sign

    ids = [uuid.uuid4() for _ in range(count)]
    PaymentSession.objects.bulk_create(
        PaymentSession(session_id=sid, reference_id=f"bench-{sid.hex[:12]}", amount=Decimal("65.00"))
        for sid in ids
    )
    deliveries = []
    for sid in ids:
        payload = {"sessionId": str(sid), "amount": 65, "referenceId": None, "status": "Completed"}
        body = json.dumps(
            {"when": "2025-11-18T14:36:48.6078123Z", "payload": {**payload, "statusDetails": "EFT0301"},
             "type": "SessionSetupStatusChanged"}
        ).encode()  # fmt: skip
        deliveries.append((body, {"X-Webhook-Signature": sign(body, SECRET)}))
    return deliveries


def run(client: Any, url: str, deliveries: list[tuple[bytes, dict[str, str]]], expect: int = 200) -> float:
    """Seconds spent POSTing ``deliveries`` to ``url``; every answer must be ``expect``."""
    started = time.perf_counter()
    for body, headers in deliveries:
        response = client.post(url, data=body, content_type="application/json", headers=headers)
        if response.status_code != expect:
            raise SystemExit(f"{url} answered {response.status_code}: {response.content[:200]!r}")
    return time.perf_counter() - started


def count_queries(
    client: Any, url: str, deliveries: list[tuple[bytes, dict[str, str]]], expect: int = 200
) -> tuple[float, float]:
    """(all statements, data statements) per delivery."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        run(client, url, deliveries, expect)
    statements = [query["sql"].lstrip().upper() for query in captured.captured_queries]
    data = [sql for sql in statements if not sql.startswith(CONTROL)]
    return len(statements) / len(deliveries), len(data) / len(deliveries)


def child(backend: str, count: int, rounds: int, sample: int = 100) -> dict[str, Any]:
    """Interleave the variants in ``rounds`` small batches, so a busy machine slows them all alike.

    ``sample`` deliveries warm each variant up, and as many are counted for their SQL statements.
    """
    configure(backend)
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client, override_settings

    from flinks_sessions.models import WebhookDelivery

    call_command("migrate", verbosity=0)
    create_bare_tables()
    client = Client()
    webhook = "/flinks/webhooks/"
    async_settings = {**settings.FLINKS_SESSIONS, "WEBHOOK_ASYNC": True}
    per_round = max(1, count // rounds)
    warmup = make_deliveries(sample)
    floors = floor_urls(connection.vendor)
    for url in ("/bare/", "/bare-orm/", webhook):
        run(client, url, warmup)
    for url in floors.values():
        run(client, url, make_deliveries(sample))
    seconds = dict.fromkeys(("bare", "bare_orm", *floors, "applied", "duplicate", "async"), 0.0)
    for _ in range(rounds):
        fresh, queued = make_deliveries(per_round), make_deliveries(per_round)
        seconds["bare"] += run(client, "/bare/", fresh)
        seconds["bare_orm"] += run(client, "/bare-orm/", fresh)
        for name, url in floors.items():
            seconds[name] += run(client, url, make_deliveries(per_round))
        seconds["applied"] += run(client, webhook, fresh)
        seconds["duplicate"] += run(client, webhook, fresh)
        with override_settings(FLINKS_SESSIONS=async_settings):
            seconds["async"] += run(client, webhook, queued, expect=202)
    measured = per_round * rounds

    counted, queued = make_deliveries(sample), make_deliveries(sample)
    queries = {
        "bare": count_queries(client, "/bare/", counted),
        "bare_orm": count_queries(client, "/bare-orm/", counted),
        "applied": count_queries(client, webhook, counted),
        "duplicate": count_queries(client, webhook, counted),
        **{name: count_queries(client, url, make_deliveries(sample)) for name, url in floors.items()},
    }
    with override_settings(FLINKS_SESSIONS=async_settings):
        queries["async"] = count_queries(client, webhook, queued, expect=202)
    profiled = make_deliveries(sample)
    time_goes = where_the_time_goes(client, webhook, profiled)
    expected_applied = measured + 3 * sample  # warm-up, measured, counted, profiled
    if (
        WebhookDelivery.objects.filter(outcome="applied").exclude(error="bench floor").count()
        != expected_applied
    ):
        raise SystemExit("not every delivery was applied")
    return {
        "backend": f"{connection.vendor} ({connection.settings_dict['NAME']})",
        "deliveries": measured,
        "rounds": rounds,
        "rates": {name: measured / spent for name, spent in seconds.items()},
        "queries": queries,
        "where": time_goes,
    }


def where_the_time_goes(client: Any, url: str, deliveries: list[tuple[bytes, dict[str, str]]]) -> list[str]:
    """An applied delivery's SQL statements in order, and the package's functions that take the most time."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    first, *rest = deliveries
    with CaptureQueriesContext(connection) as captured:
        run(client, url, [first])
    kinds = [
        " ".join([query["sql"].split()[0], *re.findall(r"flinks_sessions_(\w+)", query["sql"])[:1]])
        for query in captured.captured_queries
    ]
    ours = package_profile(lambda: run(client, url, rest))
    lines = [
        f"  where an applied delivery's time goes ({len(rest)} deliveries under cProfile, which slows them):",
        f"    SQL statements, in order: {' | '.join(kinds)}",
    ]
    lines += [
        f"    {name:46} {seconds / len(rest) * 1000:7.2f} ms per delivery" for seconds, name in ours[:12]
    ]
    return lines


# --- the parent: one child per backend, one report ---------------------------------------------------------------


def report(result: dict[str, Any]) -> bool:
    rates, queries = result["rates"], result["queries"]
    ratio = rates["applied"] / rates["bare"]
    applied_data = queries["applied"][1]
    print(
        f"\n{result['backend']}: {result['deliveries']} deliveries per variant, {result['rounds']} interleaved rounds"
    )
    rows = [
        ("bare view, 1 raw INSERT", "bare"),
        ("bare view, Model.objects.create", "bare_orm"),
        ("webhook, applied", "applied"),
        ("webhook, duplicate", "duplicate"),
        ("webhook, WEBHOOK_ASYNC (202)", "async"),
        ("floor: raw SQL, one transaction", "floor"),
        ("floor: raw SQL, one statement", "floor_one"),
        ("floor: raw SQL, log row first", "floor_logged"),
    ]
    print(
        f"  {'variant':34} {'deliveries/s':>12} {'vs raw':>7} {'vs ORM':>7} {'SQL/delivery':>13} {'data SQL':>9}"
    )
    for label, key in rows:
        if key not in rates:
            continue
        total, data = queries[key]
        print(
            f"  {label:34} {rates[key]:12.0f} {rates[key] / rates['bare']:7.2f} {rates[key] / rates['bare_orm']:7.2f}"
            f" {total:13.1f} {data:9.1f}"
        )
    print(
        f"  target ratio applied / bare (raw) >= {TARGET_RATIO}: {ratio:.2f} "
        f"{'met' if ratio >= TARGET_RATIO else 'MISSED'}; "
        f"target data queries <= {TARGET_QUERIES}: {applied_data:.1f} "
        f"{'met' if applied_data <= TARGET_QUERIES else 'MISSED'} "
        "(BEGIN/COMMIT are listed in SQL/delivery, not in data SQL)"
    )
    best = best_floor(rates)
    print(
        "  floors (the receiver's verification and parsing, then only the writes an applied delivery needs, as raw"
        f" SQL): {best / rates['bare']:.2f} of the raw bare view, {best / rates['bare_orm']:.2f} of the ORM one;"
        f" with the log row committed first, as the receiver does: {rates['floor_logged'] / rates['bare']:.2f} and"
        f" {rates['floor_logged'] / rates['bare_orm']:.2f}. No implementation of the same work can do better."
    )
    to_floor = rates["applied"] / rates["floor_logged"]
    print(
        f"  receiver / its floor (the log row committed first, as the receiver does): {to_floor:.2f} (target >= "
        f"{TARGET_FLOOR}: {'met' if to_floor >= TARGET_FLOOR else 'MISSED'})"
    )
    print("\n".join(result["where"]))
    return ratio >= TARGET_RATIO and applied_data <= TARGET_QUERIES and to_floor >= TARGET_FLOOR


def main_for(
    script: str,
    *,
    description: str,
    title: str,
    child: Callable[[str, int, int, int], dict[str, Any]],
    report: Callable[[dict[str, Any]], bool],
    rounds_help: str,
) -> int:
    """The command line both webhook benches share: each backend measured by ``child`` in its own process (a
    fresh Django per backend), its figures printed by ``report``; exits 1 when a target is missed (not with
    ``--smoke``, which only fails when a child crashes)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=10, help=rounds_help)
    parser.add_argument("--only", choices=("sqlite", "postgres"))
    parser.add_argument("--smoke", action="store_true", help=SMOKE_HELP)
    parser.add_argument("--child", choices=("sqlite", "postgres"), help=argparse.SUPPRESS)
    parser.add_argument("--sample", type=int, default=100, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.smoke:
        args.deliveries, args.rounds, args.sample = 20, 2, 5
    if args.child:
        print(json.dumps(child(args.child, args.deliveries, args.rounds, args.sample)))
        return 0
    backends = [args.only] if args.only else ["sqlite", "postgres"]
    print(f"{title}, Django test client, full middleware, Python {sys.version.split()[0]}")
    all_ok, crashed = True, False
    for backend in backends:
        output = subprocess.run(
            [
                sys.executable,
                script,
                "--child",
                backend,
                "--deliveries",
                str(args.deliveries),
                "--rounds",
                str(args.rounds),
                "--sample",
                str(args.sample),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        if output.returncode != 0:
            print(f"\n{backend}: failed\n{output.stderr[-2000:]}")
            all_ok, crashed = False, True
            continue
        all_ok &= report(json.loads(output.stdout.strip().splitlines()[-1]))
    if args.smoke:
        print(SMOKE_NOTE)
        return 1 if crashed else 0
    return 0 if all_ok else 1


def main() -> int:
    return main_for(
        __file__,
        description=__doc__.split("\n", 1)[0],
        title="webhook receiver vs bare insert view",
        child=child,
        report=report,
        rounds_help="interleaved batches per variant",
    )


if __name__ == "__main__":
    raise SystemExit(main())
