"""Real WSGI servers for tests that depend on how the server frames a body: gunicorn, and a chunked POST.

gunicorn decodes ``Transfer-Encoding: chunked`` and marks ``wsgi.input`` as terminated; Django's development
server (``live_server``) hands over the raw socket and no length. Used by the webhook receiver's and the
browser endpoints' chunked tests alike.
"""

from __future__ import annotations

import http.client
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from tests.support import ROOT, subprocess_env, wait_for


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
    except OSError:
        return False
    return True


@contextmanager
def gunicorn_server() -> Iterator[int]:
    """The test settings served by a real gunicorn worker on a free loopback port (sharing the test database)."""
    port = _free_port()
    process = subprocess.Popen(  # noqa: S603 - our own interpreter
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1",
         "example_project.wsgi:application"],
        cwd=ROOT, env=subprocess_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for(lambda: _listening(port) or process.poll() is not None, timeout=30, message="gunicorn")
        assert process.poll() is None, "gunicorn did not start"
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def post_chunked(port: int, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    """POST ``body`` in 1,000-byte chunks with ``Transfer-Encoding: chunked`` and no ``Content-Length``."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    chunks = (body[start : start + 1000] for start in range(0, len(body), 1000))
    try:
        connection.request("POST", path, body=chunks, headers=headers, encode_chunked=True)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()
