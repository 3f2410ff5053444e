"""The parts of a test machine the package does not need, and the switch that makes a missing one a failure.

A test that needs PostgreSQL, Chromium, Redis, RabbitMQ, GNU gettext, the docs/ tree, a non-loopback address
or the test extra's packages skips on a machine without it, so that ``make test`` runs anywhere. CI has every
one of them: ``FLINKS_REQUIRE`` (names from :data:`EXTRAS`, comma-separated; .ci/run lists them all) turns
each such skip into a failure, so a part that went missing cannot quietly turn a guarantee's tests into skips.

Every skip in tests/ goes through :func:`missing` (:func:`require` and :func:`import_or_missing` call it).
The four services are markers, checked by tests/conftest.py's ``pytest_runtest_setup`` before any fixture of
the test is set up (a module-scoped fixture would otherwise skip first); tests/test_safety_net.py runs a small
pytest session with each of them absent and requires it to fail.
"""

from __future__ import annotations

import importlib
import os
import shutil
import socket
from collections.abc import Callable
from types import ModuleType
from typing import NoReturn
from urllib.parse import urlsplit

import pytest

RABBITMQ_URL = os.environ.get("FLINKS_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")

EXTRAS = {
    "postgres": "PostgreSQL at DATABASE_URL (marker `postgres`)",
    "browser": "Debian's chromium on PATH (marker `browser`)",
    "redis": "Redis at FLINKS_TEST_REDIS_URL and django-tasks-rq (marker `redis`)",
    "rabbitmq": "RabbitMQ at FLINKS_TEST_RABBITMQ_URL, by default 127.0.0.1:5672 (marker `rabbitmq`)",
    "gettext": "GNU gettext's msgfmt and xgettext",
    "docs": "the docs/ tree (a clone has it; an sdist does not)",
    "lan": "a non-loopback IPv4 address on this machine",
    "packages": "the optional packages of the `test` extra (pip install -e '.[test]')",
}


def required() -> frozenset[str]:
    """The names in ``FLINKS_REQUIRE``; an unknown one is a usage error (a typo must not switch a check off)."""
    names = frozenset(
        name.strip() for name in os.environ.get("FLINKS_REQUIRE", "").split(",") if name.strip()
    )
    unknown = sorted(names - EXTRAS.keys())
    if unknown:
        raise pytest.UsageError(f"FLINKS_REQUIRE names unknown parts {unknown}; known: {', '.join(EXTRAS)}")
    return names


def missing(extra: str, why: str) -> NoReturn:
    """Skip (the whole module when called at import), or fail when ``FLINKS_REQUIRE`` names ``extra``."""
    if extra not in EXTRAS:
        raise ValueError(f"{extra!r} is not one of {', '.join(EXTRAS)}")
    names = required()
    if extra in names:
        pytest.fail(f"{why} (FLINKS_REQUIRE={','.join(sorted(names))} makes this a failure)")
    pytest.skip(why, allow_module_level=True)


def import_or_missing(module: str, why: str, extra: str = "packages") -> ModuleType:
    """``pytest.importorskip`` under ``FLINKS_REQUIRE``."""
    try:
        return importlib.import_module(module)
    except ImportError:
        missing(extra, why)


def postgres_problem() -> str | None:
    from django.db import connection

    return None if connection.vendor == "postgresql" else "needs PostgreSQL: set DATABASE_URL"


def browser_problem() -> str | None:
    return None if shutil.which("chromium") else "needs Debian's chromium: apt-get install chromium"


def redis_problem() -> str | None:
    from tests.distributed.rq_support import redis_problem

    return redis_problem()


def rabbitmq_problem() -> str | None:
    """``None`` when an AMQP 0-9-1 server answers the protocol header at :data:`RABBITMQ_URL`."""
    url = urlsplit(RABBITMQ_URL)
    address = (url.hostname or "127.0.0.1", url.port or 5672)
    try:
        with socket.create_connection(address, timeout=2) as conversation:
            conversation.settimeout(2)
            conversation.sendall(b"AMQP\x00\x00\x09\x01")
            answer = conversation.recv(1)  # a method frame (type 1): Connection.Start
    except OSError as error:
        return f"needs RabbitMQ at {address[0]}:{address[1]} ({error}); .ci/run starts one"
    if answer != b"\x01":
        return f"needs RabbitMQ at {address[0]}:{address[1]}: what answers there does not speak AMQP 0-9-1"
    return None


# The markers whose extra is checked before each marked test (tests/conftest.py).
MARKERS: dict[str, Callable[[], str | None]] = {
    "postgres": postgres_problem,
    "browser": browser_problem,
    "redis": redis_problem,
    "rabbitmq": rabbitmq_problem,
}


def require(extra: str) -> None:
    """Skip or fail (see :func:`missing`) unless the service behind a marker is there."""
    problem = MARKERS[extra]()
    if problem:
        missing(extra, problem)
