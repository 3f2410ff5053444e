"""``make test`` on a fresh checkout says what it does while it builds the virtualenv, instead of a silent minute.

The build itself is stood in for: a virtualenv whose ``python`` answers ``pip`` by logging the call and runs
anything else with this interpreter, so the test shows what scripts/test.sh prints, not pip's download time.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support import ROOT


def test_make_test_prints_progress_while_it_builds_the_virtualenv(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    python = venv / "bin" / "python"
    python.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = "-m" ] && [ "$2" = "pip" ]; then echo "$*" >> "{tmp_path}/pip.log"; exit 0; fi\n'
        f'exec "{sys.executable}" "$@"\n'
    )
    python.chmod(0o755)
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "FLINKS_REQUIRE")}
    env["VENV"] = str(venv)

    result = subprocess.run(  # noqa: S603 - our own script
        [str(ROOT / "scripts" / "test.sh"), "--version"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # one terminal, in the order it was written
        text=True,
        timeout=120,
        check=False,
    )

    terminal = result.stdout
    assert result.returncode == 0, terminal
    assert (tmp_path / "pip.log").read_text().count("install") >= 1  # the build ran
    assert "==> installing flinks-sessions[dev]" in terminal, terminal
    assert terminal.index("==> installing") < terminal.index("==> pytest on"), terminal
