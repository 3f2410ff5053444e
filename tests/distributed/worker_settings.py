"""Settings for the ``db_worker`` processes of the distributed tests: the test settings, and a short claim TTL.

Every process that cancels must agree on how long a claim protects a call in flight, as they would in
production; the test process sets the same ``CLAIM_TTL`` through pytest-django's ``settings`` fixture.
"""

from __future__ import annotations

from tests.settings import *  # noqa: F403 - these are the test settings, plus one key
from tests.settings import FLINKS_SESSIONS as _BASE

# Seconds. Above the worst cancel call of these tests (20 ms of sandbox latency, a 1.5 s stall), far below the
# 60 s floor of the computed TTL, so a claim left by a killed worker can be taken over within the test.
CLAIM_TTL = 3

FLINKS_SESSIONS = {**_BASE, "CLAIM_TTL": CLAIM_TTL}

# A worker keeps its database connection between tasks, as a production deployment sets CONN_MAX_AGE; with
# Django's default of 0, db_worker reconnects after every task, which would dominate these tests' run time.
DATABASES = {"default": {**DATABASES["default"], "CONN_MAX_AGE": 60}}  # noqa: F405
