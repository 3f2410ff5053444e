"""Command-line options shared by ``python -m flinks_sessions.sandbox`` and ``manage.py flinks_sandbox``.

One function defines the options so the two entry points cannot drift; each only chooses its defaults (the
management command takes them from the ``FLINKS_SANDBOX`` setting, never from the site's Flinks account).
The banner prints the URL, then the control token (``FLINKS_SANDBOX_TOKEN`` when set, else a random one).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any, TextIO

from flinks_sessions.signatures import SignatureForm

from .access import TOKEN_HEADER
from .config import ERROR_STYLES, PRODUCT_NAMES, SandboxConfig, parse_signature_form
from .faults import FaultSettings
from .server import SandboxServer

DEFAULT_PORT = 8765
MAX_PORT = 65535


def _error_rate(value: str) -> tuple[int, float]:
    status, separator, rate = value.partition("=")
    try:
        if not separator:
            raise ValueError
        return int(status), float(rate)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected STATUS=RATE such as 503=0.3, not {value!r}") from error


def _port(value: str) -> int:
    """A TCP port, refused here with a usage error rather than by ``bind()`` with an ``OverflowError``."""
    try:
        port = int(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected a port number, not {value!r}") from error
    if not 0 <= port <= MAX_PORT:
        raise argparse.ArgumentTypeError(f"port must be between 0 and {MAX_PORT}, not {port}")
    return port


def _signature_form(value: str) -> SignatureForm:
    try:
        return parse_signature_form(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def add_arguments(parser: argparse.ArgumentParser, defaults: dict[str, Any] | None = None) -> None:
    """Add every sandbox option to ``parser``; ``defaults`` overrides the built-in default of any of them."""
    base = SandboxConfig()
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": DEFAULT_PORT,
        "client_id": base.client_id,
        "client_secret": base.client_secret,
        "webhook_secret": base.webhook_secret,
        "webhook_url": None,
        **(defaults or {}),
    }
    server = parser.add_argument_group("server")
    server.add_argument("--host", default=values["host"], help="interface to bind (default: %(default)s)")
    server.add_argument(
        "--port", type=_port, default=values["port"], help="port; 0 picks a free one (default: %(default)s)"
    )
    server.add_argument("--verbose", action="store_true", help="log every request to stderr")

    account = parser.add_argument_group("credentials and lifetimes")
    account.add_argument("--client-id", default=values["client_id"])
    account.add_argument("--client-secret", default=values["client_secret"])
    account.add_argument("--api-key", default=values.get("api_key"), help="require this x-api-key header")
    account.add_argument("--token-ttl", type=float, default=base.token_ttl, help="seconds (default: 599)")
    account.add_argument(
        "--expire-after",
        type=float,
        default=base.expire_after,
        help="idle seconds before a session expires; 0 never (default: 900)",
    )
    account.add_argument("--error-style", choices=ERROR_STYLES, default=base.error_style)
    account.add_argument(
        "--disable-product",
        action="append",
        choices=PRODUCT_NAMES,
        default=[],
        help="answer 403 when creating sessions of this product (repeatable)",
    )
    account.add_argument(
        "--status-without-auth", action="store_true", help="serve /status without a bearer token"
    )

    hooks = parser.add_argument_group("webhooks")
    hooks.add_argument("--webhook-url", default=values["webhook_url"], help="where to POST status changes")
    hooks.add_argument("--webhook-secret", default=values["webhook_secret"])
    hooks.add_argument(
        "--webhook-form",
        type=_signature_form,
        default=base.webhook_form,
        help="signature header: " + ", ".join(form.value for form in SignatureForm),
    )
    hooks.add_argument("--webhook-delay", type=float, default=0.0, help="seconds before each delivery")
    hooks.add_argument(
        "--guarantee-webhook",
        action="store_true",
        help="send each GEFT guarantee offer to --webhook-url and wait for /guarantees/confirm "
        "(default: auto-accept, as Flinks does without a guarantee webhook)",
    )
    hooks.add_argument(
        "--guarantee-event-type", default=base.guarantee_event_type, help="type of the guarantee offer event"
    )

    faults = parser.add_argument_group("fault injection (API calls only)")
    faults.add_argument("--latency", type=float, default=0.0, help="seconds added to every API call")
    faults.add_argument(
        "--error-rate",
        type=_error_rate,
        action="append",
        default=[],
        metavar="STATUS=RATE",
        help="answer this fraction of API calls with STATUS, e.g. 503=0.3 (repeatable)",
    )
    faults.add_argument("--retry-after", type=float, default=None, help="Retry-After seconds on 429/503")
    faults.add_argument("--timeout-rate", type=float, default=0.0, help="fraction of calls that stall")
    faults.add_argument("--timeout-seconds", type=float, default=5.0, help="how long a stalled call stalls")
    faults.add_argument("--drop-rate", type=float, default=0.0, help="fraction of calls dropped unanswered")
    faults.add_argument(
        "--fault-path",
        action="append",
        default=None,
        metavar="SUBSTRING",
        help="only fault API paths containing this (repeatable; default: every API path)",
    )
    faults.add_argument("--seed", type=int, default=None, help="seed for random faults (repeatable runs)")


def config_from_args(args: argparse.Namespace) -> SandboxConfig:
    return SandboxConfig(
        client_id=args.client_id,
        client_secret=args.client_secret,
        api_key=args.api_key or None,
        token_ttl=args.token_ttl,
        expire_after=args.expire_after if args.expire_after and args.expire_after > 0 else None,
        webhook_url=args.webhook_url or None,
        webhook_secret=args.webhook_secret,
        webhook_form=args.webhook_form,
        require_auth_for_status=not args.status_without_auth,
        error_style=args.error_style,
        webhook_delay=args.webhook_delay,
        disabled_products=set(args.disable_product),
        guarantee_webhook=args.guarantee_webhook,
        guarantee_event_type=args.guarantee_event_type,
    )


def faults_from_args(args: argparse.Namespace) -> FaultSettings:
    return FaultSettings(
        latency=args.latency,
        error_rates=dict(args.error_rate),
        retry_after=args.retry_after,
        timeout_rate=args.timeout_rate,
        timeout_seconds=args.timeout_seconds,
        drop_rate=args.drop_rate,
        paths=args.fault_path,
        seed=args.seed,
    ).validate()


def server_from_args(args: argparse.Namespace) -> SandboxServer:
    return SandboxServer(
        args.host, args.port, config_from_args(args), faults=faults_from_args(args), verbose=args.verbose
    )


def serve(
    server: SandboxServer, out: TextIO | None = None, write: Callable[[str], None] | None = None
) -> None:
    """Serve in the foreground until SIGINT or SIGTERM; print the listening line once the port is known."""
    stop = threading.Event()
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, lambda _signum, _frame: stop.set())
    try:
        server.start()
        lines = [
            f"Flinks sandbox listening on {server.url}",
            f"Control API token ({TOKEN_HEADER} header, /_sandbox/ from loopback only): {server.control_token}",
        ]
        for line in lines:
            if write is not None:
                write(line)
            else:
                stream = out or sys.stdout
                stream.write(line + "\n")
                stream.flush()
        server.serve_until(stop)
    finally:
        server.stop()
        for number, handler in previous.items():
            signal.signal(number, handler)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m flinks_sessions.sandbox",
        description="Run the local Flinks Pay emulator (API, hosted page, webhooks, fault injection).",
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    if args.verbose:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        server = server_from_args(args)
    except ValueError as invalid:
        parser.error(str(invalid))
    try:
        serve(server)
    except OSError as error:
        sys.stderr.write(f"cannot start the sandbox on {args.host}:{args.port}: {error}\n")
        return 1
    return 0
