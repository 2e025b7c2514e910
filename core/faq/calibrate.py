"""Calibration of the FAQ matcher: from similarities and margins to a confidence in [0, 1].

``logit`` maps the best entry's similarities and its margin over the competitor to log-odds
(coefficients fitted once on FAQs of 20 to 116 entries); ``confidence`` turns them into the
calibrated confidence that is compared to the answer / alternatives / suggest thresholds,
applying the per-FAQ shift and the query coverage.  Above the answer level (0.8) the confidence is
the one the answer band was fitted with; below it, a second fit (``_BAND``) also weighs the raw
score margin, the query coverage and the question's length, which separates right from wrong best
entries better in the middle range where "answer with alternatives" and "did you mean" are decided
(see ``confidence``).
``content_known`` is the off-topic gate's measure: the share of a question's content words the
FAQ knows.

The per-FAQ shift is estimated at load time by leaving each sampled phrasing's own entry out
(``unseen_logits``, ``unseen_shift``): how confident the matcher gets on questions about intents
the FAQ lacks.  The index side of that estimate (scoring a batch of phrasings) is
``FaqMatcher._unseen_intent_shift`` in ``core.faq.index``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

__all__ = [
    "DEFAULT_ALTERNATIVES_THRESHOLD",
    "DEFAULT_ANSWER_THRESHOLD",
    "DEFAULT_GATE",
    "DEFAULT_SUGGEST_THRESHOLD",
]

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
# Weight of log(query coverage) below the answer band in the earlier model (``confidence`` without a margin; the
# matcher now always passes one); 0.5 was chosen on train CV.
_COVER_WEIGHT = 0.5

# Below the answer level the confidence is refitted (``_BAND``): log-odds = b.(1, x', m, log(cover), log(n), m log(n)),
# where x' is the log-odds above with the per-FAQ shift (no coverage term), m the best entry's raw-score margin over
# the runner-up (naive-Bayes evidence included, clipped to +-_MARGIN_CLIP), cover the query coverage and n the number
# of words: a margin means little in a one- or two-word question (one entry merely has more phrasings with that word).
# Fitted by weighted logistic regression (label: the best entry is right; off-topic and missing-intent questions are
# negatives) on the questions that pass the off-topic gate and stay below the answer level, over train
# cross-validation FAQs: 36 entries x 5 or 10 phrasings from BANKING77 / HWU64-ru train, the public k=5 / k=10 / full
# CV FAQs, the shipped FAQ's phrasings left out one at a time, entries left out one at a time, and off-topic questions
# from HWU64-ru / BANKING77 train; each FAQ weighted the same (``bench/faq_quality.py --fit``).
_BAND = (0.155, 0.549, -0.757, 3.785, -0.042, 1.566)
_MARGIN_CLIP = 2.0
# The off-topic gate: below the answer band, a question is matched (suggestions or an answer with alternatives) only
# when at least DEFAULT_GATE of its content words (``content_known``) are words of the FAQ.
DEFAULT_GATE = 0.5

# Thresholds on the confidence.  The answer threshold is the earlier one (unchanged).  Chosen on the same train CV
# with ``bench/faq_quality.py --fit``, for each gate in 0 ... 2/3: the alternatives threshold is the lowest at which
# answer texts are right >= 93 % of the time on average over the shipped-sized CV FAQs and off-topic questions get
# an answer text <= 3 % of the time on each off-topic set; the suggest threshold minimises (off-topic questions
# offered anything) + 2 x (in-scope questions offered nothing); the gate with the least such cost is kept (ties
# within 0.005: the one offering off-topic questions least).
DEFAULT_ANSWER_THRESHOLD = 0.8
DEFAULT_ALTERNATIVES_THRESHOLD = 0.61
DEFAULT_SUGGEST_THRESHOLD = 0.12

# The range over which the per-FAQ shift and the coverage penalty fade (fixed: the answer band's fit depends on it).
_ANSWER_LOGIT = math.log(0.8 / 0.2)
_SUGGEST_LOGIT = math.log(0.08 / 0.92)
_MAX_SHIFT = -0.75 * (_ANSWER_LOGIT - _SUGGEST_LOGIT)  # keeps the confidence increasing in the logit
_BELOW_ANSWER = 0.799999  # still below 0.8 after the matcher rounds scores to 6 digits


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


def shifted(x: float, shift: float) -> float:
    """The log-odds ``x`` with the per-FAQ ``shift`` (<= 0), which applies in full from the answer level up."""
    up = min(1.0, max(0.0, (x - _SUGGEST_LOGIT) / (_ANSWER_LOGIT - _SUGGEST_LOGIT)))
    return x + shift * up


def confidence(x: float, shift: float, cover: float = 1.0, margin: float | None = None, words: int = 1) -> float:
    """Calibrated confidence from the log-odds ``x``, the per-FAQ ``shift`` (<= 0), the coverage and the raw margin.

    At or above the answer level (0.8) it is the answer band's fit: the per-FAQ shift applies in
    full there, so it moves answers, not suggestions.  Below it, with ``margin`` (the entry's raw
    score minus its competitor's) given, it is the ``_BAND`` fit for a question of ``words`` words,
    capped just under 0.8 so the answer band is exactly what the answer fit says.  Without
    ``margin`` (the earlier model), the coverage penalty ``_COVER_WEIGHT * log(cover)`` fades in
    linearly from the answer level down to 0.08.  Either way the confidence is increasing in ``x``.
    """
    z = shifted(x, shift)
    if margin is not None:
        return band_confidence(z, margin, cover, words)
    if z >= _ANSWER_LOGIT:
        return _sigmoid(z)
    lo, hi = _SUGGEST_LOGIT, _ANSWER_LOGIT
    up = min(1.0, max(0.0, (x - lo) / (hi - lo)))
    return _sigmoid(z + _COVER_WEIGHT * math.log(max(cover, 1e-3)) * (1.0 - up))


def band_features(z: float, margin: float, cover: float, words: int) -> tuple[float, ...]:
    """The ``_BAND`` fit's inputs: shifted log-odds, clipped raw margin, log coverage, log words, margin x log words."""
    m = min(_MARGIN_CLIP, max(-_MARGIN_CLIP, margin))
    lw = math.log(max(words, 1))
    return z, m, math.log(max(cover, 1e-3)), lw, m * lw


def band_confidence(z: float, margin: float, cover: float, words: int, coef: Sequence[float] = _BAND) -> float:
    """Confidence from the shifted log-odds ``z``: the answer fit from 0.8 up, the ``coef`` fit (capped) below."""
    if z >= _ANSWER_LOGIT:
        return _sigmoid(z)
    f = band_features(z, margin, cover, words)
    return min(_sigmoid(coef[0] + sum(c * v for c, v in zip(coef[1:], f, strict=True))), _BELOW_ANSWER)


def answer_level(z: float) -> bool:
    """Whether the shifted log-odds ``z`` reach the answer fit's level (confidence >= 0.8)."""
    return z >= _ANSWER_LOGIT


# General function words of English and Russian (pronouns, auxiliaries, articles, prepositions, conjunctions,
# particles, question words, politeness).  Used only by the off-topic gate to tell content words from the rest.
_STOP_TEXT = """
    a an the and or but if then so than that this these those there here it its i me my mine we us our you your
    yours u ur he him his she her they them their what which who whom whose when where why how is am are was were be
    been being do does did done doing have has had having will would shall should can could may might must to of in
    on at by for with about from into onto over under up down out off as just not no yes dont cant wont isnt didnt
    doesnt im ive id ill s t d ll m re ve please pls plz hi hello hey ok okay thanks thank some any all also still
    again too very really though well now get got give let tell know need want like guys anyone someone something
    anything
    а и но или да нет не ни же ли бы то это этот эта эти тот та те там тут здесь вот я мне меня мой моя мое мои ты
    тебе тебя твой твоя вы вам вас ваш ваша ваше ваши мы нам нас наш наша он она оно они его ее их им ему ей себя
    свой своя свои что чтобы как где когда куда откуда почему зачем кто какой какая какое какие сколько в во на с со
    к ко по за из от до у о об при про для без над под через есть был была было были быть буду будет будут уже еще
    вообще просто очень можно нужно надо пожалуйста привет здравствуйте спасибо ну так тоже также только все всех
    весь вся всего ок
"""
_STOP_WORDS = frozenset(_STOP_TEXT.split())


def content_known(words: Sequence[str], known: Callable[[str], bool]) -> float:
    """Share of the content words of ``words`` (not function words, not numbers) that ``known`` accepts; 0 if none.

    A question with no content words at all ("how are you") carries nothing to match on.
    """
    content = [w for w in words if w not in _STOP_WORDS and not w.isdigit()]
    if not content:
        return 0.0
    return sum(1 for w in content if known(w)) / len(content)


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
