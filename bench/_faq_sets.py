"""Datasets of the FAQ-quality bench (``bench/faq_quality.py``): the FAQs and labelled queries it measures on.

Reads the public intent data of ``shared/faq_eval`` (BANKING77 en, HWU64 machine-translated ru) and builds,
following its README protocol, the test-split sets, the train-only cross-validation sets, the shipped-sized
FAQs of ``--fit`` and the merged and reduced variants; writes one set as the FAQ file and case file that
``core.faq_eval.evaluate`` reads. Also holds the cell format shared by the bench's tables. The matcher package
(``core.faq``) is the one ``bench/faq_quality.py`` put first on the path (``--code=DIR`` or this tree).
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

import yaml

from core.faq import FaqEntry, normalize

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "faq_eval"
SHIPPED = ROOT / "faq_data"
REALISTIC = ROOT / "tests" / "data" / "faq_realistic.csv"

Faq = dict[str, list[str]]
Cases = list[tuple[str, str]]


def read_rows(data: Path, ds: str, split: str) -> list[tuple[str, str]]:
    with (data / ds / f"{split}.csv").open(newline="", encoding="utf-8") as f:
        return [(r["text"].strip(), r["category"].strip()) for r in csv.DictReader(f) if r["text"].strip()]


def by_category(rows: list[tuple[str, str]]) -> Faq:
    out: Faq = {}
    for text, cat in rows:
        out.setdefault(cat, []).append(text)
    return out


def sample_faq(cats: Faq, k: int | None, seed: int = 0) -> Faq:
    """k phrasings per category (all when k is None), out-of-scope categories dropped."""
    rng = random.Random(seed)
    names = sorted(cats)
    faq = {}
    for c in names:
        texts = cats[c]
        faq[c] = list(texts) if k is None or k >= len(texts) else rng.sample(texts, k)
    dropped = {c for i, c in enumerate(names) if i % 5 == 4}
    return {c: v for c, v in faq.items() if c not in dropped}


def label(queries: list[tuple[str, str]], faq: Faq) -> Cases:
    return [(t, c if c in faq else "") for t, c in queries]


def test_set(data: Path, ds: str, k: int | None) -> tuple[Faq, Cases]:
    train = read_rows(data, ds, "train")
    faq = sample_faq(by_category(train), k)
    test = read_rows(data, ds, "test")
    if ds == "ru_hwu":
        seen = {normalize(t) for t, _ in train}
        test = [(t, c) for t, c in test if normalize(t) not in seen]
    return faq, label(test, faq)


def cv_set(data: Path, ds: str, k: int | None, seed: int = 1, max_queries: int = 3000) -> tuple[Faq, Cases]:
    """Train-only split: per category, k rows (70 % for full) for the FAQ, the rest as queries."""
    cats = by_category(read_rows(data, ds, "train"))
    rng = random.Random(seed)
    faq_part: Faq = {}
    held: list[tuple[str, str]] = []
    for c in sorted(cats):
        texts = list(cats[c])
        rng.shuffle(texts)
        cut = max(1, int(len(texts) * 0.7)) if k is None else min(k, max(1, len(texts) - 1))
        faq_part[c] = texts[:cut]
        held += [(t, c) for t in texts[cut:]]
    faq = sample_faq(faq_part, k)
    rng.shuffle(held)
    return faq, label(held[:max_queries], faq)


def subset(faq: Faq, cases: Cases, n: int, seed: int = 3) -> tuple[Faq, Cases]:
    keep = set(random.Random(seed).sample(sorted(faq), n))
    sub = {c: v for c, v in faq.items() if c in keep}
    return sub, [(t, c if c in keep else "") for t, c in cases]


def merge(a: tuple[Faq, Cases], b: tuple[Faq, Cases], max_each: int = 1500) -> tuple[Faq, Cases]:
    return {**a[0], **b[0]}, a[1][:max_each] + b[1][:max_each]


def write(faq: Faq, cases: Cases, folder: Path) -> tuple[Path, Path]:
    faq_path = folder / "faq.yaml"
    items = [{"id": c, "questions": v, "answer": f"answer {c}"} for c, v in faq.items()]
    faq_path.write_text(yaml.safe_dump(items, allow_unicode=True, sort_keys=False), encoding="utf-8")
    cases_path = folder / "cases.csv"
    with cases_path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["text", "expected"])
        w.writerows(cases)
    return faq_path, cases_path


def small_faq(data: Path, ds: str, n_entries: int, k: int, seed: int, per_cat: int = 15) -> tuple[Faq, Cases]:
    """A FAQ the size of the shipped one from train: ``n_entries`` random intents x ``k`` phrasings.

    Queries: ``per_cat`` other train rows of each FAQ intent, and as many of ``n_entries // 4``
    further intents (missing from the FAQ: out of scope).
    """
    cats = by_category(read_rows(data, ds, "train"))
    rng = random.Random(seed)
    names = sorted(c for c in cats if len(cats[c]) >= k + 3)
    chosen = rng.sample(names, n_entries + n_entries // 4)
    faq: Faq = {}
    cases: Cases = []
    for i, c in enumerate(chosen):
        texts = list(cats[c])
        rng.shuffle(texts)
        if i < n_entries:
            faq[c] = texts[:k]
            cases += [(t, c) for t in texts[k : k + per_cat]]
        else:
            cases += [(t, "") for t in texts[:per_cat]]
    return faq, cases


def entries_of(faq: Faq) -> list[FaqEntry]:
    return [FaqEntry(c, tuple(v), {"*": f"answer {c}"}) for c, v in faq.items()]


def fmt(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.3f}"
