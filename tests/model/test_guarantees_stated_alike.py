"""The README's promise and docs/architecture.md's "Guarantees (model-checked)" say the same, word for word.

The model check proves the architecture page's sentences; a README that drifted from them would promise more (or
less) than was proved.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.extras import missing

ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_states_the_model_checked_guarantees_word_for_word() -> None:
    architecture = ROOT / "docs" / "architecture.md"
    if not architecture.exists():
        missing("docs", "docs/ is not in this tree (an sdist ships none)")
    section = re.search(
        r"^## Guarantees \(model-checked\)\n(.*?)(?=^## )", architecture.read_text(), re.M | re.S
    )
    assert section, "docs/architecture.md has no '## Guarantees (model-checked)' section"
    # The section's first paragraph says where the proof is; the guarantees follow it.
    guarantees = section.group(1).strip().split("\n\n", 1)[1]
    assert guarantees in (ROOT / "README.md").read_text()
