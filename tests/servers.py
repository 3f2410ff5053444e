"""A chunked POST, for tests that depend on how the server frames a body.

gunicorn (``tests.support.gunicorn``) decodes ``Transfer-Encoding: chunked`` and marks ``wsgi.input`` as
terminated; Django's development server (``live_server``) hands over the raw socket and no length. Used by the
webhook receiver's and the browser endpoints' chunked tests alike.
"""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import gunicorn


@pytest.fixture
def gunicorn_port(tmp_path: Path) -> Iterator[int]:
    """The test settings served by a real gunicorn worker on a free loopback port (sharing the test database)."""
    with gunicorn("example_project.wsgi:application", tmp_path / "gunicorn.log") as server:
        yield server.port


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
