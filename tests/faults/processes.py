"""gunicorn serving the test settings on the test database, in its own process group so a test can SIGKILL it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from tests.support import ROOT, gunicorn_url, subprocess_env


class Gunicorn:
    """A running gunicorn: its URL, and ``kill()`` to SIGKILL the master and every worker at once."""

    def __init__(self, process: subprocess.Popen[bytes], url: str) -> None:
        self.process = process
        self.url = url

    def kill(self) -> None:
        """``kill -9`` of the whole server, as the OOM killer or a host failure would do it."""
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


@contextmanager
def gunicorn(log: Path, *, workers: int = 2, threads: int = 4, **env: str) -> Iterator[Gunicorn]:
    """Serve ``tests.faults.wsgi`` (settings ``tests.faults.web_settings``) on a free loopback port."""
    child_env = subprocess_env(DJANGO_SETTINGS_MODULE="tests.faults.web_settings", **env)
    gunicorn_bin = str(Path(sys.executable).parent / "gunicorn")
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 - the virtualenv's gunicorn on our own WSGI module
            [
                gunicorn_bin, "tests.faults.wsgi:application", "--bind", "127.0.0.1:0",
                "--workers", str(workers), "--threads", str(threads), "--worker-class", "gthread",
                "--timeout", "60", "--graceful-timeout", "2",
            ],
            cwd=ROOT, env=child_env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    server: Gunicorn | None = None
    try:
        url = gunicorn_url(log, process, workers=workers)
        server = Gunicorn(process, url)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                Gunicorn(process, "").kill()
