"""bench/webhooks.py's site (apps, middleware, package settings) with dj-stripe installed and configured offline.

The database comes from ``BENCH_DJSTRIPE_DATABASE`` (a ``DATABASES["default"]`` entry as JSON), which the bench's
child process sets after creating a fresh database for its backend.

dj-stripe runs in test mode with a test secret key that only ever matches the ``APIKey`` row the bench seeds (with
its ``Account``), so looking up the owner account finds it in the database instead of asking Stripe; its webhook
endpoint verifies the Stripe-Signature header locally (``verify_signature``), never by retrieving the event.
"""

from __future__ import annotations

import json
import os

from bench import webhooks

DEBUG = False
SECRET_KEY = "bench-only"  # noqa: S105
ALLOWED_HOSTS = ["*"]
USE_TZ = True
INSTALLED_APPS = [*webhooks.INSTALLED_APPS, "djstripe"]
MIDDLEWARE = webhooks.MIDDLEWARE
FLINKS_SESSIONS = webhooks.FLINKS_SESSIONS
ROOT_URLCONF = "bench.djstripe_site.urls"
DATABASES = {"default": json.loads(os.environ.get("BENCH_DJSTRIPE_DATABASE", "{}"))}
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

STRIPE_LIVE_MODE = False
STRIPE_TEST_SECRET_KEY = "sk_test_" + "0" * 24 + "benchonly"  # dj-stripe's key format, valid nowhere
DJSTRIPE_FOREIGN_KEY_TO_FIELD = "id"
DJSTRIPE_WEBHOOK_VALIDATION = "verify_signature"
# Applying dj-stripe's migrations takes minutes on the 2-core development machine (3 to 4 on either backend): the
# bench creates its tables from its models instead, after the other apps' migrations (bench/webhooks_djstripe.py).
# Compared with a migrated database, the tables, columns, indexes and constraints are the same, except that on
# PostgreSQL three many-to-many tables for tax rates, which a webhook never touches, get integer ids, not bigint.
MIGRATION_MODULES = {"djstripe": None}
