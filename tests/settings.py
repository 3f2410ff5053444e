"""Settings for the test suite: SQLite by default, PostgreSQL when DATABASE_URL is set."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import django

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = "tests-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
if django.VERSION >= (6, 1):  # the app's recovery email; EMAIL_BACKEND is deprecated from Django 6.1
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
TIME_ZONE = "UTC"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "flinks_sessions",
    "flinks_sessions.sandbox",  # development only: the flinks_sandbox command
]
try:
    import django.tasks

    TASKS_MODULE = "django.tasks"
except ImportError:  # Django 5.2: the backport is an app
    INSTALLED_APPS.append("django_tasks")
    TASKS_MODULE = "django_tasks"
INSTALLED_APPS.append("django_tasks_db")

# flinks_sessions.contrib.payments, when django-payments is installed (the test extra): a concrete Payment model
# of a test app, and two variants served by the provider (tests/contrib_payments).
HAS_PAYMENTS = importlib.util.find_spec("payments") is not None
if HAS_PAYMENTS:
    # The example shop's django-payments checkout is tested too (tests/example): its model needs its table.
    INSTALLED_APPS += [
        "payments",
        "flinks_sessions.contrib.payments",
        "tests.payments_app",
        "example_project.shop_payments",
    ]
    PAYMENT_HOST = "testserver"
    PAYMENT_USES_SSL = False
    PAYMENT_MODEL = "payments_app.Payment"
    PAYMENT_VARIANTS = {
        "flinks": ("flinks_sessions.contrib.payments.provider.FlinksProvider", {}),
        "flinks-geft": (
            "flinks_sessions.contrib.payments.provider.FlinksProvider",
            {"product": "geft", "capture": False},
        ),
    }

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "tests.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "tests" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
STATIC_URL = "/static/"

# A test run gets its own database (the pid keeps parallel runs apart). Subprocesses started by the tests
# (db_worker, gunicorn) are told the test database's name through FLINKS_TEST_DB_NAME.
_TEST_DB_NAME = os.environ.get("FLINKS_TEST_DB_NAME")
if os.environ.get("DATABASE_URL"):
    from urllib.parse import urlsplit

    _url = urlsplit(os.environ["DATABASE_URL"])
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": _TEST_DB_NAME or _url.path.lstrip("/") or "test",
            "USER": _url.username or "postgres",
            "PASSWORD": _url.password or "",
            "HOST": _url.hostname or "127.0.0.1",
            "PORT": str(_url.port or 5432),
            "TEST": {"NAME": f"test_flinks_sessions_{os.getpid()}"},
        }
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": _TEST_DB_NAME or str(BASE_DIR / "var" / "tests.sqlite3"),
            "TEST": {"NAME": str(BASE_DIR / "var" / f"test-{os.getpid()}.sqlite3")},
            "OPTIONS": {"timeout": 30, "transaction_mode": "IMMEDIATE"},
        }
    }

# Immediate by default so a unit test sees the whole effect; worker tests switch to the database backend.
TASKS = {"default": {"BACKEND": f"{TASKS_MODULE}.backends.immediate.ImmediateBackend"}}
if os.environ.get("FLINKS_TEST_TASKS") == "database":
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    # A db_worker otherwise opens a new connection for every task it runs.
    DATABASES["default"]["CONN_MAX_AGE"] = 60

FLINKS_SESSIONS = {
    "ACCOUNTS": {
        "default": {
            "BASE_URL": os.environ.get(
                "FLINKS_TEST_SANDBOX_URL", "http://127.0.0.1:9"
            ),  # the sandbox fixture sets it
            "CLIENT_ID": "sandbox-client",
            "CLIENT_SECRET": "sandbox-secret",
        }
    },
    "WEBHOOK_SECRETS": ["sandbox-webhook-secret"],
    "RETRY": {"ATTEMPTS": 4, "BACKOFF": 0.01, "BACKOFF_MAX": 0.05},
    "CONNECT_TIMEOUT": 2,
    "READ_TIMEOUT": 5,
}

# The sandbox's own credentials (manage.py flinks_sandbox); the account above uses the same ones on purpose.
FLINKS_SANDBOX = {
    "CLIENT_ID": "sandbox-client",
    "CLIENT_SECRET": "sandbox-secret",
    "WEBHOOK_SECRET": "sandbox-webhook-secret",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"null": {"class": "logging.NullHandler"}},
    "loggers": {"flinks_sessions": {"handlers": ["null"], "level": "DEBUG", "propagate": True}},
}

# The suite runs tasks inline on purpose (a unit test sees the whole effect); in production that is W010.
SILENCED_SYSTEM_CHECKS = ["flinks_sessions.W010"]
