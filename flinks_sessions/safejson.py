"""JSON from strangers, decoded with a bound on nesting so no body can reach ``RecursionError``, and holding only
text a database can store.

``json.loads`` recurses once per nested array or object: 10,000 ``[`` (20 KB, well under any body limit) raise
``RecursionError``, which is not a ``ValueError`` and would end as a 500. Every document this app reads (the
webhook envelope, a beacon's body) is two or three levels deep, so the depth is checked first, by a scan that
skips string contents, and a document nested deeper than :data:`MAX_DEPTH` is refused like any malformed JSON.

A JSON string may also spell, with ``\\u`` escapes, what no text column holds: a NUL (PostgreSQL's ``text`` and
``jsonb`` refuse it) or half of a surrogate pair (no character at all: UTF-8 cannot encode it, so SQLite cannot
store it either). Such a document is refused too, before any of it reaches a column, rather than failing as a
500 when it is stored.
"""

from __future__ import annotations

import json
import re
from typing import Any

from flinks_sessions.exceptions import FlinksError

# Levels of arrays/objects accepted; the webhook envelope uses 2, a beacon body 1.
MAX_DEPTH = 32

# A JSON string (skipped whole, so brackets inside it do not count) or a bracket. A string left unterminated runs
# to the end of the text: the scan makes one pass whatever it is given. (Requiring the closing quote made it start
# over at every quote of an unterminated string, quadratic in the body: 22 s of CPU for 64 KiB of escaped quotes.)
_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?|[\[\]{}]', re.DOTALL)


class JSONTooDeep(FlinksError, ValueError):
    """The document nests arrays/objects deeper than :data:`MAX_DEPTH` (a ``ValueError``, like bad JSON)."""


class JSONUnstorable(FlinksError, ValueError):
    """The document holds text no database can store: a NUL, or half of a surrogate pair (a ``ValueError``)."""


def depth_of(text: str) -> int:
    """The deepest nesting of arrays/objects in ``text``, counted without decoding it."""
    depth = deepest = 0
    for match in _TOKENS.finditer(text):
        lexeme = match.group()
        if lexeme in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif lexeme in "]}":
            depth -= 1
    return deepest


def loads(data: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """``json.loads`` that raises :class:`JSONTooDeep` (a ``ValueError``) instead of recursing without bound, and
    :class:`JSONUnstorable` (a ``ValueError`` too) for text no database can store.

    Bytes are decoded as UTF-8 (``UnicodeDecodeError`` is a ``ValueError`` too).
    """
    text = data.decode("utf-8") if isinstance(data, bytes | bytearray) else data
    if depth_of(text) > max_depth:
        raise JSONTooDeep(f"JSON nested deeper than {max_depth} levels")
    try:
        document = json.loads(text)
    except RecursionError as exc:  # a backstop: the scan above should always have caught it
        raise JSONTooDeep(f"JSON nested deeper than {max_depth} levels") from exc
    if not _storable(document):
        raise JSONUnstorable("JSON holding text no database can store (a NUL or half of a surrogate pair)")
    return document


def _storable(value: Any) -> bool:
    """Whether every string of a decoded document, keys included, is text a database column can hold."""
    if isinstance(value, str):
        return "\x00" not in value and (value.isascii() or _encodes(value))
    if isinstance(value, dict):
        return all(_storable(key) and _storable(item) for key, item in value.items())
    if isinstance(value, list):
        return all(_storable(item) for item in value)
    return True


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        return False
    return True
