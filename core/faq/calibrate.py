"""Calibration of the FAQ matcher: from similarities and margins to a confidence in [0, 1].

``logit`` maps the best entry's similarities and its margin over the competitor to log-odds
(coefficients fitted once on FAQs of 20 to 116 entries); ``confidence`` turns them into the
calibrated confidence that is compared to the answer / suggest thresholds, applying the per-FAQ
shift and the query-coverage penalty.  The per-FAQ shift is estimated at load time by leaving
each sampled phrasing's own entry out (``unseen_logits``, ``unseen_shift``): how confident the
matcher gets on questions about intents the FAQ lacks.  The index side of that estimate (scoring
a batch of phrasings) is ``FaqMatcher._unseen_intent_shift`` in ``core.faq.index``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["DEFAULT_ANSWER_THRESHOLD", "DEFAULT_SUGGEST_THRESHOLD"]

# Calibration: confidence = sigmoid(b . (1, base - base_2, centroid, nearest, centroid - centroid_2))
# where base = ALPHA * centroid + (1 - ALPHA) * nearest similarity of the entry and "_2" is the
# competitor (the runner-up for the best entry).  Only bounded similarities enter, so a lone
# weak overlap in a tiny FAQ stays weak.  Fitted by weighted logistic regression (label: the
# best entry is the right one; out-of-scope queries are negatives) on train cross-validation
# FAQs of 20 to 116 entries and 5 to ~90 phrasings per entry, each FAQ weighted the same.
# (Fitted with char 3-5-grams and bigram weight 0.6; re-checked on train CV with the current
# features: answer precision >= 0.97 on every CV FAQ, so it was kept.)
_CAL = (-3.315, 9.376, 2.399, 2.739, -4.114)
# Per-FAQ shift (see FaqMatcher._unseen_intent_shift): the most confident _UNSEEN_SHARE of simulated
# questions about intents the FAQ lacks must average at most _UNSEEN_CONFIDENCE; chosen on train CV
# (a tail mean is steadier between samples than a quantile; 10 % / 0.6 kept out-of-scope answers
# <= 0.04 on every CV FAQ at the least cost in answered share).
_UNSEEN_SHARE = 0.10
_UNSEEN_CONFIDENCE = 0.6
_UNSEEN_SAMPLE = 500  # phrasings sampled (evenly over the FAQ) for the estimate
_UNSEEN_MIN_ROWS = 50  # smaller FAQs: no estimate, no shift
# Weight of log(query coverage) below the answer band (see FaqMatcher._confidence); 0.5 chosen on
# train CV: it costs <= 0.03 of answered + suggested and drops off-topic questions to no suggestion.
_COVER_WEIGHT = 0.5

DEFAULT_ANSWER_THRESHOLD = 0.8
DEFAULT_SUGGEST_THRESHOLD = 0.08


_ANSWER_LOGIT = math.log(DEFAULT_ANSWER_THRESHOLD / (1.0 - DEFAULT_ANSWER_THRESHOLD))
_SUGGEST_LOGIT = math.log(DEFAULT_SUGGEST_THRESHOLD / (1.0 - DEFAULT_SUGGEST_THRESHOLD))
_MAX_SHIFT = -0.75 * (_ANSWER_LOGIT - _SUGGEST_LOGIT)  # keeps the confidence increasing in the logit


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def logit(c1: float, n1: float, c2: float, n2: float, alpha: float) -> float:
    """Uncalibrated-for-this-FAQ log-odds that an entry is right.

    ``c1`` / ``n1``: its centroid / nearest-phrasing similarity; ``c2`` / ``n2``: the competitor's
    (0 when there is none); ``alpha``: the matcher's weight of the centroid similarity in its score.
    """
    margin = alpha * (c1 - c2) + (1.0 - alpha) * (n1 - n2)
    b = _CAL
    return b[0] + b[1] * margin + b[2] * c1 + b[3] * n1 + b[4] * (c1 - c2)


def confidence(x: float, shift: float, cover: float = 1.0) -> float:
    """Calibrated confidence from the log-odds ``x``, the per-FAQ ``shift`` (<= 0) and the query coverage.

    Two adjustments of ``x``, each fading linearly between the default suggest and answer
    thresholds, so the confidence stays increasing in ``x``: the per-FAQ shift applies in full
    from the answer threshold up, so it moves answers, not suggestions; the coverage penalty
    ``_COVER_WEIGHT * log(cover)`` applies in full from the suggest threshold down, so a question
    mostly made of words the FAQ lacks is not offered suggestions.
    """
    lo, hi = _SUGGEST_LOGIT, _ANSWER_LOGIT
    up = min(1.0, max(0.0, (x - lo) / (hi - lo)))
    return _sigmoid(x + shift * up + _COVER_WEIGHT * math.log(max(cover, 1e-3)) * (1.0 - up))


def estimates_shift(n_entries: int, n_rows: int) -> bool:
    """Whether the FAQ is large enough for a per-FAQ shift estimate (else the shift is 0)."""
    return not (n_entries < 3 or n_rows < _UNSEEN_MIN_ROWS)


def unseen_sample(n_rows: int) -> np.ndarray:
    """The phrasing rows (spread evenly over the FAQ) whose own entry is left out for the estimate."""
    return np.unique(np.linspace(0, n_rows - 1, min(_UNSEEN_SAMPLE, n_rows)).astype(np.int64))


def unseen_logits(
    scores: np.ndarray,
    cent: np.ndarray,
    near: np.ndarray,
    norm: np.ndarray,
    own: np.ndarray,
    entry_logit: Callable[[int, int, np.ndarray, np.ndarray], float],
) -> list[float]:
    """Log-odds of the best *other* entry for each of a batch of phrasings used as queries.

    ``scores`` / ``cent`` / ``near``: (phrasing x entry) combined score, centroid and
    nearest-phrasing similarity of the phrasings with their own-entry-only features dropped;
    ``norm``: the length of each such query vector (0: nothing left, skipped); ``own``: each
    phrasing's entry, masked out of ``scores`` here; ``entry_logit``: ``FaqMatcher._logit``.
    """
    scores[np.arange(len(own)), own] = -np.inf
    out = []
    for k in range(len(own)):
        if norm[k] <= 0.0:
            continue
        top = np.argpartition(-scores[k], 1)[:2]
        i, j = (int(top[0]), int(top[1])) if scores[k, top[0]] >= scores[k, top[1]] else (int(top[1]), int(top[0]))
        out.append(entry_logit(i, j, cent[k], near[k]))
    return out


def unseen_shift(logits: Sequence[float]) -> float:
    """Per-FAQ calibration shift (<= 0) from the leave-own-entry-out log-odds of sampled phrasings.

    When the most confident ``_UNSEEN_SHARE`` of them average above ``_UNSEEN_CONFIDENCE`` (many
    phrasings per entry make near-paraphrases in neighbouring entries likely), the log-odds of
    this FAQ's answers are lowered by the excess (see ``confidence``); never raised, and never by
    more than ``_MAX_SHIFT``.
    """
    if not logits:
        return 0.0
    top = np.sort(np.asarray(logits))[-max(1, round(_UNSEEN_SHARE * len(logits))) :]
    shift = math.log(_UNSEEN_CONFIDENCE / (1.0 - _UNSEEN_CONFIDENCE)) - float(top.mean())
    return min(0.0, max(shift, _MAX_SHIFT))
