"""FAQ: loading and validation, text normalisation, and the matcher.

The package is split by job; every name other code uses is re-exported here:

- ``core.faq.load``: ``FaqEntry``, ``FaqError``, ``load_faq`` (reading and validating ``faq_data``);
- ``core.faq.normalize``: ``normalize``, ``fix_layout``, stemming and feature extraction;
- ``core.faq.index``: ``FaqMatcher`` (building the index, scoring, the band decision);
- ``core.faq.bands``: ``Band``, ``Candidate``, ``Match`` (also importable from ``core.faq.index``);
- ``core.faq.postings``: the sparse / dense index structures;
- ``core.faq.words``: a text to the query: keyboard-layout choice, typo repair, query features;
- ``core.faq.calibrate``: confidence from similarities and margins, the per-FAQ shift;
- ``core.faq.check``: ``confusable_pairs``.

Matching (see ``FaqMatcher``) is lexical and needs no model: every phrasing is turned into a
TF-IDF vector over light-stemmed words, word pairs and character n-grams (the n-grams catch
typos and inflections; bag-of-features ignores word order).  Term weights are learned from the
FAQ itself at load time: a feature counts more the more it is concentrated in one entry.
An entry is scored by blending the similarity to its centroid with the similarity to its nearest
phrasing, plus naive-Bayes evidence from the entry's term mass.  Unknown long words are read as the
closest FAQ word by ``rapidfuzz`` (typos); a named weekend day is also read as "weekends" /
"выходные".  Text typed in the wrong keyboard layout (``ghbdtn`` for ``привет``) is fixed when
that makes more of its words known to the FAQ.

The similarities of the best entry and its margin over the runner-up entry are mapped to a calibrated
confidence in [0, 1] (``core.faq.calibrate``), which decides the band (``Band``):

- ``ANSWER`` (>= ``answer_threshold``, 0.8): the best entry's answer alone.  This calibration is fitted once
  on FAQs of 20 to 116 entries and made more cautious per FAQ at load time: the FAQ's own phrasings, each
  matched against the *other* entries, show how confident the matcher gets on questions about intents the
  FAQ lacks (see ``FaqMatcher._unseen_intent_shift``).
- ``ANSWER_ALTERNATIVES`` (>= ``alternatives_threshold``, 0.61): the best entry's answer, then "Not it?" with
  ``Match.alternatives`` (up to two runner-ups) and "Talk to a person".
- ``SUGGEST`` (>= ``suggest_threshold``, 0.12): a "did you mean" menu of up to three entries.
- ``NONE``: offer an operator.

Below the answer level the confidence is a second fit that also weighs the raw-score margin, the query
coverage and the question's length; and an off-topic gate sends a question to ``NONE`` unless at least half
of its content words (not function words) are words of the FAQ ("what's the weather", "how are you").
Every setting below the answer band was chosen by cross-validation on train data only
(``bench/faq_quality.py --fit``).
"""

from __future__ import annotations

from core.faq.calibrate import (
    DEFAULT_ALTERNATIVES_THRESHOLD,
    DEFAULT_ANSWER_THRESHOLD,
    DEFAULT_GATE,
    DEFAULT_SUGGEST_THRESHOLD,
)
from core.faq.check import DEFAULT_CONFUSABLE_THRESHOLD, confusable_pairs
from core.faq.index import ANSWER_BANDS, Band, Candidate, FaqMatcher, Match
from core.faq.load import FaqEntry, FaqError, load_faq
from core.faq.normalize import fix_layout, normalize

__all__ = [
    "ANSWER_BANDS",
    "DEFAULT_ALTERNATIVES_THRESHOLD",
    "DEFAULT_ANSWER_THRESHOLD",
    "DEFAULT_CONFUSABLE_THRESHOLD",
    "DEFAULT_GATE",
    "DEFAULT_SUGGEST_THRESHOLD",
    "Band",
    "Candidate",
    "FaqEntry",
    "FaqError",
    "FaqMatcher",
    "Match",
    "confusable_pairs",
    "fix_layout",
    "load_faq",
    "normalize",
]
