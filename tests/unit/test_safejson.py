"""``safejson.depth_of``: the scan every webhook body and JSON beacon goes through before anything else.

The receiver runs it before the signature is checked, so its cost is what anyone can make the receiver pay.
"""

from __future__ import annotations

import resource
import subprocess
import sys

from flinks_sessions.safejson import depth_of
from tests.support import ROOT

# 65,535 bytes, under the default WEBHOOK_MAX_BODY: a quote, then escaped quotes, never closed.
UNTERMINATED = '"' + '\\"' * 32_767
CPU_SECONDS = (
    5  # a scan that restarts at every quote took 22 s of CPU on this body; one pass takes milliseconds
)


def test_depth_skips_what_strings_hold() -> None:
    assert depth_of('[{"a": "[[[{{{"}, ["]]]"]]') == 2
    assert depth_of('{"a": "\\"[[["}') == 1
    assert depth_of('[["never closed [[[[') == 2


def _cpu_limit() -> None:
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS))


def test_an_unterminated_string_is_scanned_in_one_pass() -> None:
    """An unterminated string of escaped quotes made the scan start over at each quote: quadratic in the body,
    22 s of CPU for 64 KiB, answered 401 in the end, and a few such requests stalled every worker. The scan runs
    in a child held to a CPU limit far above one pass and far below the old cost, so the test fails, not hangs."""
    code = f"from flinks_sessions.safejson import depth_of; print(depth_of({UNTERMINATED!r}))"
    done = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        preexec_fn=_cpu_limit,
        check=False,
    )
    assert (done.returncode, done.stdout.strip()) == (0, "0"), done.stderr[-500:]
