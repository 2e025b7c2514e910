"""FAQ authoring check: ``confusable_pairs`` finds phrasings of different entries the matcher will confuse."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from rapidfuzz import fuzz, process

from core.faq.index import FaqMatcher
from core.faq.load import FaqEntry
from core.faq.normalize import normalize

__all__ = ["DEFAULT_CONFUSABLE_THRESHOLD", "confusable_pairs"]

DEFAULT_CONFUSABLE_THRESHOLD = 0.75


def confusable_pairs(
    entries: Sequence[FaqEntry] | FaqMatcher, threshold: float | None = None
) -> list[tuple[str, str, str, str, float]]:
    """Phrasings of *different* entries so alike that the matcher will confuse them.

    Returns ``(entry_id_a, phrasing_a, entry_id_b, phrasing_b, similarity)``, most similar first.
    The similarity is the larger of the matcher's TF-IDF cosine of the two phrasings and the
    rapidfuzz ``token_sort_ratio`` / 100 of their normalised texts (so word-order swaps and
    typos count as alike); pairs at or above ``threshold`` (default 0.75) are reported.
    """
    threshold = DEFAULT_CONFUSABLE_THRESHOLD if threshold is None else threshold
    matcher = entries if isinstance(entries, FaqMatcher) else FaqMatcher(entries)
    rows: list[tuple[int, str]] = [
        (e, q) for e, entry in enumerate(matcher.entries) for q in entry.questions if normalize(q)
    ]
    n_rows = len(rows)
    found: dict[tuple[int, int], float] = {}
    for i, (e, q) in enumerate(rows):
        norm = normalize(q)
        qcols, qvals, _ = matcher._query(norm.split())
        (sims,) = matcher._phr.dot(qcols, qvals, n_rows)
        cands = set(np.nonzero(sims >= threshold)[0].tolist())
        # word-order / typo variants that the cosine may under-rate
        for j_text, score, j in process.extract(
            norm, matcher._texts, scorer=fuzz.token_sort_ratio, score_cutoff=threshold * 100, limit=None
        ):
            del j_text, score
            cands.add(j)
        for j in cands:
            if j <= i or rows[j][0] == e:
                continue
            other = normalize(rows[j][1])
            sim = max(float(sims[j]), fuzz.token_sort_ratio(norm, other) / 100.0)
            if sim >= threshold:
                found[(i, j)] = min(sim, 1.0)
    out = [
        (matcher.entries[rows[i][0]].id, rows[i][1], matcher.entries[rows[j][0]].id, rows[j][1], round(s, 4))
        for (i, j), s in found.items()
    ]
    out.sort(key=lambda t: (-t[4], t[0], t[2], t[1], t[3]))
    return out
