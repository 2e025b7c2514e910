"""Offline evaluation of the FAQ matcher (``supportbot faq eval``).

``evaluate(faq_path, cases_csv)`` loads the FAQ exactly as the bot does, builds the same
matcher with the same default thresholds, matches every case of a CSV with the header
``text,expected`` (expected: an entry id, or empty when the question is out of scope and must
be handed off) and returns the figures below.  ``format_report`` renders them as a table.
``evaluate_cases`` also returns every case's outcome; ``misses`` keeps the ones it got wrong
and ``format_misses`` renders them (``supportbot faq eval --misses``).

The older keys keep their meaning: ``answered`` / ``answer_precision`` / ``oos_answered`` count
band ANSWER only (the answer sent alone), ``suggested`` / ``suggest_hit`` band SUGGEST only.
The newer keys count what the customer sees: ``shown`` is the share of in-scope questions that
get the best entry's answer text in either band (ANSWER or ANSWER_ALTERNATIVES),
``shown_precision`` how often that text is the right one, ``oos_shown`` / ``oos_suggested`` the
share of out-of-scope questions that get an answer text / a "did you mean" menu.
"""

from __future__ import annotations

import csv
import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from core.faq import Band, FaqEntry, FaqMatcher, load_faq

__all__ = [
    "RESULT_KEYS",
    "Outcome",
    "evaluate",
    "evaluate_cases",
    "format_misses",
    "format_report",
    "misses",
    "read_cases",
]

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
    # added with band ANSWER_ALTERNATIVES; the keys above are unchanged
    "shown",
    "shown_precision",
    "answered_alone",
    "answer_precision_alone",
    "alternatives",
    "alternatives_precision",
    "alternatives_hit",
    "oos_shown",
    "oos_suggested",
)


@dataclass(frozen=True, slots=True)
class Outcome:
    """One case: the text, the expected id ("" = out of scope), the best entry's id ("" = none) and the band."""

    text: str
    expected: str
    got: str
    band: Band
    score: float  # the best candidate's confidence (0 when there is none)
    ranked: tuple[str, ...]  # candidate ids, best first

    @property
    def shown(self) -> bool:
        """The customer gets the best entry's answer text."""
        return self.band in (Band.ANSWER, Band.ANSWER_ALTERNATIVES) and bool(self.got)

    @property
    def wrong(self) -> bool:
        """In scope and not given the right answer text; or out of scope and given an answer text or a menu."""
        if self.expected:
            return not (self.shown and self.got == self.expected)
        return self.shown or self.band is Band.SUGGEST


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

    Shares are floats in [0, 1]; precisions, hit rates and out-of-scope shares are None when their
    denominator is 0.  Raises ``FaqError`` for a broken FAQ and ``ValueError`` for a broken CSV or
    an expected id that is not in the FAQ.
    """
    return evaluate_cases(faq_path, cases_csv, matcher_factory)[0]


def evaluate_cases(
    faq_path: str | os.PathLike,
    cases_csv: str | os.PathLike,
    matcher_factory: Callable[[Sequence[FaqEntry]], FaqMatcher] | None = None,
) -> tuple[dict, list[Outcome]]:
    """``evaluate``'s figures and every case's ``Outcome``, in the order of the CSV."""
    entries = load_faq(faq_path)
    cases = read_cases(cases_csv)
    ids = {e.id for e in entries}
    unknown = sorted({exp for _, exp in cases if exp and exp not in ids})
    if unknown:
        shown = ", ".join(unknown[:10]) + (" ..." if len(unknown) > 10 else "")
        raise ValueError(f"{cases_csv}: expected id(s) not in the FAQ {faq_path}: {shown}")
    matcher = (matcher_factory or FaqMatcher)(entries)

    outcomes: list[Outcome] = []
    times: list[float] = []
    for text, expected in cases:
        t0 = time.perf_counter()
        m = matcher.match(text)
        times.append((time.perf_counter() - t0) * 1000.0)
        ranked = tuple(c.entry.id for c in m.candidates)
        score = m.candidates[0].score if m.candidates else 0.0
        outcomes.append(Outcome(text, expected, ranked[0] if ranked else "", m.band, score, ranked))
    return _figures(outcomes, times), outcomes


def _figures(outcomes: Sequence[Outcome], times: Sequence[float]) -> dict:
    ins = [o for o in outcomes if o.expected]
    oos = [o for o in outcomes if not o.expected]

    def right(o: Outcome) -> bool:
        return o.got == o.expected

    in_band = {band: [o for o in ins if o.band is band] for band in Band}
    answered = in_band[Band.ANSWER]
    alternatives = in_band[Band.ANSWER_ALTERNATIVES]
    suggested = in_band[Band.SUGGEST]
    shown = [o for o in ins if o.shown]
    n_in, n_oos = len(ins), len(oos)
    answer_precision = _share(sum(map(right, answered)), len(answered))
    return {
        "cases": len(outcomes),
        "in_scope": n_in,
        "top1": _share(sum(map(right, ins)), n_in),
        "top3": _share(sum(o.expected in o.ranked[:3] for o in ins), n_in),
        "answered": _share(len(answered), n_in),
        "answer_precision": answer_precision,
        "suggested": _share(len(suggested), n_in),
        "suggest_hit": _share(sum(o.expected in o.ranked[:3] for o in suggested), len(suggested)),
        "oos": n_oos,
        "oos_answered": _share(sum(o.band is Band.ANSWER for o in oos), n_oos),
        "p50_ms": statistics.median(times) if times else 0.0,
        "p99_ms": _percentile(times, 99),
        "shown": _share(len(shown), n_in),
        "shown_precision": _share(sum(map(right, shown)), len(shown)),
        "answered_alone": _share(len(answered), n_in),
        "answer_precision_alone": answer_precision,
        "alternatives": _share(len(alternatives), n_in),
        "alternatives_precision": _share(sum(map(right, alternatives)), len(alternatives)),
        "alternatives_hit": _share(sum(o.expected in o.ranked[:3] for o in alternatives), len(alternatives)),
        "oos_shown": _share(sum(o.shown for o in oos), n_oos),
        "oos_suggested": _share(sum(o.band is Band.SUGGEST for o in oos), n_oos),
    }


def misses(outcomes: Sequence[Outcome]) -> list[Outcome]:
    """The cases the matcher got wrong (see ``Outcome.wrong``), in their original order."""
    return [o for o in outcomes if o.wrong]


def _miss_kind(o: Outcome) -> str:
    if not o.expected:
        return "oos_shown" if o.shown else "oos_suggested"
    if o.shown:
        return "wrong_answer"
    return "not_shown"


def format_misses(outcomes: Sequence[Outcome]) -> str:
    """One line per miss: kind, band, score, expected, got, text (tab-separated, with a header)."""
    rows = [("kind", "band", "score", "expected", "got", "text")]
    for o in misses(outcomes):
        rows.append((_miss_kind(o), o.band.value, f"{o.score:.3f}", o.expected or "-", o.got or "-", o.text))
    return "\n".join("\t".join(r) for r in rows)


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
    "shown": "answer text shown, either band (in scope)",
    "shown_precision": "precision of answer texts shown",
    "answered_alone": "answered alone, band ANSWER (in scope)",
    "answer_precision_alone": "precision of answers alone",
    "alternatives": "answered with alternatives (in scope)",
    "alternatives_precision": "precision of answers with alternatives",
    "alternatives_hit": "right entry in answer + alternatives",
    "oos_shown": "out of scope shown an answer text",
    "oos_suggested": "out of scope offered suggestions",
}


def format_report(result: dict) -> str:
    """A two-column, human-readable table of an ``evaluate`` result."""
    width = max(len(v) for v in _LABELS.values())
    lines = [f"{'metric':<{width}}  value", f"{'-' * width}  -----"]
    timings = ("p50_ms", "p99_ms")
    for key in [k for k in RESULT_KEYS if k not in timings] + list(timings):
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
