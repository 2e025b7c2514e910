"""Offline evaluation of the FAQ matcher (``supportbot faq eval``).

``evaluate(faq_path, cases_csv)`` loads the FAQ exactly as the bot does, builds the same
matcher with the same default thresholds, matches every case of a CSV with the header
``text,expected`` (expected: an entry id, or empty when the question is out of scope and must
be handed off) and returns the figures below.  ``format_report`` renders them as a table.
"""

from __future__ import annotations

import csv
import os
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from core.faq import Band, FaqEntry, FaqMatcher, load_faq

__all__ = ["RESULT_KEYS", "evaluate", "format_report", "read_cases"]

RESULT_KEYS = (
    "cases",
    "in_scope",
    "top1",
    "top3",
    "answered",
    "answer_precision",
    "suggested",
    "suggest_hit",
    "oos",
    "oos_answered",
    "p50_ms",
    "p99_ms",
)


def read_cases(cases_csv: str | os.PathLike) -> list[tuple[str, str]]:
    """``(text, expected)`` rows of a cases CSV; raises ``ValueError`` on a malformed file."""
    path = Path(cases_csv)
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        fields = [h.strip() for h in (reader.fieldnames or [])]
        if "text" not in fields or "expected" not in fields:
            raise ValueError(f"{path}: the header must be 'text,expected', got {','.join(fields) or 'nothing'}")
        reader.fieldnames = fields
        rows = []
        for n, row in enumerate(reader, 2):
            text = (row.get("text") or "").strip()
            if not text:
                raise ValueError(f"{path}: line {n}: text is empty")
            rows.append((text, (row.get("expected") or "").strip()))
    return rows


def _share(num: int, den: int) -> float | None:
    return None if den == 0 else num / den


def _percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def evaluate(
    faq_path: str | os.PathLike,
    cases_csv: str | os.PathLike,
    matcher_factory: Callable[[Sequence[FaqEntry]], FaqMatcher] | None = None,
) -> dict:
    """Evaluate the matcher on labelled cases; returns a dict with exactly ``RESULT_KEYS``.

    Shares are floats in [0, 1]; ``answer_precision`` / ``suggest_hit`` / ``oos_answered`` are
    None when their denominator is 0.  Raises ``FaqError`` for a broken FAQ and ``ValueError``
    for a broken CSV or an expected id that is not in the FAQ.
    """
    entries = load_faq(faq_path)
    cases = read_cases(cases_csv)
    ids = {e.id for e in entries}
    unknown = sorted({exp for _, exp in cases if exp and exp not in ids})
    if unknown:
        shown = ", ".join(unknown[:10]) + (" ..." if len(unknown) > 10 else "")
        raise ValueError(f"{cases_csv}: expected id(s) not in the FAQ {faq_path}: {shown}")
    matcher = (matcher_factory or FaqMatcher)(entries)

    in_scope = top1 = top3 = answered = answered_right = suggested = suggest_hit = 0
    oos = oos_answered = 0
    times: list[float] = []
    for text, expected in cases:
        t0 = time.perf_counter()
        m = matcher.match(text)
        times.append((time.perf_counter() - t0) * 1000.0)
        ranked = [c.entry.id for c in m.candidates]
        if expected:
            in_scope += 1
            top1 += bool(ranked) and ranked[0] == expected
            top3 += expected in ranked[:3]
            if m.band is Band.ANSWER:
                answered += 1
                answered_right += ranked[0] == expected
            elif m.band is Band.SUGGEST:
                suggested += 1
                suggest_hit += expected in ranked[:3]
        else:
            oos += 1
            oos_answered += m.band is Band.ANSWER

    return {
        "cases": len(cases),
        "in_scope": in_scope,
        "top1": _share(top1, in_scope),
        "top3": _share(top3, in_scope),
        "answered": _share(answered, in_scope),
        "answer_precision": _share(answered_right, answered),
        "suggested": _share(suggested, in_scope),
        "suggest_hit": _share(suggest_hit, suggested),
        "oos": oos,
        "oos_answered": _share(oos_answered, oos),
        "p50_ms": statistics.median(times) if times else 0.0,
        "p99_ms": _percentile(times, 99),
    }


_LABELS = {
    "cases": "cases",
    "in_scope": "in scope",
    "top1": "top-1 accuracy (in scope)",
    "top3": "top-3 accuracy (in scope)",
    "answered": "answered directly (in scope)",
    "answer_precision": "precision of direct answers",
    "suggested": "suggestions offered (in scope)",
    "suggest_hit": "right entry among suggestions",
    "oos": "out of scope",
    "oos_answered": "out of scope answered (should be 0)",
    "p50_ms": "match time p50, ms",
    "p99_ms": "match time p99, ms",
}


def format_report(result: dict) -> str:
    """A two-column, human-readable table of an ``evaluate`` result."""
    width = max(len(v) for v in _LABELS.values())
    lines = [f"{'metric':<{width}}  value", f"{'-' * width}  -----"]
    for key in RESULT_KEYS:
        value = result.get(key)
        if value is None:
            shown = "n/a"
        elif key in ("cases", "in_scope", "oos"):
            shown = str(value)
        elif key.endswith("_ms"):
            shown = f"{value:.2f}"
        else:
            shown = f"{value:.3f}"
        lines.append(f"{_LABELS[key]:<{width}}  {shown}")
    return "\n".join(lines)
