"""gunicorn serving the test settings on the test database, in its own process group so a test can SIGKILL it."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path

from tests.support import Server
from tests.support import gunicorn as serve


def gunicorn(log: Path, *, workers: int = 2, threads: int = 4, **env: str) -> AbstractContextManager[Server]:
    """Serve ``tests.faults.wsgi`` (settings ``tests.faults.web_settings``) on a free loopback port."""
    options = [
        "--threads",
        str(threads),
        "--worker-class",
        "gthread",
        "--timeout",
        "60",
        "--graceful-timeout",
        "2",
    ]
    return serve(
        "tests.faults.wsgi:application",
        log,
        workers=workers,
        options=options,
        DJANGO_SETTINGS_MODULE="tests.faults.web_settings",
        **env,
    )
