"""The HTTP side of the sandbox: a threaded, keep-alive HTTP/1.1 server on loopback.

A real socket (not a mocked transport) is the point: connection reuse, timeouts, dropped connections and
concurrency in the client are exercised as they would be against Flinks. Everything here is standard
library so the server can run in its own process (``python -m flinks_sessions.sandbox``) for benchmarks.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import TYPE_CHECKING, Any, Unpack
from urllib.parse import parse_qs, urlsplit

from .app import MAX_BODY, SandboxApp
from .config import SandboxConfig
from .faults import Faults, FaultSettings
from .requestlog import Match, RequestLog
from .state import SandboxState
from .webhooks import WebhookSender
from .wire import Request, Response, _Drop, problem, reason

if TYPE_CHECKING:
    from .control import SandboxControl

logger = logging.getLogger("flinks_sessions.sandbox")

IDLE_CONNECTION_TIMEOUT = 300.0  # seconds a keep-alive connection may sit idle before the server closes it
SWEEP_INTERVAL = 0.5


class _BadRequestError(Exception):
    pass


class SandboxRequestHandler(BaseHTTPRequestHandler):
    """Reads one request, hands it to the app, writes the answer; never lets an exception reach the client."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; without TCP_NODELAY, Nagle and delayed ACKs add ~40 ms to each answer.
    disable_nagle_algorithm = True
    server_version = "FlinksSandbox/1.0"
    sys_version = ""
    timeout = IDLE_CONNECTION_TIMEOUT
    server: _SandboxHTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's signature
        """Quiet by default: request lines go to the ``flinks_sessions.sandbox`` logger at DEBUG."""
        if self.server.verbose:
            logger.info("%s %s", self.address_string(), format % args)
        else:
            logger.debug("%s %s", self.address_string(), format % args)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Malformed requests get a ProblemDetails body like every other error, not the stdlib's HTML."""
        self.close_connection = True
        detail = message or reason(code)
        with contextlib.suppress(OSError):
            self._write(problem(code, detail, getattr(self, "path", None)), close=True)

    def _read_body(self) -> tuple[bytes, bool]:
        """The request body and whether it was too large (and left unread, so the connection must close)."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked()
        raw_length = self.headers.get("Content-Length")
        if raw_length is None:
            return b"", False
        try:
            length = int(raw_length)
        except ValueError as error:
            raise _BadRequestError("Content-Length is not a number") from error
        if length < 0:
            raise _BadRequestError("Content-Length is negative")
        if length > MAX_BODY:
            return b"", True
        return self.rfile.read(length), False

    def _read_chunked(self) -> tuple[bytes, bool]:
        chunks: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError as error:
                raise _BadRequestError("malformed chunked body") from error
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks), False
            total += size
            if total > MAX_BODY:
                return b"", True
            chunks.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def _dispatch(self) -> None:
        try:
            try:
                body, too_large = self._read_body()
            except _BadRequestError as bad:
                self._write(problem(400, str(bad), self.path), close=True)
                return
            parts = urlsplit(self.path)
            request = Request(
                method=self.command,
                path=parts.path or "/",
                query=parse_qs(parts.query, keep_blank_values=True),
                headers={name.lower(): value for name, value in self.headers.items()},
                body=body,
                body_too_large=too_large,
                peer=str(self.client_address[0]) if self.client_address else "",
            )
            result = self.server.app.handle(request)
            if isinstance(result, _Drop):
                self.close_connection = True
                return
            self._write(result, close=too_large or result.close)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True
        except Exception:
            logger.exception("sandbox failed to answer %s %s", self.command, self.path)
            self.close_connection = True
            with contextlib.suppress(OSError):
                self._write(problem(500, "The sandbox failed to handle this request", self.path), close=True)

    # Every method goes through the app, which answers 405 where a route does not take it (names the base
    # class looks up).
    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _dispatch  # noqa: N815

    def _write(self, response: Response, *, close: bool = False) -> None:
        self.send_response(response.status)
        if response.content_type:
            self.send_header("Content-Type", response.content_type)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD" and response.body:
            self.wfile.write(response.body)
        self.wfile.flush()


class _SandboxHTTPServer(ThreadingHTTPServer):
    """Tracks open connections so ``stop()`` really ends idle keep-alive connections too."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    block_on_close = False

    def __init__(self, address: tuple[str, int], app: SandboxApp, *, verbose: bool = False) -> None:
        self.app = app
        self.verbose = verbose
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, SandboxRequestHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client vanishing mid-request is normal here (timeouts, drops); keep it out of stderr."""
        logger.debug("connection error from %s: %s", client_address, sys.exc_info()[1])


class SandboxServer:
    """A Flinks Pay emulator on a loopback port, served from a background thread.

    >>> with SandboxServer() as sandbox:          # port 0: a free port is picked
    ...     base_url = sandbox.url                # e.g. http://127.0.0.1:54321

    In-process tests may read and change ``config``, ``faults`` and ``state`` directly; other processes use
    the ``/_sandbox/`` routes (see ``SandboxControl``).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        config: SandboxConfig | None = None,
        *,
        faults: FaultSettings | None = None,
        verbose: bool = False,
        control_token: str | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.app = SandboxApp(config, faults, control_token=control_token)
        self.verbose = verbose
        self._httpd: _SandboxHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._sweeper: threading.Thread | None = None

    # -- what tests use in-process ---------------------------------------------------------------------------

    @property
    def config(self) -> SandboxConfig:
        return self.app.config

    @property
    def faults(self) -> Faults:
        return self.app.faults

    @property
    def state(self) -> SandboxState:
        return self.app.state

    @property
    def control_token(self) -> str:
        """The secret the ``/_sandbox/`` routes require in ``X-Sandbox-Token`` (generated unless given)."""
        return self.app.control.token

    def control(self, *, timeout: float = 10.0) -> SandboxControl:
        """A ``SandboxControl`` for this sandbox, holding its control token."""
        from .control import SandboxControl

        return SandboxControl(self.url, token=self.control_token, timeout=timeout)

    @property
    def log(self) -> RequestLog:
        """The live request log (``.count(...)``, ``.filter(...)``, ``.clear()``)."""
        return self.app.log

    @property
    def request_log(self) -> list[dict[str, Any]]:
        """A copy of every API request so far: ``method``, ``path``, ``status``, ``at``, ``authorization``."""
        return self.app.log.entries()

    def count(self, **match: Unpack[Match]) -> int:
        """Shortcut for ``log.count``: e.g. ``count(method="POST", path_suffix="/cancel")``."""
        return self.app.log.count(**match)

    @property
    def webhooks(self) -> WebhookSender:
        return self.app.webhooks

    @property
    def webhook_deliveries(self) -> list[dict[str, Any]]:
        return self.app.webhooks.deliveries

    def reset(self) -> None:
        self.app.reset()

    @property
    def url(self) -> str:
        """The base URL clients use, e.g. ``http://127.0.0.1:54321`` (the real port once started)."""
        if self._httpd is None:
            raise RuntimeError("the sandbox is not running; call start() first")
        host = self.host if ":" not in self.host else f"[{self.host}]"
        return f"http://{host}:{self.port}"

    def hosted_page_url(self, session_id: str, parent_origin: str | None = None) -> str:
        url = f"{self.url}/app/?sessionId={session_id}"
        return url + (f"&parentOrigin={parent_origin}" if parent_origin else "")

    # -- lifecycle -------------------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._httpd is not None

    def start(self) -> SandboxServer:
        if self._httpd is not None:
            return self
        self.app.stopping.clear()
        httpd = _SandboxHTTPServer((self.host, self.port), self.app, verbose=self.verbose)
        self.port = int(httpd.server_address[1])
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.5}, name="flinks-sandbox", daemon=True
        )
        self._thread.start()
        self._sweeper = threading.Thread(target=self._sweep, name="flinks-sandbox-expiry", daemon=True)
        self._sweeper.start()
        logger.debug("Flinks sandbox listening on %s", self.url)
        return self

    def _sweep(self) -> None:
        """Expire idle sessions even when nobody asks about them (lookups also expire them lazily)."""
        while not self.app.stopping.wait(SWEEP_INTERVAL):
            try:
                self.app.state.expire_due()
            except Exception:
                logger.exception("sandbox expiry sweep failed")

    def stop(self) -> None:
        httpd = self._httpd
        if httpd is None:
            return
        self.app.stopping.set()  # wakes requests sleeping in latency or timeout faults
        self._shutdown(httpd)
        httpd.server_close()
        httpd.close_connections()
        for thread in (self._thread, self._sweeper):
            if thread is not None:
                thread.join(timeout=5)
        self.app.webhooks.join(timeout=2)
        self._httpd = None
        self._thread = None
        self._sweeper = None

    def _shutdown(self, httpd: _SandboxHTTPServer) -> None:
        """``shutdown()`` only returns at the serve loop's next poll; a dummy connection makes that now."""
        shutter = threading.Thread(target=httpd.shutdown, name="flinks-sandbox-shutdown", daemon=True)
        shutter.start()
        host = "127.0.0.1" if self.host in ("", "0.0.0.0", "::") else self.host  # noqa: S104
        while shutter.is_alive():
            with contextlib.suppress(OSError):
                socket.create_connection((host, self.port), timeout=0.2).close()
            shutter.join(0.01)

    def serve_until(self, event: threading.Event) -> None:
        """Run until ``event`` is set (the CLI sets it from a signal handler), then stop."""
        self.start()
        try:
            while not event.wait(0.5):
                pass
        finally:
            self.stop()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.url if self._httpd else "stopped"
        return f"<SandboxServer {where}>"
