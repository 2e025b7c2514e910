"""From a customer's text to the query of ``FaqMatcher``: layout choice, typo repair, query features.

``words_for`` normalises the text, re-types it in the other keyboard layout when that makes more
of its words known to the FAQ, and reads long unknown words as the closest FAQ word
(``fix_typos``, by ``rapidfuzz``).  ``query_vector`` turns the words into the query's TF-IDF
features (a named weekend day also counts as "weekends" / "выходные") and their coverage.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence

import numpy as np
from rapidfuzz import fuzz, process

from core.faq.normalize import _features, _stem, expansions, fix_layout, normalize

_TYPO_CUTOFF = 85.0  # rapidfuzz ratio above which an unknown word is read as a known one
_TYPO_MIN_LEN = 5
_TYPO_MAX_WORDS = 4


def typo_targets(words: Iterable[str]) -> list[str]:
    """The FAQ words an unknown word may be read as (long enough to be a typo's target), sorted."""
    return sorted(w for w in words if len(w) >= _TYPO_MIN_LEN - 1)


def words_for(text: str, known: Collection[str], long_words: Sequence[str]) -> list[str]:
    """Normalised words; the keyboard-layout-fixed version when more of its words are ``known``."""
    words = normalize(text).split()
    if not words:
        return words
    n_known = sum(w in known for w in words)
    if n_known == len(words):
        return words
    fixed = normalize(fix_layout(text)).split()
    n_fixed = sum(w in known for w in fixed)
    if n_fixed > n_known:
        words, n_known = fixed, n_fixed
        if n_known == len(words):
            return words
    return fix_typos(words, known, long_words)


def fix_typos(words: list[str], known: Collection[str], long_words: Sequence[str]) -> list[str]:
    """Read a long unknown word as the closest FAQ word (of ``long_words``) when they are nearly the same."""
    out = list(words)
    budget = _TYPO_MAX_WORDS
    for i, w in enumerate(words):
        if budget == 0:
            break
        if len(w) < _TYPO_MIN_LEN or w in known or w.isdigit():
            continue
        budget -= 1
        hit = process.extractOne(w, long_words, scorer=fuzz.ratio, score_cutoff=_TYPO_CUTOFF)
        # a typo changes the length by a letter or so: "привет" is not a misspelt "привезут"
        if hit is not None and abs(len(hit[0]) - len(w)) <= max(1, len(w) // 6):
            out[i] = hit[0]
    return out


def query_vector(
    words: Sequence[str], vocab: Mapping[str, int], weight: np.ndarray, unknown_weight: Mapping[str, float]
) -> tuple[list[int], list[float], float]:
    """Known features of the query (column, unit-normalised weight) and its coverage.

    The coverage is the share of the query vector's length on features the FAQ knows; unknown
    features count with the weight of a feature seen in one entry (``погода`` in a shop FAQ),
    ``unknown_weight`` by feature kind.
    """
    qcols: list[int] = []
    qvals: list[float] = []
    unknown = 0.0
    feats = _features(words)
    for extra in expansions(words):  # "sundays" is also matched as "weekends"
        feats.setdefault("w" + _stem(extra), 1.0)
    for f, c in feats.items():
        col = vocab.get(f)
        if col is not None:
            qcols.append(col)
            qvals.append((1.0 + math.log(c)) * float(weight[col]))
        else:  # weighted as a feature of one entry would be
            unknown += ((1.0 + math.log(c)) * unknown_weight[f[0]]) ** 2
    sq = sum(v * v for v in qvals)
    norm = math.sqrt(sq) or 1.0
    cover = math.sqrt(sq / (sq + unknown)) if sq > 0 else 0.0
    return qcols, [v / norm for v in qvals], cover
