"""The README's settings table and the code's table of settings say the same keys and the same defaults."""

from __future__ import annotations

import re
from collections.abc import Mapping

from flinks_sessions.conf import RETRY_SETTINGS, SETTINGS, Setting
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


def spelt(value: object) -> str:
    """A default as a settings file spells it: ``15`` for ``15.0``, ``["a"]`` for a tuple, ``"x"`` for a string."""
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple):
        return "[" + ", ".join(spelt(item) for item in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{spelt(key)}: {spelt(item)}" for key, item in value.items()) + "}"
    return repr(value)


def shown(setting: Setting) -> str:
    if setting.described:
        return setting.described
    if setting.key == "RETRY":
        return f"`{spelt({retry.key: retry.default for retry in RETRY_SETTINGS})}`"
    return f"`{spelt(setting.default)}`"


def test_the_readme_lists_every_setting_and_nothing_else() -> None:
    assert sorted(readme_rows()) == sorted(setting.key for setting in SETTINGS)


def test_the_readme_shows_each_default_the_code_applies() -> None:
    rows = readme_rows()
    expected = {setting.key: shown(setting) for setting in SETTINGS}
    assert {key: rows.get(key) for key in expected} == expected
