"""Hypothesis strategies for fuzzing webhooks: valid payloads mutated at every path, and raw bodies that are not
JSON at all.

``mutated(data, bases)`` draws one of ``bases`` (valid payloads of a platform) and applies 1-3 mutations at random
paths: a value of another type, a deleted key, an extra key, a value wrapped in a list or an object, a fresh id (so
that the intake's dedup does not hide what follows). ``body(data, doc)`` serializes it, sometimes with a raw-byte
mutation (truncated, non-UTF-8, UTF-16, a BOM, deep nesting, random bytes).
"""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

_fresh = itertools.count(1)

# texts the platforms would never send but a forger (or a bug upstream) might
NASTY_TEXTS = [
    "",
    " ",
    "\x00",
    "\x1b[31mred\x1b[0m",
    "\u202eevil\u202c",
    "a\u200bb\ufeff",
    "<b>bold</b> *x* _y_ `z` [l](http://x)",
    "\ud800",
    "x\udfffy",
    "line\r\nbreak\rcr",
    "Как сбросить пароль?",
    "/start",
    "/operator",
    "/resolve 1",
    "case:take:1",
    "case:take:99999999999999999999999",
    '{"p": "faq:1"}',
    '{"command": "start"}',
    "{",
    "NaN",
    "-1",
    "0",
    "1e999",
    "999999999999",  # Unix seconds in the year 33658
    "253402300800",  # 10000-01-01
]

_chars = st.characters(codec=None, exclude_categories=()) | st.characters(categories=["Cs"])
texts = st.one_of(
    st.sampled_from(NASTY_TEXTS),
    st.text(max_size=40),
    st.text(_chars, max_size=20),
    st.integers(1_000, 200_000).map(lambda n: "я" * n),  # huge (still under every body limit)
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**31), 2**31),
    st.integers(),  # big ints too
    st.sampled_from([2**63, -(2**63) - 1, 10**30, 0, -1, 999_999_999_999, 253_402_300_800, -62_135_596_801]),
    st.floats(allow_nan=True, allow_infinity=True),
    texts,
)
values = st.recursive(
    scalars,
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4),
    max_leaves=8,
)
tops = st.one_of(  # what may come instead of an object at the top
    scalars,
    st.lists(values, max_size=3),
    st.just([]),
    st.just({}),
)

Path = tuple[Any, ...]


def paths(doc: Any, at: Path = ()) -> list[Path]:
    """Every path into ``doc`` (dict keys and list indexes), the root first."""
    found = [at]
    if isinstance(doc, dict):
        for k, v in doc.items():
            found += paths(v, (*at, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            found += paths(v, (*at, i))
    return found


def get(doc: Any, path: Path) -> Any:
    for p in path:
        doc = doc[p]
    return doc


def put(doc: Any, path: Path, value: Any) -> Any:
    """``doc`` with the value at ``path`` replaced (the root: ``value`` itself)."""
    if not path:
        return value
    get(doc, path[:-1])[path[-1]] = value
    return doc


def retyped(value: Any) -> list[Any]:
    """Values close to ``value`` but of another type (what a sloppy sender does)."""
    out: list[Any] = [None, [value], {"value": value}]
    if isinstance(value, bool):
        out += [int(value), str(value).lower()]
    elif isinstance(value, int | float):
        out += [str(value), float(value) + 0.5, bool(value), -value if value else -1, 2**64 + 7]
    elif isinstance(value, str):
        out += [len(value), value.encode("utf-8", "surrogatepass").hex(), value * 3, ""]
        if value.lstrip("-").isdigit():
            out.append(int(value))
    elif isinstance(value, list):
        out += [value[0] if value else 0, {str(i): v for i, v in enumerate(value)}, "list", value * 2]
    elif isinstance(value, dict):
        out += [list(value.values()), list(value), "object", json.dumps(value)]
    return out


def extremes(value: Any) -> st.SearchStrategy[Any]:
    """Values of the same type as ``value`` but at the edges: huge or negative numbers, long or odd texts,
    digit strings far out of range (a timestamp in the year 33658)."""
    if isinstance(value, bool):
        return st.booleans()
    if isinstance(value, int):
        return st.integers() | st.sampled_from([0, -1, 2**31, 2**53 + 1, 2**63, 999_999_999_999, -(10**20)])
    if isinstance(value, float):
        return st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from([0.0, -90.5, 1e308])
    if isinstance(value, str) and value.isdigit():
        return st.from_regex(r"\A[0-9]{1,20}\Z") | st.sampled_from(["0", "999999999999", "253402300800"])
    return texts


OPERATIONS = ["replace", "retype", "delete", "extra", "fresh", "extreme", "extreme"]


def mutate_once(data: st.DataObject, doc: Any) -> Any:
    path = data.draw(st.sampled_from(paths(doc)), label="path")
    op = data.draw(st.sampled_from(OPERATIONS), label="op")
    current = get(doc, path)
    if op == "replace":
        return put(doc, path, data.draw(tops if not path else values, label="value"))
    if op == "retype":
        return put(doc, path, data.draw(st.sampled_from(retyped(current)), label="retyped"))
    if op == "extreme" and not isinstance(current, dict | list):
        return put(doc, path, data.draw(extremes(current), label="extreme"))
    if op == "delete" and path:
        parent = get(doc, path[:-1])
        del parent[path[-1]]
        return doc
    if op == "extra" and isinstance(current, dict):
        current[data.draw(st.text(max_size=12), label="key")] = data.draw(values, label="extra")
        return doc
    if op == "fresh" and path and isinstance(current, int | str) and not isinstance(current, bool):
        n = next(_fresh)
        return put(doc, path, current + 1_000_000 + n if isinstance(current, int) else f"{current}-f{n}")
    return doc


def mutated(data: st.DataObject, bases: list[Any], renew: Callable[[Any], Any] = lambda doc: doc) -> tuple[Any, int]:
    """A copy of one of ``bases`` (``renew``: given new ids) with 0-3 mutations (0: the valid payload itself, now
    and then), and how many."""
    doc = renew(copy.deepcopy(data.draw(st.sampled_from(bases), label="base")))
    n = data.draw(st.integers(0, 3), label="mutations")
    for _ in range(n):
        doc = mutate_once(data, doc)
    return doc, n


RAW = ["none", "truncate", "latin1", "utf16", "bom", "garbage", "nested", "splice"]


def body(data: st.DataObject, doc: Any) -> tuple[bytes, bool]:
    """``doc`` as the bytes of a request body, and whether they were mangled (one call in five) at the byte level."""
    raw = _raw(data, doc)
    return raw, raw != json.dumps(doc, ensure_ascii=False, allow_nan=True).encode("utf-8", "surrogatepass") and (
        raw != json.dumps(doc, allow_nan=True).encode()
    )


def _raw(data: st.DataObject, doc: Any) -> bytes:
    ascii_only = data.draw(st.booleans(), label="ascii")
    text = json.dumps(doc, ensure_ascii=ascii_only, allow_nan=True)
    raw = text.encode("utf-8", "surrogatepass")
    how = data.draw(st.sampled_from(RAW) if data.draw(st.integers(0, 4), label="mangle?") == 0 else st.just("none"))
    if how == "truncate":
        return raw[: data.draw(st.integers(0, max(0, len(raw) - 1)), label="cut")]
    if how == "latin1":  # not UTF-8 (bytes 0x80-0xff alone)
        return text.encode("latin-1", "replace") + "é\xff".encode("latin-1")
    if how == "utf16":  # json.loads accepts it; the platforms never send it
        return text.encode("utf-16", "surrogatepass")
    if how == "bom":
        return b"\xef\xbb\xbf" + raw
    if how == "garbage":
        return data.draw(st.binary(max_size=200), label="garbage")
    if how == "nested":  # deeper than any JSON parser recursion limit
        depth = data.draw(st.sampled_from([900, 5_000, 200_000]), label="depth")
        return b"[" * depth + b"]" * depth if data.draw(st.booleans()) else b'{"a":' * depth + b"1" + b"}" * depth
    if how == "splice":
        at = data.draw(st.integers(0, len(raw)), label="at")
        return raw[:at] + data.draw(st.binary(min_size=1, max_size=8), label="bytes") + raw[at:]
    return raw
