"""Settings as a shop deploys them behind an HTTPS proxy: ``check --deploy`` must have nothing to say.

Nothing here is relaxed for the test except the database (SQLite in the smoke directory). ``FLINKS_BASE_URL``
points the app at a local sandbox for the end-to-end step; without it the account has a production-style
HTTPS address.
"""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(os.environ.get("SMOKE_DIR", Path.cwd()))

SECRET_KEY = os.environ["SMOKE_SECRET_KEY"]  # a long random value made by the script, like a real deployment
DEBUG = False
ALLOWED_HOSTS = ["shop.example.com", "127.0.0.1", "localhost"]
CSRF_TRUSTED_ORIGINS = ["https://shop.example.com"]

# HTTPS everywhere, terminated by a proxy that sets X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = True
SECURE_HSTS_SECONDS = 365 * 24 * 3600
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SECURE = True
X_FRAME_OPTIONS = "DENY"  # the shop's pages frame Flinks' hosted page; nobody frames the shop

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
]
try:
    import django.tasks  # noqa: F401 - Django >= 6.0 has the Tasks framework built in
except ImportError:  # Django 5.2: the backport is an app
    INSTALLED_APPS.append("django_tasks")
INSTALLED_APPS.append("django_tasks_db")

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
ROOT_URLCONF = "smokesite.urls"
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
STATIC_ROOT = BASE_DIR / "static"

DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(BASE_DIR / "db.sqlite3")}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# A real task engine: the beacon's cancel runs in a db_worker, not in the shopper's request.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

FLINKS_SESSIONS = {
    "ACCOUNTS": {
        "default": {
            "BASE_URL": os.environ.get("FLINKS_BASE_URL", "https://api.flinks.example"),
            "CLIENT_ID": os.environ.get("FLINKS_CLIENT_ID", "sandbox-client"),
            "CLIENT_SECRET": os.environ.get("FLINKS_CLIENT_SECRET", "sandbox-secret"),
        }
    },
    "WEBHOOK_SECRETS": [os.environ.get("FLINKS_WEBHOOK_SECRET", "sandbox-webhook-secret")],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"flinks_sessions": {"handlers": ["console"], "level": "WARNING"}},
}
