"""``python -m flinks_sessions.sandbox``: the emulator in its own process (demos, benchmarks)."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
