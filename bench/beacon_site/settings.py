"""The example project's settings with the bench URLconf and quiet logs (``bench/beacon.py`` sets the rest)."""

from __future__ import annotations

from example_project.settings import *  # noqa: F403
from example_project.settings import ALLOWED_HOSTS, LOGGING

ROOT_URLCONF = "bench.beacon_site.urls"
DEBUG = False
ALLOWED_HOSTS = [*ALLOWED_HOSTS, "testserver"]
LOGGING = {**LOGGING, "loggers": {"flinks_sessions": {"handlers": ["console"], "level": "WARNING"}}}
