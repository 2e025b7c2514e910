"""FAQ: loading and validation, text normalisation, and the matcher.

The package is split by job; every name other code uses is re-exported here:

- ``core.faq.load``: ``FaqEntry``, ``FaqError``, ``load_faq`` (reading and validating ``faq_data``);
- ``core.faq.normalize``: ``normalize``, ``fix_layout``, stemming and feature extraction;
- ``core.faq.index``: the index structures and ``FaqMatcher`` with ``Band``, ``Candidate``, ``Match``;
- ``core.faq.calibrate``: confidence from similarities and margins, the per-FAQ shift;
- ``core.faq.check``: ``confusable_pairs``.

Matching (see ``FaqMatcher``) is lexical and needs no model: every phrasing is turned into a
TF-IDF vector over light-stemmed words, word pairs and character n-grams (the n-grams catch
typos and inflections; bag-of-features ignores word order).  Term weights are learned from the
FAQ itself at load time: a feature counts more the more it is concentrated in one entry.
An entry is scored by blending the similarity to its centroid with the similarity to its
nearest phrasing, plus naive-Bayes evidence from the entry's term mass.  Unknown long words are
read as the closest FAQ word by ``rapidfuzz`` (typos).  The similarities of the best entry and
its margin over the runner-up entry are mapped to a calibrated confidence in [0, 1], compared to
the answer / suggest thresholds.  The calibration is fitted once on FAQs of 20 to 116 entries
and adjusted per FAQ at load time: the FAQ's own phrasings, each matched against the *other*
entries, show how confident the matcher gets on questions about intents the FAQ lacks, and
answers are made more cautious when that is high (see ``FaqMatcher._unseen_intent_shift``).
Questions made mostly of words the FAQ does not know get no suggestions.  Text typed in the
wrong keyboard layout (``ghbdtn`` for ``привет``) is fixed when that makes more of its words
known to the FAQ.
"""

from __future__ import annotations

from core.faq.calibrate import DEFAULT_ANSWER_THRESHOLD, DEFAULT_SUGGEST_THRESHOLD
from core.faq.check import DEFAULT_CONFUSABLE_THRESHOLD, confusable_pairs
from core.faq.index import Band, Candidate, FaqMatcher, Match
from core.faq.load import FaqEntry, FaqError, load_faq
from core.faq.normalize import fix_layout, normalize

__all__ = [
    "DEFAULT_ANSWER_THRESHOLD",
    "DEFAULT_CONFUSABLE_THRESHOLD",
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
