"""A second Flinks stand-in, independent of the bundled sandbox: a bare HTTP server on loopback whose answers a
test scripts by path, byte for byte, so it can send what the sandbox never would (a body that is not the gzip
its ``Content-Encoding`` announces, a cancel answered with a status that is not terminal).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOKEN = {"access_token": "standin-token", "expires_in": 299, "token_type": "bearer"}


@dataclass
class Reply:
    status: int = 200
    body: bytes = b"{}"
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})

    @classmethod
    def json(cls, payload: Any, status: int = 200) -> Reply:
        return cls(status=status, body=json.dumps(payload).encode())


@dataclass
class StandIn:
    """Answers ``replies[suffix]`` to a request whose path ends with ``suffix``; the token endpoint by default."""

    url: str
    replies: dict[str, Reply]
    calls: list[tuple[str, str]] = field(default_factory=list)

    def count(self, suffix: str) -> int:
        return sum(1 for _method, path in self.calls if path.endswith(suffix))


@contextmanager
def flinks_standin(replies: dict[str, Reply]) -> Iterator[StandIn]:
    table = {"/api/v1/authorize": Reply.json(TOKEN), **replies}
    standin: StandIn

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            standin.calls.append((self.command, self.path))
            reply = next(
                (reply for suffix, reply in table.items() if self.path.endswith(suffix)),
                Reply.json({"title": "no such route"}, status=404),
            )
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

        do_GET = do_POST = _answer  # noqa: N815 - the names http.server dispatches to

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            """Quiet: the test reads ``calls``."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    standin = StandIn(url=f"http://127.0.0.1:{server.server_address[1]}", replies=table)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield standin
    finally:
        server.shutdown()
        server.server_close()
