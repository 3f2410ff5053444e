"""How long does the abandonment page's report take over a million sessions?

Run: ``.venv/bin/python bench/abandonment.py`` (PostgreSQL from ``DATABASE_URL``, default
postgres://postgres@127.0.0.1:5432/test; the run uses its own database ``flinks_bench_abandonment``).
``--sessions N`` (default 1,000,000), ``--repeat N`` (best of N, default 5), ``--keep`` reuses the database and
rows of a previous run with the same count (otherwise the database is created afresh, so its schema is the
current one), ``--smoke`` runs 2,000 sessions once and checks no target.

The rows are written by one ``INSERT ... SELECT generate_series`` (a year of sessions over three accounts, every
outcome, a cancel intent on the abandoned ones), then ``ANALYZE``. Measured: the report as the page builds it
(:func:`flinks_sessions.admin.abandonment_report.build`) for the last 30 days and the last 365 days, over every
account and over one, with the SQL statements it sent. Target: 4 statements, and the 30-day report under 1 s.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.benchdb import DEFAULT_URL, SMOKE_HELP, SMOKE_NOTE, fresh_database  # noqa: E402 - after the path

BENCH_DB = "flinks_bench_abandonment"
TARGET_SECONDS = 1.0
TARGET_QUERIES = 4

SEED = """
INSERT INTO flinks_sessions_paymentsession (
    session_id, reference_id, status, remote_status, status_details, amount, currency, product, account,
    metadata, start_params, guarantee_offer, guarantee_decision, cancel_requested_at, cancel_source, cancel_reason,
    cancelled_at, attempt_count, last_error, created_at, updated_at
)
SELECT
    gen_random_uuid(), 'order-' || n,
    (ARRAY['completed','completed','completed','cancelled','cancelled','expired','failed','initiated'])[1 + n %% 8],
    '', '', 39.99, 'CAD', 'eft', (ARRAY['default','geft','etransfer'])[1 + n %% 3],
    '{}', '{}', '{}', '',
    CASE WHEN n %% 8 IN (3, 4, 7) THEN started + interval '2 minutes' END,
    CASE WHEN n %% 8 = 3 THEN 'beacon' WHEN n %% 8 = 4 THEN 'admin' WHEN n %% 8 = 7 THEN 'beacon' ELSE '' END,
    CASE WHEN n %% 8 = 3 THEN 'pagehide' WHEN n %% 8 = 4 THEN 'duplicate' ELSE '' END,
    CASE WHEN n %% 8 IN (3, 4) THEN started + (n %% 120) * interval '1 minute' END,
    0, CASE WHEN n %% 80 = 7 THEN 'Flinks answered 503' ELSE '' END,
    started, started + (n %% 300) * interval '1 minute'
FROM (
    SELECT n, now() - (n %% 365) * interval '1 day' - (n %% 86400) * interval '1 second' AS started
    FROM generate_series(1, %s) AS n
) AS rows
"""


def ensure_database(url: str) -> None:
    """The one kept by ``--keep``, or created if there is none."""
    import psycopg

    admin_url = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (BENCH_DB,)).fetchone():
            conn.execute(f'CREATE DATABASE "{BENCH_DB}"')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--smoke", action="store_true", help=SMOKE_HELP)
    args = parser.parse_args()
    if args.smoke:
        args.sessions, args.repeat, args.keep = 2000, 1, False
    url = os.environ.get("DATABASE_URL", DEFAULT_URL)
    if args.keep:
        ensure_database(url)
    else:
        fresh_database(url, BENCH_DB)
    os.environ["DATABASE_URL"] = url
    os.environ["FLINKS_TEST_DB_NAME"] = BENCH_DB
    os.environ.setdefault("FLINKS_TEST_SANDBOX_URL", "http://127.0.0.1:9")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from flinks_sessions.admin.abandonment_report import Period, build
    from flinks_sessions.models import PaymentSession

    call_command("migrate", verbosity=0)
    if not (args.keep and PaymentSession.objects.count() == args.sessions):
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE flinks_sessions_paymentsession CASCADE")
            cursor.execute(SEED, [args.sessions])
            cursor.execute("ANALYZE flinks_sessions_paymentsession")
        print(f"seeded {args.sessions:,} sessions in {time.perf_counter() - started:.1f} s")
    today = timezone.localdate()
    misses = []
    for days in (30, 365):
        for account in ("", "geft"):
            period = Period(first=today - timedelta(days=days - 1), last=today, account=account)
            best = float("inf")
            for _round in range(args.repeat):
                with CaptureQueriesContext(connection) as queries:
                    began = time.perf_counter()
                    report = build(period)
                    best = min(best, time.perf_counter() - began)
            label = f"{days:>3} days, {account or 'all accounts':<12}"
            print(
                f"{label} {best * 1000:8.1f} ms  {len(queries)} queries  "
                f"{report.sessions:>9,} sessions, {report.abandoned:,} abandoned"
            )
            if len(queries) != TARGET_QUERIES:
                misses.append(f"{label}: {len(queries)} queries")
            if days == 30 and best > TARGET_SECONDS:
                misses.append(f"{label}: {best:.2f} s")
    if args.smoke:
        print(SMOKE_NOTE)
    else:
        print("targets met" if not misses else "MISSED: " + "; ".join(misses))


if __name__ == "__main__":
    main()
