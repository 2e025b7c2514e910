"""FAQ matching quality on public intent data (BANKING77 en, HWU64 machine-translated ru).

Builds FAQs and case files from ``shared/faq_eval`` following its README protocol, runs
``core.faq_eval.evaluate`` (the code behind ``supportbot faq eval``, default thresholds) and
prints one table.  Usage::

    .venv/bin/python bench/faq_quality.py [DATA_DIR] [--cv]
    .venv/bin/python bench/faq_quality.py [DATA_DIR] --fit
    .venv/bin/python bench/faq_quality.py [DATA_DIR] --targets [--code=DIR]

``--cv`` evaluates on the train split only (FAQ from one part of train, queries from the
rest): that is what the settings were chosen on; the default run reports the test split, plus
the shipped FAQ (faq_data/) on the hand-written realistic set tests/data/faq_realistic.csv.
The sets are built in ``bench/_faq_sets.py``.

``--fit`` re-derives the band calibration from train data only (see ``fit_bands`` in
``bench/_faq_fit.py``): the coefficients ``_BAND`` of ``core.faq.calibrate``, the off-topic gate
and the alternatives and suggest thresholds.  It never reads a test split or the realistic set.

``--targets`` prints the band figures of the sets the targets are set on (banking77 k=10, ru_hwu
k=10 and full, test split; the shipped FAQ on the realistic set) from ``FaqMatcher.match`` alone,
so that with ``--code=DIR`` it also measures an older matcher package (one without the band
ANSWER_ALTERNATIVES) for a before / after comparison.

The last row grows the merged k=10 FAQ to 2,000 entries with synthetic distractor entries
(see ``with_distractors``) to check that the default thresholds hold at that size.

Protocol: categories sorted by name; for every category ``k`` train phrasings are drawn with
one ``random.Random(0)`` in that order (all rows for "full"); every 5th category
(index 4, 9, ...) is then dropped from the FAQ and its test queries must be handed off.
In ru_hwu, test rows whose normalised text also appears in train are dropped.
"""

from __future__ import annotations

import csv
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# --code=DIR measures the matcher package under DIR instead of this tree's (e.g. an older commit exported with
# ``git archive <commit> core/__init__.py core/faq core/faq_eval.py | tar -x -C DIR``; used with --targets).
# This tree's root follows DIR: the helper modules bench/_faq_*.py always come from this tree.
CODE = next((a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("--code=")), None)
sys.path[:0] = [CODE, str(ROOT)] if CODE else [str(ROOT)]

from bench._faq_fit import fit_bands  # noqa: E402
from bench._faq_sets import (  # noqa: E402
    DEFAULT_DATA,
    REALISTIC,
    SHIPPED,
    Cases,
    Faq,
    cv_set,
    entries_of,
    fmt,
    merge,
    subset,
    test_set,
    write,
)
from core.faq import FaqMatcher, load_faq  # noqa: E402
from core.faq_eval import evaluate  # noqa: E402


def with_distractors(
    base: tuple[Faq, Cases], n_total: int = 2000, per_entry: int = 5, seed: int = 7
) -> tuple[Faq, Cases]:
    """The FAQ grown to ``n_total`` entries with synthetic distractor entries; the cases are unchanged.

    Distractor ``synthetic_NNNN`` gets a fixed pair of different real entries (A, B), drawn with
    ``random.Random(seed)``; each of its ``per_entry`` phrasings is the first half of the words of
    a random phrasing of A followed by the second half of a random phrasing of B.  So the
    distractors share vocabulary, openings and endings with the real entries (hard, like a large
    FAQ with near-neighbour topics) but are none of the real intents: an in-scope query answered
    with a distractor counts as a wrong answer, an out-of-scope one as an out-of-scope answer.
    Only phrasings already in the FAQ are used (never the dropped out-of-scope categories).
    """
    faq, cases = base
    rng = random.Random(seed)
    names = sorted(faq)
    out = dict(faq)
    for d in range(n_total - len(faq)):
        a, b = rng.sample(names, 2)
        phrasings = []
        for _ in range(per_entry):
            wa, wb = rng.choice(faq[a]).split(), rng.choice(faq[b]).split()
            phrasings.append(" ".join(wa[: max(1, len(wa) // 2)] + wb[len(wb) // 2 :]))
        out[f"synthetic_{d:04d}"] = phrasings
    return out, cases


def band_table(faq: Faq | None, cases: Cases, entries: list | None = None) -> dict[str, float]:
    """Band figures from ``FaqMatcher.match`` alone (works with matcher packages before ANSWER_ALTERNATIVES)."""
    matcher = FaqMatcher(entries if entries is not None else entries_of(faq or {}))
    n_in = n_oos = top1 = answered = answered_right = shown = shown_right = suggested = 0
    oos_answered = oos_shown = oos_suggested = 0
    for text, expected in cases:
        m = matcher.match(text)
        band = m.band.value
        got = m.candidates[0].entry.id if m.candidates else ""
        is_shown = band in ("answer", "answer_alternatives") and bool(got)
        if expected:
            n_in += 1
            top1 += got == expected
            answered += band == "answer"
            answered_right += band == "answer" and got == expected
            shown += is_shown
            shown_right += is_shown and got == expected
            suggested += band == "suggest"
        else:
            n_oos += 1
            oos_answered += band == "answer"
            oos_shown += is_shown
            oos_suggested += band == "suggest"
    return {
        "top1": top1 / n_in,
        "answered": answered / n_in,
        "ans_prec": answered_right / max(answered, 1),
        "oos_ans": oos_answered / max(n_oos, 1),
        "shown": shown / n_in,
        "shown_prec": shown_right / max(shown, 1),
        "suggested": suggested / n_in,
        "shown+sugg": (shown + suggested) / n_in,
        "oos_shown": oos_shown / max(n_oos, 1),
        "oos_sugg": oos_suggested / max(n_oos, 1),
    }


def targets(data: Path) -> int:
    import core.faq

    print(f"band figures of the target sets; matcher package: {Path(core.faq.__file__).parent}; data: {data}")
    rows = {
        "banking77 k=10 (test)": band_table(*test_set(data, "banking77", 10)),
        "ru_hwu k=10 (test)": band_table(*test_set(data, "ru_hwu", 10)),
        "ru_hwu full (test)": band_table(*test_set(data, "ru_hwu", None)),
    }
    with REALISTIC.open(newline="", encoding="utf-8") as f:
        realistic = [(r["text"].strip(), (r["expected"] or "").strip()) for r in csv.DictReader(f)]
    rows["shipped faq_data + realistic set"] = band_table(None, realistic, load_faq(SHIPPED))
    keys = list(next(iter(rows.values())))
    print("| set | " + " | ".join(keys) + " |")
    print("|" + "---|" * (len(keys) + 1))
    for name, r in rows.items():
        print(f"| {name} | " + " | ".join(fmt(r[k]) for k in keys) + " |")
    return 0


def main(argv: list[str]) -> int:
    args = [a for a in argv if not a.startswith("--")]
    cv = "--cv" in argv
    data = Path(args[0]) if args else DEFAULT_DATA
    if "--fit" in argv:
        return fit_bands(data)
    if "--targets" in argv:
        return targets(data)
    make = cv_set if cv else test_set
    bank10 = make(data, "banking77", 10)
    ru_full = make(data, "ru_hwu", None)
    merged10 = merge(bank10, make(data, "ru_hwu", 10))
    sets = {
        "banking77 k=5": make(data, "banking77", 5),
        "banking77 k=10": bank10,
        "banking77 full": make(data, "banking77", None),
        "ru_hwu k=10": make(data, "ru_hwu", 10),
        "ru_hwu full": ru_full,
        "20 entries (banking77 k=10)": subset(*bank10, 20),
        "20 entries (ru_hwu full)": subset(*ru_full, 20),
        "merged en+ru full (116 entries)": merge(make(data, "banking77", None), ru_full),
        "merged en+ru k=10 (116 entries)": merged10,
        "2,000 entries (merged k=10 + 1,884 synthetic)": with_distractors(merged10),
    }
    print(f"FAQ matching quality, {'train cross-validation' if cv else 'test split'}; data: {data}")
    print(f"machine: {os.cpu_count()} cores; thresholds: defaults")
    head = (
        "set",
        "entries",
        "phrasings",
        "top1",
        "top3",
        "answered",
        "ans_prec",
        "suggested",
        "sugg_hit",
        "ans+sugg",
        "oos_ans",
        "shown",
        "shown_prec",
        "alt",
        "alt_hit",
        "shown+sugg",
        "oos_shown",
        "oos_sugg",
        "p50 ms",
        "p99 ms",
        "load s",
    )
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    runs = [(name, faq, cases, None) for name, (faq, cases) in sets.items()]
    if not cv:
        shipped = load_faq(SHIPPED)
        runs.append(("shipped faq_data + realistic set", {e.id: list(e.questions) for e in shipped}, [], REALISTIC))
    with tempfile.TemporaryDirectory() as tmp:
        for name, faq, cases, given in runs:
            if given is None:
                folder = Path(tmp) / "".join(ch if ch.isalnum() or ch in "-=" else "_" for ch in name)
                folder.mkdir()
                faq_path, cases_path = write(faq, cases, folder)
            else:
                faq_path, cases_path = SHIPPED, given
            entries = load_faq(faq_path)
            t0 = time.perf_counter()
            FaqMatcher(entries)
            load_s = time.perf_counter() - t0
            r = evaluate(faq_path, cases_path)
            both = (r["answered"] or 0) + (r["suggested"] or 0)
            offered = (r["shown"] or 0) + (r["suggested"] or 0)
            row = (
                name,
                str(len(faq)),
                str(sum(map(len, faq.values()))),
                fmt(r["top1"]),
                fmt(r["top3"]),
                fmt(r["answered"]),
                fmt(r["answer_precision"]),
                fmt(r["suggested"]),
                fmt(r["suggest_hit"]),
                fmt(both),
                fmt(r["oos_answered"]),
                fmt(r["shown"]),
                fmt(r["shown_precision"]),
                fmt(r["alternatives"]),
                fmt(r["alternatives_hit"]),
                fmt(offered),
                fmt(r["oos_shown"]),
                fmt(r["oos_suggested"]),
                f"{r['p50_ms']:.2f}",
                f"{r['p99_ms']:.2f}",
                f"{load_s:.2f}",
            )
            print("| " + " | ".join(row) + " |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
