"""Text from outside made safe before anything acts on it or shows it to people.

``clean_text``: invalid Unicode (a lone surrogate from a line cut mid-character) becomes U+FFFD instead of
raising later; terminal escapes and control characters other than line breaks and tabs are removed; CRLF
becomes LF. ``clean_name``: the same, and no line breaks, direction overrides or zero-width characters, so a
name cannot add a fake line to a card or disguise itself in a topic title.
"""

from __future__ import annotations

import re

NAME_MAX = 64
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
# bidi embeddings/overrides/isolates and marks, zero-width spaces/joiners, word joiner, BOM
_INVISIBLE = re.compile(r"[\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\u00ad]")


def clean_text(text: str | None) -> str:
    if not text:
        return ""
    text = _SURROGATE.sub("\ufffd", text)
    text = _ANSI.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    return _CONTROL.sub("", text)


def clean_name(name: str | None, limit: int = NAME_MAX) -> str:
    text = _INVISIBLE.sub("", clean_text(name))
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
