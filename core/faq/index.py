"""``FaqMatcher``: building the index, scoring and the match bands.

TF-IDF vectors over the features of ``core.faq.normalize``, entry scores blending centroid and
nearest-phrasing similarity with naive-Bayes evidence (the ``core.faq`` docstring has the
overview); the best entry's similarities become a confidence through ``core.faq.calibrate``.
The index structures are in ``core.faq.postings``; a text becomes a query in ``core.faq.words``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.faq import calibrate
from core.faq.bands import ANSWER_BANDS, Band, Candidate, Match
from core.faq.calibrate import (
    DEFAULT_ALTERNATIVES_THRESHOLD,
    DEFAULT_ANSWER_THRESHOLD,
    DEFAULT_GATE,
    DEFAULT_SUGGEST_THRESHOLD,
)
from core.faq.load import FaqEntry
from core.faq.normalize import _W_BIGRAM, _W_CHAR, _W_WORD, _features, _stem, normalize
from core.faq.postings import _batch_dot, _DenseCommon, _Postings, _ranges
from core.faq.words import fix_typos, query_vector, typo_targets, words_for

__all__ = ["ANSWER_BANDS", "Band", "Candidate", "FaqMatcher", "Match"]

# Scoring settings, chosen by cross-validation on the *train* splits of BANKING77 and HWU64-ru
# (FAQ built from one part of train, queries from the rest); see bench/faq_quality.py.
_ALPHA = 0.75  # weight of the entry-centroid similarity vs the nearest-phrasing similarity
_NB_MIX = 1.0  # weight of the multinomial naive-Bayes evidence (entry-level term statistics)
_NB_SMOOTH = 0.05  # additive smoothing of the naive-Bayes term weights
_TOP = 3  # candidates returned
_MARGIN_ALONE = 1.0  # raw-score margin of the only entry of a one-entry FAQ (no competitor)


@dataclass(frozen=True, slots=True)
class _Evidence:
    """What ``FaqMatcher.match`` decides from (see ``FaqMatcher._evidence``)."""

    top: list[int]  # up to _TOP + 1 entries, best first
    scores: np.ndarray  # combined raw score of every entry
    cent: np.ndarray  # centroid similarity of every entry
    near: np.ndarray  # nearest-phrasing similarity of every entry
    cover: float  # share of the query vector on features the FAQ knows
    content: float  # share of the content words the FAQ knows (the off-topic gate)
    words: int  # words of the query (after layout and typo repair)


class FaqMatcher:
    """Find the FAQ entries that best match a customer's text; see the ``core.faq`` package docstring."""

    def __init__(
        self,
        entries: Sequence[FaqEntry],
        answer_threshold: float | None = None,
        suggest_threshold: float | None = None,
        alternatives_threshold: float | None = None,
        gate: float | None = None,
    ) -> None:
        """``alternatives_threshold`` (default ``DEFAULT_ALTERNATIVES_THRESHOLD``, moved into
        [suggest_threshold, answer_threshold] when those are set around it) must lie between the other two;
        ``gate`` (default ``DEFAULT_GATE``; 0 turns it off) is the share of a question's content words
        the FAQ must know for it to get an answer with alternatives or suggestions."""
        self.entries: list[FaqEntry] = list(entries)
        self.answer_threshold = DEFAULT_ANSWER_THRESHOLD if answer_threshold is None else answer_threshold
        self.suggest_threshold = DEFAULT_SUGGEST_THRESHOLD if suggest_threshold is None else suggest_threshold
        if self.suggest_threshold > self.answer_threshold:
            raise ValueError("suggest_threshold must not exceed answer_threshold")
        if alternatives_threshold is None:
            alternatives_threshold = min(
                max(DEFAULT_ALTERNATIVES_THRESHOLD, self.suggest_threshold), self.answer_threshold
            )
        elif not self.suggest_threshold <= alternatives_threshold <= self.answer_threshold:
            raise ValueError("alternatives_threshold must lie between suggest_threshold and answer_threshold")
        self.alternatives_threshold = alternatives_threshold
        self.gate = DEFAULT_GATE if gate is None else gate
        self._build()

    # -- index ------------------------------------------------------------------------------

    def _build(self) -> None:
        entries = self.entries
        n_entries = len(entries)
        vocab: dict[str, int] = {}
        words: set[str] = set()
        p_cols: list[int] = []
        p_tf: list[float] = []
        p_rows: list[int] = []
        owner: list[int] = []
        texts: list[str] = []
        for e, entry in enumerate(entries):
            for q in entry.questions:
                norm = normalize(q)
                if not norm:
                    continue
                toks = norm.split()
                words.update(toks)
                row = len(owner)
                owner.append(e)
                texts.append(norm)
                feats = _features(toks)
                p_cols.extend([vocab.setdefault(f, len(vocab)) for f in feats])
                p_tf.extend(feats.values())
                p_rows.extend([row] * len(feats))
        self._vocab = vocab
        self._words = frozenset(words)
        self._long_words = typo_targets(words)
        self._texts = texts
        n_rows = len(owner)
        n_feats = len(vocab)
        owner_a = np.asarray(owner, dtype=np.int64)
        self._owner = owner_a
        cols = np.asarray(p_cols, dtype=np.int64)
        rows = np.asarray(p_rows, dtype=np.int64)
        tf = np.asarray(p_tf, dtype=np.float64)
        # Entry frequency: in how many entries a feature occurs (idf at the level of entries).
        key = owner_a[rows] * n_feats + cols
        ukey, inv = np.unique(key, return_inverse=True)
        ef = np.bincount(ukey % n_feats if n_feats else ukey, minlength=n_feats)
        group = np.empty(n_feats)
        for f, col in vocab.items():
            group[col] = _W_WORD if f[0] == "w" else _W_BIGRAM if f[0] == "b" else _W_CHAR
        self._ef = ef
        self._weight = (np.log((1.0 + n_entries) / (1.0 + ef)) + 1.0) * group
        rare = math.log((1.0 + n_entries) / 2.0) + 1.0
        self._unknown_weight = {"w": rare * _W_WORD, "b": rare * _W_BIGRAM, "c": rare * _W_CHAR}
        # Phrasing vectors: sublinear tf * weight, L2-normalised.
        vals = (1.0 + np.log(tf)) * self._weight[cols]
        norms = np.sqrt(np.bincount(rows, weights=vals * vals, minlength=n_rows))
        vals = vals / np.maximum(norms[rows], 1e-12)
        self._phr = _Postings.build(cols, rows, [vals], n_feats)
        # Entry sums of phrasing vectors -> centroid (L2-normalised) and naive-Bayes weights.
        sums = np.bincount(inv, weights=vals)
        e_rows = ukey // max(n_feats, 1)
        e_cols = ukey % max(n_feats, 1)
        c_norm = np.sqrt(np.bincount(e_rows, weights=sums * sums, minlength=n_entries))
        cent = sums / np.maximum(c_norm[e_rows], 1e-12)
        nb = np.log1p(sums / _NB_SMOOTH)
        mass = np.bincount(e_rows, weights=sums, minlength=n_entries)
        self._nb_norm = np.log1p(mass / (_NB_SMOOTH * max(n_feats, 1)))
        self._ent = _Postings.build(e_cols, e_rows, [cent, nb], n_feats)
        # Phrasings are grouped by entry: entry e owns rows starts[e]:starts[e+1].
        counts = np.bincount(owner_a, minlength=n_entries)
        self._has_rows = counts > 0
        self._starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        self._shift = 0.0
        self._shift = self._unseen_intent_shift(cols, rows, vals, ef)

    def _unseen_intent_shift(self, cols: np.ndarray, rows: np.ndarray, vals: np.ndarray, ef: np.ndarray) -> float:
        """Per-FAQ calibration shift (<= 0), estimated by leaving each sampled phrasing's own entry out.

        A sampled phrasing, stripped of the features only its own entry has and matched against the
        *other* entries, is a question about an intent the FAQ does not cover.  When the most
        confident of them are too confident (many phrasings per entry make near-paraphrases in
        neighbouring entries likely), the log-odds of this FAQ's answers are lowered (see
        ``calibrate.unseen_shift`` and ``_confidence``); never raised.
        """
        n_rows = len(self._owner)
        if not calibrate.estimates_shift(len(self.entries), n_rows):
            return 0.0
        order = np.argsort(rows, kind="stable")
        r_ptr = np.zeros(n_rows + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=n_rows), out=r_ptr[1:])
        r_cols, r_vals = cols[order], vals[order]
        sample = calibrate.unseen_sample(n_rows)
        dense = {"phr": _DenseCommon.build(self._phr, n_rows), "ent": _DenseCommon.build(self._ent, len(self.entries))}
        shared = ef > 1  # features of more than one entry: the ones a left-out phrasing keeps
        logits: list[float] = []
        for chunk in np.array_split(sample, max(1, len(sample) // 64)):
            scores, cent, near, norm = self._unseen_components(chunk, r_ptr, r_cols, r_vals, shared, dense)
            logits += calibrate.unseen_logits(scores, cent, near, norm, self._owner[chunk], self._logit)
        return calibrate.unseen_shift(logits)

    def _unseen_components(
        self,
        chunk: np.ndarray,
        r_ptr: np.ndarray,
        r_cols: np.ndarray,
        r_vals: np.ndarray,
        shared: np.ndarray,
        dense: dict[str, _DenseCommon],
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(combined score, centroid similarity, nearest-phrasing similarity) of every entry for each
        phrasing row in ``chunk`` used as a query with only its ``shared`` features, and the query norms.

        The same arithmetic as ``_components_q``, for a batch of queries at once.
        """
        n_rows, n_entries = len(self._owner), len(self.entries)
        lens = r_ptr[chunk + 1] - r_ptr[chunk]
        q_of = np.repeat(np.arange(len(chunk)), lens)
        pos = _ranges(r_ptr[chunk], lens)
        c, v, q_of = r_cols[pos], r_vals[pos], q_of
        keep = shared[c]
        c, v, q_of = c[keep], v[keep], q_of[keep]
        norm = np.sqrt(np.bincount(q_of, weights=v * v, minlength=len(chunk)))
        v = v / np.maximum(norm[q_of], 1e-12)
        qsum = np.bincount(q_of, weights=v, minlength=len(chunk))

        (phr,) = _batch_dot(self._phr, dense["phr"], c, v, q_of, len(chunk), n_rows)
        cent, nb = _batch_dot(self._ent, dense["ent"], c, v, q_of, len(chunk), n_entries)
        near = np.zeros((len(chunk), n_entries))
        near[:, self._has_rows] = np.maximum.reduceat(phr, self._starts[self._has_rows], axis=1)
        safe = np.where(qsum > 0, qsum, 1.0)[:, None]
        scores = _ALPHA * cent + (1.0 - _ALPHA) * near + _NB_MIX * (nb - safe * self._nb_norm) / safe
        return scores, cent, near, norm

    # -- scoring ----------------------------------------------------------------------------

    def _query(self, words: Sequence[str]) -> tuple[list[int], list[float], float]:
        """Known features of the query (column, unit-normalised weight) and its coverage.

        The coverage is the share of the query vector's length on features the FAQ knows; unknown
        features count with the weight of a feature seen in one entry (``погода`` in a shop FAQ).
        """
        return query_vector(words, self._vocab, self._weight, self._unknown_weight)

    def _scores(self, words: Sequence[str]) -> np.ndarray:
        """Combined raw score of every entry (higher is better)."""
        return self._components(words)[0]

    def _components(self, words: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        """(combined score, centroid similarity, nearest-phrasing similarity) of every entry, query coverage."""
        qcols, qvals, cover = self._query(words)
        return (*self._components_q(qcols, qvals), cover)

    def _components_q(self, qcols: list[int], qvals: list[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n_entries = len(self.entries)
        if not qcols:
            z = np.zeros(n_entries)
            return z, z, z
        (phr,) = self._phr.dot(qcols, qvals, len(self._owner))
        cent, nb = self._ent.dot(qcols, qvals, n_entries)
        nearest = np.zeros(n_entries)
        if len(phr):
            red = np.maximum.reduceat(phr, self._starts[self._has_rows])
            nearest[self._has_rows] = red
        base = _ALPHA * cent + (1.0 - _ALPHA) * nearest
        qsum = sum(qvals)
        return base + _NB_MIX * (nb - qsum * self._nb_norm) / qsum, cent, nearest

    def _words_for(self, text: str) -> list[str]:
        """Normalised words; the keyboard-layout-fixed version when more of its words are known."""
        return words_for(text, self._words, self._long_words)

    def _fix_typos(self, words: list[str]) -> list[str]:
        """Read a long unknown word as the closest FAQ word when they are nearly the same."""
        return fix_typos(words, self._words, self._long_words)

    def _logit(self, i: int, j: int, cent: np.ndarray, near: np.ndarray) -> float:
        """Uncalibrated-for-this-FAQ log-odds that entry ``i`` is right, given the competitor ``j`` (-1: none)."""
        c1, n1 = float(cent[i]), float(near[i])
        c2, n2 = (float(cent[j]), float(near[j])) if j >= 0 else (0.0, 0.0)
        return calibrate.logit(c1, n1, c2, n2, _ALPHA)

    def _confidence(
        self,
        i: int,
        j: int,
        cent: np.ndarray,
        near: np.ndarray,
        cover: float = 1.0,
        margin: float | None = None,
        words: int = 1,
    ) -> float:
        """Calibrated confidence that entry ``i`` is right, given the competitor ``j`` (-1: none).

        The log-odds of ``_logit``, adjusted by the per-FAQ shift, the query coverage and (below the
        answer level) the raw-score ``margin`` of ``i`` over ``j`` and the question's length in
        ``words``; see ``calibrate.confidence``.
        """
        return calibrate.confidence(self._logit(i, j, cent, near), self._shift, cover, margin, words)

    def _known_word(self, word: str) -> bool:
        return "w" + _stem(word) in self._vocab

    def _evidence(self, text: str) -> _Evidence | None:
        """Everything the decision is made from: the ranked entries and their similarities, coverage, gate share."""
        words = self._words_for(text)
        n_entries = len(self.entries)
        if not words or n_entries == 0:
            return None
        scores, cent, near, cover = self._components(words)
        k = min(n_entries, _TOP + 1)
        top = np.argpartition(-scores, k - 1)[:k] if k < n_entries else np.arange(n_entries)
        top = [int(e) for e in top[np.argsort(-scores[top], kind="stable")]]
        if cent[top[0]] <= 0.0 and near[top[0]] <= 0.0:
            return None
        content = calibrate.content_known(words, self._known_word)
        return _Evidence(top, scores, cent, near, cover, content, len(words))

    def _candidates(self, ev: _Evidence) -> list[Candidate]:
        top, scores, cent, near = ev.top, ev.scores, ev.cent, ev.near
        runner_up = top[1] if len(top) > 1 else -1
        cands: list[Candidate] = []
        for rank, e in enumerate(top[:_TOP]):
            if rank and cent[e] <= 0.0 and near[e] <= 0.0:
                break
            # the best entry is judged against the runner-up, the others against the best
            other = runner_up if rank == 0 else top[0]
            margin = float(scores[e] - scores[other]) if other >= 0 else _MARGIN_ALONE
            conf = self._confidence(e, other, cent, near, ev.cover, margin, ev.words)
            if cands:  # keep the confidences in rank order
                conf = min(conf, cands[-1].score)
            cands.append(Candidate(self.entries[e], round(conf, 6)))
        return cands

    def _band(self, best: float, content: float) -> Band:
        if best >= self.answer_threshold:
            return Band.ANSWER
        if content < self.gate:  # mostly words the FAQ does not know: nothing worth offering
            return Band.NONE
        if best >= self.alternatives_threshold:
            return Band.ANSWER_ALTERNATIVES
        if best >= self.suggest_threshold:
            return Band.SUGGEST
        return Band.NONE

    def match(self, text: str) -> Match:
        """Rank the entries for ``text`` and decide: answer, answer with alternatives, suggest, or nothing.

        At or above ``answer_threshold`` the best entry is answered alone.  Below it, a question
        whose content words are mostly unknown to the FAQ (share < ``gate``) gets nothing
        (``Band.NONE``, candidates kept); otherwise the best entry is answered with up to two
        alternatives from ``alternatives_threshold`` up, offered in a menu from ``suggest_threshold``.
        """
        ev = self._evidence(text)
        if ev is None:
            return Match(Band.NONE, ())
        cands = self._candidates(ev)
        return Match(self._band(cands[0].score, ev.content), tuple(cands))

    # -- diagnostics used by the evaluation and calibration ---------------------------------

    def raw_top(self, text: str, n: int = 3) -> list[tuple[str, float, float, float]]:
        """The ``n`` best entries: (id, raw score, centroid similarity, nearest-phrasing similarity)."""
        words = self._words_for(text)
        if not words or not self.entries:
            return []
        scores, cent, near, _ = self._components(words)
        order = np.argsort(-scores, kind="stable")[:n]
        return [(self.entries[int(e)].id, float(scores[e]), float(cent[e]), float(near[e])) for e in order]

    def decision_features(self, text: str) -> dict | None:
        """What the band is decided from, for fitting the calibration (``bench/faq_quality.py --fit``).

        ``ids``: the ranked entry ids (up to 3); ``z``: the best entry's log-odds with the per-FAQ shift;
        ``margin``: its raw-score margin over the runner-up; ``cover``: the query coverage; ``content``:
        the off-topic gate's share of known content words; ``shift``: the per-FAQ shift; ``words``: the
        number of words; ``score``: the calibrated confidence.
        None when nothing matches at all.
        """
        ev = self._evidence(text)
        if ev is None:
            return None
        top, runner_up = ev.top, ev.top[1] if len(ev.top) > 1 else -1
        x = self._logit(top[0], runner_up, ev.cent, ev.near)
        margin = float(ev.scores[top[0]] - ev.scores[runner_up]) if runner_up >= 0 else _MARGIN_ALONE
        return {
            "ids": [self.entries[e].id for e in top[:_TOP]],
            "z": calibrate.shifted(x, self._shift),
            "margin": margin,
            "cover": ev.cover,
            "content": ev.content,
            "shift": self._shift,
            "words": ev.words,
            "score": self._candidates(ev)[0].score,
        }
