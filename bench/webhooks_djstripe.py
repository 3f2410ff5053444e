"""How fast is the webhook receiver next to dj-stripe's, a widely used Django webhook receiver?

Run: ``.venv/bin/python bench/webhooks_djstripe.py`` (SQLite, then PostgreSQL from ``DATABASE_URL``, default
postgres://postgres@127.0.0.1:5432/test; PostgreSQL runs use their own database ``flinks_bench_webhooks_djstripe``).
``--deliveries N`` (default 2000), ``--only sqlite|postgres``, ``--smoke`` (a few deliveries, no target checked).
Needs dj-stripe 2.11 (the ``dev`` extra installs it).

Each backend runs in its own process, in bench/webhooks.py's site (full middleware, Django's test client) with
dj-stripe installed beside the package (``bench/djstripe_site``; dj-stripe's tables are created from its models,
not its slow migrations, as its settings explain), and measures in the same run:

- the receiver: signed ``SessionSetupStatusChanged`` deliveries, one per stored session, as bench/webhooks.py
  sends them (store, verify, lock, transition, audit, outcome);
- dj-stripe's ``ProcessWebhookView`` (``stripe/webhook/<uuid>/``, one seeded ``WebhookEndpoint``): signed Stripe
  events (``Stripe-Signature: t=...,v1=HMAC-SHA256(secret, "t.body")``), each a new ``balance.available`` event,
  a type dj-stripe stores (``WebhookEventTrigger`` and ``Event``) but has no handler for, so processing one
  never calls Stripe's API. The ``Account`` and ``APIKey`` it looks the owner account up with are seeded too;
  the ``stripe`` library's HTTP client is replaced by one that records the call and raises, and the bench fails
  if any call was attempted;
- bench/webhooks.py's floors: the receiver's verification and parsing, then only the writes an applied delivery
  needs, as raw SQL. No implementation of the receiver's work gets past the best of them, so the best floor over
  dj-stripe's rate is the most the receiver can reach against dj-stripe on the machine running the bench;
- SQL statements per delivery for each (``CaptureQueriesContext``), transaction control (BEGIN/COMMIT, which
  Django 6 logs) counted apart from the data queries, and each one's statements in order.

The receiver does more per delivery than dj-stripe does here (a session's transition and its audit row, besides
storing the delivery); dj-stripe's event is its cheapest kind. The two are interleaved in ``--rounds`` batches,
the first of them alternating, so a busy machine slows both alike.

Target: the receiver ≥ 3 times dj-stripe's deliveries/s, on SQLite and on PostgreSQL. The report also says
whether the floors reach that ratio: the best one (could any receiver doing this work meet it here?) and the one
in the receiver's own order, its log row committed first (could this receiver's design?).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import sys
import time
import uuid
from contextlib import suppress
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.webhooks import (  # noqa: E402 - after the path is set
    best_floor,
    count_queries,
    database_settings,
    floor_urls,
    main_for,
    make_deliveries,
    run,
)

BENCH_DB = "flinks_bench_webhooks_djstripe"
SQLITE_PATH = ROOT / "var" / "bench-webhooks-djstripe.sqlite3"
SETTINGS = "bench.djstripe_site.settings"
STRIPE_SECRET = "whsec_bench_only"  # noqa: S105 - the seeded endpoint's signing secret
STRIPE_EVENT_TYPE = "balance.available"
TARGET_RATIO = 3.0
OURS = "/flinks/webhooks/"

Deliveries = list[tuple[bytes, dict[str, str]]]


# --- the child: one backend -------------------------------------------------------------------------------------


STRIPE_CALLS: list[str] = []


def keep_stripe_offline() -> None:
    """Every request the ``stripe`` library would send is recorded and raises instead of reaching the network."""
    from stripe._http_client import HTTPClient

    def refuse(name: str) -> Any:
        def refused(self: Any, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            STRIPE_CALLS.append(f"{method.upper()} {url}")
            raise RuntimeError(f"the bench keeps Stripe offline: {name}({method} {url})")

        async def refused_async(self: Any, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            return refused(self, method, url)

        return refused_async if name.endswith("_async") else refused

    for name in (
        "request_with_retries",
        "request_stream_with_retries",
        "request_with_retries_async",
        "request_stream_with_retries_async",
    ):
        setattr(HTTPClient, name, refuse(name))
    import stripe

    with suppress(RuntimeError):  # the guard itself: a request made as dj-stripe makes them must stop here
        stripe.Balance.retrieve(api_key="sk_test_" + "0" * 24)
    if STRIPE_CALLS != ["GET https://api.stripe.com/v1/balance"]:
        raise SystemExit(
            f"the stripe library's requests no longer pass where the bench stops them: {STRIPE_CALLS}"
        )
    STRIPE_CALLS.clear()


def create_djstripe_tables() -> None:
    """dj-stripe's tables, from its models (what its migrations end with, without their minutes of table rebuilds)."""
    from django.apps import apps
    from django.db import connection

    with connection.schema_editor() as editor:
        for model in apps.get_app_config("djstripe").get_models():
            editor.create_model(model)


def seed_djstripe() -> str:
    """The rows dj-stripe's view reads: the owner account, its test key, and the endpoint; returns its URL."""
    from django.conf import settings
    from djstripe.models import Account, APIKey, WebhookEndpoint

    account = Account.objects.create(id="acct_bench", livemode=False, stripe_data={"object": "account"})
    APIKey.objects.create(
        secret=settings.STRIPE_TEST_SECRET_KEY, type="secret", livemode=False, djstripe_owner_account=account
    )
    endpoint_uuid = uuid.uuid4()
    WebhookEndpoint.objects.create(
        id="we_bench",
        livemode=False,
        djstripe_owner_account=account,
        djstripe_uuid=endpoint_uuid,
        url=f"http://testserver/stripe/webhook/{endpoint_uuid}/",
        enabled_events=["*"],
        status="enabled",
        secret=STRIPE_SECRET,
        djstripe_validation_method="verify_signature",
    )
    return f"/stripe/webhook/{endpoint_uuid}/"


def stripe_events(count: int) -> Deliveries:
    """``count`` new ``balance.available`` events, each signed as Stripe signs a delivery (now, so in tolerance)."""
    deliveries = []
    for _ in range(count):
        body = json.dumps(
            {
                "id": f"evt_{uuid.uuid4().hex}",
                "object": "event",
                "api_version": "2026-05-27.dahlia",
                "created": int(time.time()),
                "data": {
                    "object": {
                        "object": "balance",
                        "available": [{"amount": 6500, "currency": "cad", "source_types": {"card": 6500}}],
                        "livemode": False,
                        "pending": [{"amount": 0, "currency": "cad", "source_types": {"card": 0}}],
                    }
                },
                "livemode": False,
                "pending_webhooks": 1,
                "request": {"id": None, "idempotency_key": None},
                "type": STRIPE_EVENT_TYPE,
            }
        ).encode()
        stamp = str(int(time.time()))
        signature = hmac.new(STRIPE_SECRET.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
        deliveries.append((body, {"Stripe-Signature": f"t={stamp},v1={signature}"}))
    return deliveries


def statements_in_order(client: Any, url: str, delivery: tuple[bytes, dict[str, str]]) -> str:
    """One delivery's SQL statements, each as its verb and the first table it names."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        run(client, url, [delivery])
    kinds = []
    for query in captured.captured_queries:
        table = re.search(r'\b(?:FROM|INTO|UPDATE)\s+"?(\w+)"?', query["sql"], re.IGNORECASE)
        kinds.append(" ".join([query["sql"].split()[0], *([table.group(1)] if table else [])]))
    return " | ".join(kinds)


def child(backend: str, count: int, rounds: int, sample: int) -> dict[str, Any]:
    """Both receivers in ``rounds`` interleaved batches; ``sample`` deliveries warm each up and are counted."""
    keep_stripe_offline()
    os.environ["BENCH_DJSTRIPE_DATABASE"] = json.dumps(database_settings(backend, BENCH_DB, SQLITE_PATH))
    os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from djstripe.models import Event, WebhookEventTrigger

    from flinks_sessions.models import WebhookDelivery

    call_command("migrate", verbosity=0)
    create_djstripe_tables()
    theirs = seed_djstripe()
    client = Client()
    floors = floor_urls(connection.vendor)
    run(client, OURS, make_deliveries(sample))
    run(client, theirs, stripe_events(sample))
    for url in floors.values():
        run(client, url, make_deliveries(sample))
    per_round = max(1, count // rounds)
    seconds = dict.fromkeys(("ours", "djstripe", *floors), 0.0)
    for index in range(rounds):
        batches = [
            ("ours", OURS, make_deliveries(per_round)),
            ("djstripe", theirs, stripe_events(per_round)),
            *((name, url, make_deliveries(per_round)) for name, url in floors.items()),
        ]
        for name, url, deliveries in batches if index % 2 == 0 else reversed(batches):
            seconds[name] += run(client, url, deliveries)
    measured = per_round * rounds
    queries = {
        "ours": count_queries(client, OURS, make_deliveries(sample)),
        "djstripe": count_queries(client, theirs, stripe_events(sample)),
    }
    order = {
        "ours": statements_in_order(client, OURS, make_deliveries(1)[0]),
        "djstripe": statements_in_order(client, theirs, stripe_events(1)[0]),
    }

    expected = measured + 2 * sample + 1  # warm-up, measured, counted, listed
    if WebhookDelivery.objects.filter(outcome="applied").exclude(error="bench floor").count() != expected:
        raise SystemExit("not every delivery to the receiver was applied")
    triggers = WebhookEventTrigger.objects.filter(valid=True, processed=True, exception="")
    if triggers.count() != expected or Event.objects.filter(type=STRIPE_EVENT_TYPE).count() != expected:
        raise SystemExit("dj-stripe did not verify, store and process every event")
    if STRIPE_CALLS:
        raise SystemExit(f"dj-stripe tried to call Stripe: {STRIPE_CALLS[:3]}")
    return {
        "backend": f"{connection.vendor} ({connection.settings_dict['NAME']})",
        "deliveries": measured,
        "rounds": rounds,
        "rates": {name: measured / spent for name, spent in seconds.items()},
        "queries": queries,
        "order": order,
        "stripe_calls": len(STRIPE_CALLS),
    }


# --- the parent: one child per backend, one report ---------------------------------------------------------------


def report(result: dict[str, Any]) -> bool:
    rates, queries, order = result["rates"], result["queries"], result["order"]
    ratio = rates["ours"] / rates["djstripe"]
    print(
        f"\n{result['backend']}: {result['deliveries']} deliveries per receiver, {result['rounds']} interleaved rounds"
    )
    print(f"  {'receiver':46} {'deliveries/s':>12} {'SQL/delivery':>13} {'data SQL':>9}")
    for label, key in (
        ("flinks-sessions, SessionSetupStatusChanged", "ours"),
        (f"dj-stripe ProcessWebhookView, {STRIPE_EVENT_TYPE}", "djstripe"),
    ):
        total, data = queries[key]
        print(f"  {label:46} {rates[key]:12.0f} {total:13.1f} {data:9.1f}")
    for label, key in (
        ("floor: raw SQL, one transaction", "floor"),
        ("floor: raw SQL, one statement", "floor_one"),
        ("floor: raw SQL, log row first", "floor_logged"),
    ):
        if key in rates:
            print(f"  {label:46} {rates[key]:12.0f}")
    print(
        f"  ratio flinks-sessions / dj-stripe: {ratio:.2f} "
        f"(target >= {TARGET_RATIO:g}: {'met' if ratio >= TARGET_RATIO else 'MISSED'})"
    )
    for label, bound in (
        ("best floor", best_floor(rates) / rates["djstripe"]),
        ("floor in the receiver's order (log row first)", rates["floor_logged"] / rates["djstripe"]),
    ):
        print(
            f"  {label} / dj-stripe: {bound:.2f}, the most a receiver doing this work so reaches here "
            f"(the target is {'within' if bound >= TARGET_RATIO else 'beyond'} it)"
        )
    print(f"  flinks-sessions' statements, in order: {order['ours']}")
    print(f"  dj-stripe's statements, in order: {order['djstripe']}")
    print(f"  calls dj-stripe attempted to Stripe's API: {result['stripe_calls']}")
    return ratio >= TARGET_RATIO


def main() -> int:
    return main_for(
        __file__,
        description=__doc__.split("\n", 1)[0],
        title="webhook receiver vs dj-stripe's ProcessWebhookView",
        child=child,
        report=report,
        rounds_help="interleaved batches per receiver",
    )


if __name__ == "__main__":
    raise SystemExit(main())
