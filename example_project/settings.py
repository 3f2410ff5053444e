"""Settings for the example shop, read from the environment (and ``.env`` at the repository root).

Every variable is listed, with its default, in ``.env.example``. Out of the box: SQLite, the local Flinks
sandbox on port 8765, django-tasks-db with its ``db_worker``. ``DATABASE_URL`` switches to PostgreSQL.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import django
import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="example-shop-insecure-key-change-me-for-anything-real")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
USE_TZ = True
TIME_ZONE = "America/Toronto"
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("fr", "Français")]
USE_I18N = True

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "flinks_sessions",
    "example_project.shop",
]
try:
    import django.tasks
except ImportError:  # Django 5.2: the backport is an app
    INSTALLED_APPS.append("django_tasks")
INSTALLED_APPS.append("django_tasks_db")

# The local Flinks sandbox is a development tool: its app (which brings `manage.py flinks_sandbox`) is installed
# only with DEBUG on, and it has its own credentials, which the account below uses unless told otherwise.
FLINKS_SANDBOX = {
    "PORT": env.int("FLINKS_SANDBOX_PORT", default=8765),
    "CLIENT_ID": "sandbox-client",
    "CLIENT_SECRET": "sandbox-secret",
    "WEBHOOK_SECRET": "sandbox-webhook-secret",
}
if DEBUG:
    INSTALLED_APPS.append("flinks_sessions.sandbox")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ROOT_URLCONF = env.str("DJANGO_ROOT_URLCONF", default="example_project.urls")
WSGI_APPLICATION = "example_project.wsgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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
STATIC_ROOT = BASE_DIR / "var" / "static"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'var' / 'example.sqlite3'}")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DJANGO_CONN_MAX_AGE", default=0)
# With persistent connections, Django checks a reused one (one extra round trip on each request's first query)
# so a restarted database costs no failed request. Off trades that for the round trip.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("DJANGO_CONN_HEALTH_CHECKS", default=True)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The dev server and the worker write to one file: wait for the lock instead of failing, take it at BEGIN
    # (a deferred transaction upgrading to a write fails at once instead of waiting), and use WAL so readers
    # never wait for a writer. The demo's worker (`manage.py demo_worker`) also outlives a longer lock.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": env.float("DJANGO_SQLITE_TIMEOUT", default=20),
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL;",
        }
    )

# The beacon throttle counts in this cache; use a shared one (Redis, Memcached) with several processes.
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

# Background work: django-tasks-db, drained by `python manage.py db_worker` (scripts/demo.sh starts one).
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": []}}

FLINKS_SESSIONS = {
    "ACCOUNTS": {
        "default": {
            # Out of the box: the local sandbox. Production sets all four (and DEBUG off).
            "BASE_URL": env.str("FLINKS_BASE_URL", default=f"http://127.0.0.1:{FLINKS_SANDBOX['PORT']}"),
            "HOSTED_URL": env.str("FLINKS_HOSTED_URL", default=""),
            "CLIENT_ID": env.str("FLINKS_CLIENT_ID", default=FLINKS_SANDBOX["CLIENT_ID"]),
            "CLIENT_SECRET": env.str("FLINKS_CLIENT_SECRET", default=FLINKS_SANDBOX["CLIENT_SECRET"]),
            "API_KEY": env.str("FLINKS_API_KEY", default="") or None,
        }
    },
    "WEBHOOK_SECRETS": env.list("FLINKS_WEBHOOK_SECRETS", default=[FLINKS_SANDBOX["WEBHOOK_SECRET"]]),
    "EXIT_GRACE_PERIOD": env.float("FLINKS_EXIT_GRACE_PERIOD", default=10.0),
    "BEACON_THROTTLE_RATE": env.str("FLINKS_BEACON_THROTTLE_RATE", default="60/min") or None,
    "TASK_QUEUE": env.str("FLINKS_TASK_QUEUE", default="default"),
    "TRUST_X_FORWARDED_FOR": env.bool("FLINKS_TRUST_X_FORWARDED_FOR", default=False),
    # accept (as Flinks does without a guarantee webhook), reject, manual, or a dotted path to a callable.
    "GUARANTEE_DECISION": env.str("FLINKS_GUARANTEE_DECISION", default="accept"),
    # Win back abandoned checkouts: a payer who ticked the box at checkout gets one email RECOVERY_DELAY seconds
    # after leaving (flinks_recover_sessions sends it; `make demo` runs it every few seconds); its link's
    # Continue lands on the shop's page for the new session.
    "RECOVERY_DELAY": env.float("FLINKS_RECOVERY_DELAY", default=3600.0),
    "RECOVERY_EMAIL": env.bool("FLINKS_RECOVERY_EMAIL", default=True),
    "RECOVERY_CHECKOUT": "shop:recovered",
    "RECOVERY_SITE_URL": env.str("FLINKS_RECOVERY_SITE_URL", default="http://127.0.0.1:8000"),
}
# The demo prints emails (the recovery reminder) where its sweep runs, readably (shop/mail.py); a site sets its own.
_mail_backend = env.str("EMAIL_BACKEND", default="example_project.shop.mail.EmailBackend")
if django.VERSION >= (6, 1):  # MAILERS replaces EMAIL_BACKEND (deprecated from Django 6.1)
    MAILERS = {"default": {"BACKEND": _mail_backend}}
else:
    EMAIL_BACKEND = _mail_backend
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="shop@example.com")

# The shop itself.
SHOP_PRODUCT = env.str("SHOP_PRODUCT", default="eft")  # eft, geft or etransfer
# Offer the sandbox personas (Happy1, Unhappy1...) as the order reference; switch off against real Flinks.
SHOP_SANDBOX_SCENARIOS = env.bool("SHOP_SANDBOX_SCENARIOS", default=True)
# How the shop checks out: through the app's services ("sessions"), or as a django-payments shop does
# ("django-payments", the `payments` extra): a Payment on the flinks_sessions.contrib.payments provider, whose
# token is the order reference (so the sandbox personas above do not apply).
SHOP_CHECKOUT = env.str("SHOP_CHECKOUT", default="sessions")
if SHOP_CHECKOUT == "django-payments":
    INSTALLED_APPS += ["payments", "flinks_sessions.contrib.payments", "example_project.shop_payments"]
    PAYMENT_MODEL = "shop_payments.Payment"
    PAYMENT_HOST = env.str("PAYMENT_HOST", default="127.0.0.1:8000")
    PAYMENT_USES_SSL = env.bool("PAYMENT_USES_SSL", default=not DEBUG)
    PAYMENT_VARIANTS = {
        "flinks": ("flinks_sessions.contrib.payments.provider.FlinksProvider", {"product": SHOP_PRODUCT})
    }

# The OpenAPI schema of the app's endpoints at /api/schema/, when the `openapi` extra (drf-spectacular) is installed.
if importlib.util.find_spec("drf_spectacular") is not None:
    INSTALLED_APPS.append("drf_spectacular")
    REST_FRAMEWORK = {"DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema"}
    SPECTACULAR_SETTINGS = {
        "TITLE": "flinks-sessions (example shop)",
        "DESCRIPTION": "The browser endpoints (exit beacon, resume, status) and the Flinks webhook receiver.",
        "VERSION": "1",
        "SERVE_INCLUDE_SCHEMA": False,
        "POSTPROCESSING_HOOKS": [
            "drf_spectacular.hooks.postprocess_schema_enums",
            # The webhook receiver is a plain Django view: this hook documents it.
            "flinks_sessions.webhooks.schema.add_webhook_operation",
        ],
        "ENUM_NAME_OVERRIDES": {"FlinksSessionStatusEnum": "flinks_sessions.status.Status"},
    }

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "flinks_sessions": {"handlers": ["console"], "level": env.str("FLINKS_LOG_LEVEL", default="INFO")},
    },
}
