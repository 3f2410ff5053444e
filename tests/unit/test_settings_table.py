"""The README's settings table and the code's table of settings say the same keys and the same defaults."""

from __future__ import annotations

import re

from flinks_sessions.conf import SETTINGS
from tests.support import ROOT


def readme_rows() -> dict[str, str]:
    """``key → default`` as the README's "Settings" table shows them (a row may hold ``A`` / ``B``)."""
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Settings\n", 1)[1].split("\n#", 1)[0]
    rows: dict[str, str] = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].startswith("`"):
            continue
        keys = re.findall(r"`([A-Z_]+)`", cells[0])
        defaults = cells[1].split(" / ") if len(keys) > 1 else [cells[1]]
        assert len(defaults) == len(keys), line
        rows.update(zip(keys, defaults, strict=True))
    return rows


def test_the_readme_lists_every_setting_and_nothing_else() -> None:
    assert sorted(readme_rows()) == sorted(setting.key for setting in SETTINGS)


def test_the_readme_shows_each_default_the_code_applies() -> None:
    rows = readme_rows()
    shown = {setting.key: setting.shown_default for setting in SETTINGS}
    assert {key: rows.get(key) for key in shown} == shown
