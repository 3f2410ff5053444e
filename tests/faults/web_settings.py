"""Settings for the gunicorn and db_worker processes of the kill tests: the test settings, webhooks sync or async.

``FLINKS_TEST_WEBHOOK_ASYNC=1`` turns ``WEBHOOK_ASYNC`` on, so the web process only stores and enqueues and a
``db_worker`` processes; the database is the test run's (``FLINKS_TEST_DB_NAME``, see ``tests.support``).
"""

from __future__ import annotations

import os

from tests.settings import *  # noqa: F403 - these are the test settings, plus one key
from tests.settings import FLINKS_SESSIONS as _BASE

FLINKS_SESSIONS = {**_BASE, "WEBHOOK_ASYNC": os.environ.get("FLINKS_TEST_WEBHOOK_ASYNC") == "1"}
# Production keeps connections; the kill tests want what a real deployment does.
DATABASES = {"default": {**DATABASES["default"], "CONN_MAX_AGE": 60}}  # noqa: F405
