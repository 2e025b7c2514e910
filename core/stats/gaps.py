"""FAQ gaps: the questions the FAQ did not answer (``no_match``) or whose answer did not help
(``not_helped``), grouped by similarity; ``paste_yaml`` makes text for ``faq_data/faq.yaml``.
Pure and synchronous; ``GapQuestion.ts`` is unused (filter by time first).

1. Deduplicate by normalised text (counted; the most frequent spelling is shown and matched; empty
   texts dropped); keep the ``max_distinct`` most frequent (ties by text): this bounds time and memory.
2. Vectors as the matcher sees texts: its keyboard-layout choice (``words_for``; not its typo repair,
   which would read a gap's unknown words as FAQ words), features (``_features``) and weights, with
   sublinear tf.  Gaps are mostly about what the FAQ does not know, so unknown features are kept, with
   the matcher's unknown-feature weight.  Features are hashed (CRC-32, signed) into ``_DIM`` float32
   columns and rows L2-normalised: a dot product is the cosine similarity.
3. Greedy leader clustering: the most frequent text not yet grouped leads a new group and takes every
   ungrouped text whose similarity *to the leader* is >= ``threshold`` (no chaining).  Only the upper
   triangle of the similarity matrix is computed, by blocks, and kept thresholded and bit-packed.
4. Nearest entry (groups returned only): ``FaqMatcher.match`` on the group's most frequent texts (up to
   ``_NEAREST_SAMPLE``); an entry's score is its confidence among the candidates of the texts the matcher
   would offer anything for (band not ``NONE``, so the off-topic gate counts), else 0, averaged by count.
   The best entry is the nearest when that reaches the matcher's ``suggest_threshold`` (it would at least
   be offered as a "did you mean").  Else, when questions were ``not_helped`` by an entry that still
   exists, the most named one is the nearest (those customers were shown its answer: the topic they
   landed on), with its low score; else None.  ``paste_yaml`` adds phrasings only to an entry scoring
   at least the default suggest level: added to an entry the matcher does not see and whose answer did
   not help, they would only bring that answer back, so such a group gets a new-entry skeleton.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import yaml

from core.faq.bands import Band
from core.faq.calibrate import DEFAULT_SUGGEST_THRESHOLD
from core.faq.index import FaqMatcher
from core.faq.normalize import _features, _stem, expansions, normalize
from core.faq.words import words_for

__all__ = ["DEFAULT_THRESHOLD", "KINDS", "GapGroup", "GapQuestion", "group_gaps", "paste_yaml"]

KINDS = ("no_match", "not_helped")
# Cosine similarity to a group's leader.  On BANKING77 / HWU64-ru questions of intents left out of an FAQ
# built from the others, 0.35 keeps the 20 biggest groups 85-95 % pure; 0.3 merges more unrelated ones.
DEFAULT_THRESHOLD = 0.35
_DIM = 1024  # hashed columns: 4 KB a text; cosine noise from collisions ~0.03
_BLOCK = 512  # texts vectorised / rows of the similarity matrix computed at a time
_NEAREST_SAMPLE = 5  # distinct texts of a group matched to find its nearest entry


@dataclass(frozen=True, slots=True)
class GapQuestion:
    text: str
    kind: str  # "no_match" or "not_helped"
    entry: str | None = None  # for not_helped: the FAQ entry id whose answer did not help
    ts: float = 0.0


@dataclass(frozen=True, slots=True)
class GapGroup:
    key: str  # 8 hex chars of the SHA-1 of the group's leading normalised text
    count: int  # questions in the group (duplicates counted)
    examples: tuple[str, ...]  # distinct texts, most frequent first
    nearest: str | None  # id of the nearest FAQ entry, None when nothing is near
    score: float  # the matcher's confidence in that entry (0..1)
    kinds: dict[str, int]  # {"no_match": n, "not_helped": m}


@dataclass(slots=True)
class _Distinct:  # the questions sharing one normalised text
    norm: str
    count: int = 0
    spellings: Counter[str] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    unhelpful: Counter[str] = field(default_factory=Counter)  # entries that did not help

    @property
    def text(self) -> str:  # the most frequent original spelling (ties: the smallest)
        return min(self.spellings.items(), key=lambda kv: (-kv[1], kv[0]))[0]


def _distinct(questions: Sequence[GapQuestion], max_distinct: int) -> list[_Distinct]:
    by_norm: dict[str, _Distinct] = {}
    for q in questions:
        if q.kind not in KINDS:
            raise ValueError(f"unknown gap kind {q.kind!r}; expected one of {KINDS}")
        norm = normalize(q.text)
        if not norm:
            continue
        d = by_norm.get(norm)
        if d is None:
            d = by_norm[norm] = _Distinct(norm)
        d.count += 1
        d.spellings[" ".join(q.text.split())] += 1
        d.kinds[q.kind] += 1
        if q.kind == "not_helped" and q.entry:
            d.unhelpful[q.entry] += 1
    return sorted(by_norm.values(), key=lambda d: (-d.count, d.norm))[: max(0, max_distinct)]


def _vectors(matcher: FaqMatcher, texts: Sequence[str]) -> np.ndarray:
    """Hashed, L2-normalised TF-IDF rows (float32) of ``texts`` under the matcher's features and weights."""
    vocab, weight, unknown, known = matcher._vocab, matcher._weight, matcher._unknown_weight, matcher._words
    fid: dict[str, int] = {}  # feature -> local id, an index into cols and signed
    cols: list[int] = []
    signed: list[float] = []

    def feature(f: str) -> int:
        i = fid.get(f)
        if i is None:
            i = fid[f] = len(cols)
            h = zlib.crc32(f.encode())
            c = vocab.get(f)  # the matcher's weight when it knows the feature, else its unknown-feature weight
            w = float(weight[c]) if c is not None else unknown[f[0]]
            cols.append(h % _DIM)
            signed.append(-w if h >> 31 else w)
        return i

    by_word: dict[str, tuple[str, tuple[int, ...], bool]] = {}  # word -> stem, feature ids, has expansions
    x = np.zeros((len(texts), _DIM), dtype=np.float32)
    for start in range(0, len(texts), _BLOCK):
        ids: list[int] = []
        lens: list[int] = []
        for text in texts[start : start + _BLOCK]:
            before = len(ids)
            words = words_for(text, known, ())  # the matcher's keyboard-layout choice, no typo repair
            stems: list[str] = []
            expand = False
            for w in words:
                got = by_word.get(w)
                if got is None:  # a word's stem and character n-grams (repeats kept); pairs come below
                    own = tuple(feature(f) for f, c in _features([w]).items() for _ in range(int(c)))
                    got = by_word[w] = (_stem(w), own, bool(expansions([w])))
                stems.append(got[0])
                ids.extend(got[1])
                expand = expand or got[2]
            ids.extend(feature(f"b{a} {b}") for a, b in itertools.pairwise(stems))
            if expand:  # "sundays" also counts as "weekends", as in the matcher's query
                ids.extend(feature("w" + _stem(e)) for e in expansions(words) if _stem(e) not in stems)
            lens.append(len(ids) - before)
        # sublinear tf of every (text, feature) pair, scattered into the hashed columns
        n_feats = len(cols)
        row = np.repeat(np.arange(start, start + len(lens), dtype=np.int64), lens)
        key, tf = np.unique(row * n_feats + np.asarray(ids, dtype=np.int64), return_counts=True)
        feat = key % n_feats
        vals = (1.0 + np.log(tf)) * np.asarray(signed)[feat]
        np.add.at(x.reshape(-1), key // n_feats * _DIM + np.asarray(cols)[feat], vals.astype(np.float32))
    x /= np.maximum(np.sqrt(np.einsum("ij,ij->i", x, x)), 1e-12)[:, None]
    return x


def _leaders(x: np.ndarray, threshold: float) -> list[np.ndarray]:
    """Greedy leader clustering of the rows of ``x`` (in leading order): the row indices of each group."""
    n = len(x)
    near = np.zeros((n, (n + 7) // 8), dtype=np.uint8)
    hit = np.zeros((min(_BLOCK, n), n), dtype=bool)
    for start in range(0, n, _BLOCK):  # a row is only taken by an earlier leader: upper triangle only
        block = x[start : start + _BLOCK]
        np.greater_equal(block @ x[start:].T, np.float32(threshold), out=hit[: len(block), start:])
        near[start : start + len(block)] = np.packbits(hit[: len(block)], axis=1)
    free = np.ones(n, dtype=bool)
    groups: list[np.ndarray] = []
    for i in range(n):
        if free[i]:
            row = np.unpackbits(near[i], count=n).view(bool)
            row[i] = True  # a leader is in its own group whatever the rounding
            members = np.flatnonzero(row & free)
            free[members] = False
            groups.append(members)
    return groups


def _nearest(matcher: FaqMatcher, members: Sequence[_Distinct]) -> tuple[str | None, float]:
    """The nearest entry of a group and its score; see the module docstring."""
    sample = members[:_NEAREST_SAMPLE]
    total = sum(d.count for d in sample)
    conf: Counter[str] = Counter()
    for d in sample:
        match = matcher.match(d.text)
        if match.band is not Band.NONE:
            for cand in match.candidates:
                conf[cand.entry.id] += d.count * cand.score
    unhelpful: Counter[str] = Counter()
    for d in members:
        unhelpful.update(d.unhelpful)  # entries that did not help members of the group
    ranked = sorted(conf, key=lambda e: (-conf[e], -unhelpful[e], e))
    if ranked and conf[ranked[0]] / total >= matcher.suggest_threshold:
        return ranked[0], round(conf[ranked[0]] / total, 4)
    ids = {e.id for e in matcher.entries}
    hinted = sorted((e for e in unhelpful if e in ids), key=lambda e: (-unhelpful[e], e))
    return (hinted[0], round(conf[hinted[0]] / total, 4)) if hinted else (None, 0.0)


def group_gaps(
    matcher: FaqMatcher,
    questions: Sequence[GapQuestion],
    *,
    threshold: float = DEFAULT_THRESHOLD,
    limit: int = 20,
    examples: int = 5,
    max_distinct: int = 3000,
) -> list[GapGroup]:
    """The ``limit`` biggest groups of gap questions, ties by key (see the module docstring).

    ``threshold``: the cosine similarity to a group's leader needed to join it; ``examples``: distinct
    texts shown per group.  The order of ``questions`` does not matter.  ``ValueError``: an unknown kind.
    """
    distinct = _distinct(questions, max_distinct)
    if not distinct or limit <= 0:
        return []
    x = _vectors(matcher, [d.text for d in distinct])
    clusters = [[distinct[i] for i in rows] for rows in _leaders(x, threshold)]
    del x
    ranked = sorted(
        ((sum(d.count for d in ms), hashlib.sha1(ms[0].norm.encode()).hexdigest()[:8], ms) for ms in clusters),
        key=lambda t: (-t[0], t[1], t[2][0].norm),
    )
    out: list[GapGroup] = []
    for count, key, members in ranked[:limit]:
        kinds = dict.fromkeys(KINDS, 0)
        for d in members:
            kinds.update({kind: kinds[kind] + n for kind, n in d.kinds.items()})
        nearest, score = _nearest(matcher, members)
        shown = tuple(d.text for d in members[: max(0, examples)])
        out.append(GapGroup(key, count, shown, nearest, score, kinds))
    return out


def _quote(text: str) -> str:
    """``text`` as a one-line YAML double-quoted scalar (escapes for line breaks and unprintable characters)."""
    return yaml.safe_dump(text, default_style='"', allow_unicode=True, width=math.inf).removesuffix("\n...\n").strip()


def paste_yaml(groups: Sequence[GapGroup]) -> str:
    """Text to paste into ``faq_data/faq.yaml``: for each group a comment, then phrasings or a new entry.

    A group whose nearest entry scores at least ``DEFAULT_SUGGEST_THRESHOLD`` becomes ``- id: <entry>``
    with its examples as ``questions:``, to merge into that entry (pasted as is, the FAQ check reports a
    duplicate id); any other group a new entry skeleton: ``id: gap_<key>``, the examples as questions and
    a TODO answer.  Texts are double-quoted, so the whole is valid YAML: a list of those entries.
    """
    lines: list[str] = []
    for g in groups:
        kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(g.kinds.items()) if n)
        near = f"nearest entry: {g.nearest} ({g.score:.2f})" if g.nearest else "no entry is near"
        lines.append(f"# {g.count} question{'s' * (g.count != 1)} ({kinds}), {near}")
        add = g.nearest is not None and g.score >= DEFAULT_SUGGEST_THRESHOLD
        if add and g.kinds.get("not_helped", 0) > g.kinds.get("no_match", 0):
            lines.append("# mostly 'did not help': the answer may be what needs work")
        lines.append(f"# add these phrasings to entry {g.nearest}:" if add else "# new entry: write its answers")
        lines += [f"- id: {_quote(g.nearest or '') if add else 'gap_' + g.key}", "  questions:"]
        lines += [f"    - {_quote(text)}" for text in g.examples]
        lines += [] if add else ["  answer: {ru: TODO, en: TODO}"]
        lines.append("")
    # a comment stays on its line whatever an entry id holds
    return "\n".join(" ".join(line.split()) if line.startswith("#") else line for line in lines)
