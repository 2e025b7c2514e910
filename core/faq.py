"""FAQ: loading and validation, text normalisation, and the matcher.

File format (``faq_data/*.yaml``)::

    - id: working_hours            # unique, stable; statistics refer to it
      questions:                   # customer phrasings, any language; the first is the title
        - Какие часы работы поддержки?
        - When is support available?
      answer:                      # a string, or a mapping language -> string
        ru: Поддержка работает круглосуточно, 24/7.
        en: Support is available 24/7.

Matching (see ``FaqMatcher``) is lexical and needs no model: every phrasing is turned into a
TF-IDF vector over light-stemmed words, word pairs and character n-grams (the n-grams catch
typos and inflections; bag-of-features ignores word order).  Term weights are learned from the
FAQ itself at load time: a feature counts more the more it is concentrated in one entry.
An entry is scored by blending the similarity to its centroid with the similarity to its
nearest phrasings; the best entries are re-ranked with a ``rapidfuzz`` token ratio.  The raw
score of the best entry, and its margin over the runner-up entry, are mapped to a calibrated
confidence in [0, 1] that means the same for FAQs of 20 or 2,000 entries, and the confidence
is compared to the answer / suggest thresholds.  Text typed in the wrong keyboard layout
(``ghbdtn`` for ``привет``) is fixed when that makes more of its words known to the FAQ.
"""

from __future__ import annotations

import itertools
import math
import os
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType

import numpy as np
import yaml
from rapidfuzz import fuzz, process

__all__ = [
    "DEFAULT_ANSWER_THRESHOLD",
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


# --------------------------------------------------------------------------------------------
# Entries and loading
# --------------------------------------------------------------------------------------------


class FaqError(ValueError):
    """A FAQ file is broken; the message names the file, the entry and the reason."""


@dataclass(frozen=True, slots=True)
class FaqEntry:
    id: str
    questions: tuple[str, ...]
    answers: Mapping[str, str]  # language -> text; a plain-string answer is stored under "*"
    source: str = ""  # file it came from

    @property
    def title(self) -> str:
        return self.questions[0]

    def answer(self, lang: str | None) -> str:
        """The answer in ``lang``; else the language-neutral one, else en, else ru, else any."""
        answers = self.answers
        if lang:
            lang = lang.lower()
            if lang in answers:
                return answers[lang]
            base = lang.split("-", 1)[0].split("_", 1)[0]
            if base in answers:
                return answers[base]
        for key in ("*", "en", "ru"):
            if key in answers:
                return answers[key]
        return next(iter(answers.values()))


_ENTRY_KEYS = {"id", "questions", "answer"}


def _faq_files(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in (".yaml", ".yml"))
        if not files:
            raise FaqError(f"{path}: no *.yaml / *.yml files in this folder")
        return files
    if not path.exists():
        raise FaqError(f"{path}: no such file or folder")
    return [path]


def _parse_entry(raw: object, where: str, source: str = "") -> FaqEntry:
    """Validate one raw YAML item; ``where`` is the message prefix ``file: entry N``."""
    if not isinstance(raw, dict):
        raise FaqError(f"{where}: an entry must be a mapping with id, questions and answer")
    entry_id = raw.get("id")
    if not isinstance(entry_id, str) or not entry_id.strip():
        raise FaqError(f"{where}: id must be a non-empty string, got {entry_id!r}")
    entry_id = entry_id.strip()
    where = f"{where} ({entry_id})"
    unknown = sorted(str(k) for k in raw if k not in _ENTRY_KEYS)
    if unknown:
        raise FaqError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: answer, id, questions")

    questions = raw.get("questions")
    if questions is None or questions == [] or questions == "":
        raise FaqError(f"{where}: questions are missing or empty")
    if not isinstance(questions, list):
        raise FaqError(f"{where}: questions must be a list of strings")
    clean_questions = []
    for n, q in enumerate(questions, 1):
        if not isinstance(q, str):
            raise FaqError(f"{where}: question {n} is not a string ({q!r})")
        if not q.strip():
            raise FaqError(f"{where}: question {n} is empty")
        clean_questions.append(q.strip())

    answer = raw.get("answer")
    if answer is None:
        raise FaqError(f"{where}: answer is empty")
    if isinstance(answer, str):
        if not answer.strip():
            raise FaqError(f"{where}: answer is empty")
        answers = {"*": answer.strip()}
    elif isinstance(answer, dict):
        if not answer:
            raise FaqError(f"{where}: answer is empty")
        answers = {}
        for lang, text in answer.items():
            if not isinstance(lang, str) or not lang.strip():
                raise FaqError(f"{where}: answer language {lang!r} is not a non-empty string")
            if not isinstance(text, str):
                raise FaqError(f"{where}: answer in {lang!r} is not a string ({text!r})")
            if not text.strip():
                raise FaqError(f"{where}: answer in {lang!r} is empty")
            answers[lang.strip().lower()] = text.strip()
    else:
        raise FaqError(f"{where}: answer must be a string or a mapping language -> string")
    return FaqEntry(entry_id, tuple(clean_questions), MappingProxyType(answers), source)


def load_faq(path: str | os.PathLike) -> list[FaqEntry]:
    """Load and validate a FAQ file, or every ``*.yaml`` / ``*.yml`` file of a folder (sorted).

    Raises ``FaqError`` naming the file, the entry and the reason on anything malformed.
    """
    entries: list[FaqEntry] = []
    seen: dict[str, str] = {}
    for file in _faq_files(Path(path)):
        name = str(file)
        try:
            data = yaml.safe_load(file.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = f"line {mark.line + 1}: " if mark is not None else ""
            problem = getattr(exc, "problem", None) or str(exc)
            raise FaqError(f"{name}: {line}YAML syntax error: {problem}") from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise FaqError(f"{name}: cannot read: {exc}") from exc
        if data is None:
            data = []
        if not isinstance(data, list):
            raise FaqError(f"{name}: the file must be a YAML list of entries, got {type(data).__name__}")
        for n, raw in enumerate(data, 1):
            entry = _parse_entry(raw, f"{name}: entry {n}", name)
            if entry.id in seen:
                raise FaqError(f"{name}: entry {n} ({entry.id}): duplicate id, already defined in {seen[entry.id]}")
            seen[entry.id] = f"{name} entry {n}"
            entries.append(entry)
    if not entries:
        raise FaqError(f"{path}: the FAQ has no entries")
    return entries


# --------------------------------------------------------------------------------------------
# Normalisation, keyboard layout, stemming
# --------------------------------------------------------------------------------------------

_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)


def normalize(text: str) -> str:
    """Lowercase, ё -> е, punctuation -> space, collapse spaces, strip."""
    text = unicodedata.normalize("NFC", text).lower().replace("ё", "е")
    return _NON_WORD.sub(" ", text).strip()


_EN_KEYS = "`qwertyuiop[]asdfghjkl;'zxcvbnm,."
_RU_KEYS = "ёйцукенгшщзхъфывапролджэячсмитьбю"
_EN_TO_RU = {**{en.upper(): ru.upper() for en, ru in zip(_EN_KEYS, _RU_KEYS, strict=True) if en.isalpha()},
             **dict(zip(_EN_KEYS, _RU_KEYS, strict=True))}
# Shifted punctuation keys of the US layout are letters in ЙЦУКЕН too.
_EN_TO_RU.update({"~": "Ё", "{": "Х", "}": "Ъ", ":": "Ж", '"': "Э", "<": "Б", ">": "Ю"})
_RU_TO_EN = {ru: en for en, ru in _EN_TO_RU.items()}
_LATIN = re.compile(r"[a-zA-Z]")
_CYRILLIC = re.compile(r"[а-яА-ЯёЁ]")
_PUNCT_KEYS = set("`[];',.~{}:\"<>")


def _is_letter(ch: str) -> bool:
    return ch.isalpha()


def fix_layout(text: str) -> str:
    """Re-type text typed in the wrong keyboard layout (QWERTY <-> ЙЦУКЕН).

    The direction is set by the dominant script: mostly Latin letters -> Russian
    (``ghbdtn`` -> ``привет``), mostly Cyrillic -> English (``руддщ`` -> ``hello``).
    Words already in the target script are kept, so ``ghbdtn мир`` -> ``привет мир``.
    Punctuation keys that are letters in ЙЦУКЕН (``,`` = б, ``;`` = ж ...) are converted
    only inside a word (``j,sxyj`` -> ``обычно``); a trailing comma stays a comma.
    """
    latin = len(_LATIN.findall(text))
    cyrillic = len(_CYRILLIC.findall(text))
    if latin == cyrillic == 0:
        return text
    out = []
    if latin >= cyrillic:
        n = len(text)
        for i, ch in enumerate(text):
            if ch in _PUNCT_KEYS:
                prev_l = i > 0 and _LATIN.match(text[i - 1]) is not None
                next_l = i + 1 < n and _LATIN.match(text[i + 1]) is not None
                # a key between letters, or starting a word, is a letter typed in the wrong layout
                out.append(_EN_TO_RU[ch] if next_l and (prev_l or i == 0 or not _is_letter(text[i - 1]))
                           and ch in _EN_TO_RU else ch)
            else:
                out.append(_EN_TO_RU.get(ch, ch))
    else:
        out = [_RU_TO_EN.get(ch, ch) for ch in text]
    return "".join(out)


_RU_SUFFIXES = tuple(sorted((
    # adjective / participle / noun / verb endings (a small subset of Snowball's lists)
    "ившись", "ывшись", "ившая", "ывшая", "ующий", "ующая", "ующее", "ующие", "ающий",
    "иями", "ями", "ами", "иях", "ях", "ах", "ией", "ией", "ием", "ием", "иям", "ям", "ам",
    "ого", "его", "ому", "ему", "ыми", "ими", "ый", "ий", "ой", "ая", "яя", "ое", "ее", "ые", "ие",
    "ым", "им", "ом", "ем", "ую", "юю", "ых", "их", "ов", "ев", "ей", "ий",
    "ться", "тся", "ешь", "ете", "ишь", "ите", "ить", "ать", "ять", "еть", "уть", "ыть", "ти",
    "ала", "ила", "ыла", "ело", "ало", "или", "али", "ели", "ыли", "ал", "ил", "ел", "ыл", "ла", "ли",
    "ет", "ит", "ут", "ют", "ат", "ят", "ем", "им", "ую", "ю", "у", "ы", "и", "а", "я", "о", "е", "ь", "й",
    "сь", "ся",
), key=len, reverse=True))
_EN_SUFFIXES = ("ations", "ation", "ingly", "ments", "ment", "ness", "ings", "ing", "edly", "ies",
                "ied", "ers", "ed", "es", "er", "ly", "s")


def _stem(word: str) -> str:
    """A light suffix stripper for Russian and English (keeps a stem of >= 3 letters)."""
    if len(word) <= 3 or word.isdigit():
        return word
    suffixes = _RU_SUFFIXES if "а" <= word[0] <= "я" or "а" <= word[-1] <= "я" else _EN_SUFFIXES
    for _ in range(2):  # e.g. "заблокировалась" -> "заблокировал" -> "заблокирова"
        for suf in suffixes:
            if word.endswith(suf) and len(word) - len(suf) >= 3:
                word = word[: -len(suf)]
                break
        else:
            break
    return word


# --------------------------------------------------------------------------------------------
# Features
# --------------------------------------------------------------------------------------------

_CHAR_NGRAMS = (3, 4, 5)
_W_WORD = 1.0
_W_BIGRAM = 0.6
_W_CHAR = 0.35


def _features(words: Sequence[str]) -> dict[str, float]:
    """Raw (unweighted) feature counts of a normalised word list."""
    feats: dict[str, float] = {}
    stems = [_stem(w) for w in words]
    for s in stems:
        key = "w" + s
        feats[key] = feats.get(key, 0.0) + 1.0
    for a, b in itertools.pairwise(stems):
        key = "b" + a + " " + b
        feats[key] = feats.get(key, 0.0) + 1.0
    for w in words:
        padded = f" {w} "
        ln = len(padded)
        for n in _CHAR_NGRAMS:
            if ln < n:
                break
            for i in range(ln - n + 1):
                key = "c" + padded[i : i + n]
                feats[key] = feats.get(key, 0.0) + 1.0
    return feats


# --------------------------------------------------------------------------------------------
# Matcher
# --------------------------------------------------------------------------------------------

# Scoring settings, chosen by cross-validation on the *train* splits of BANKING77 and HWU64-ru
# (FAQ built from one part of train, queries from the rest); see bench/faq_quality.py.
_ALPHA = 0.75  # weight of the entry-centroid similarity vs the nearest-phrasing similarity
_NB_MIX = 1.0  # weight of the multinomial naive-Bayes evidence (entry-level term statistics)
_NB_SMOOTH = 0.05  # additive smoothing of the naive-Bayes term weights
_TOP = 3  # candidates returned

# Calibration: confidence = sigmoid(b . (1, base - base_2, centroid, nearest, centroid - centroid_2))
# where base = ALPHA * centroid + (1 - ALPHA) * nearest similarity of the entry and "_2" is the
# competitor (the runner-up for the best entry).  Only bounded similarities enter, so a lone
# weak overlap in a tiny FAQ stays weak.  Fitted by weighted logistic regression (label: the
# best entry is the right one; out-of-scope queries are negatives) on train cross-validation
# FAQs of 20 to 116 entries and 5 to ~90 phrasings per entry, each FAQ weighted the same.
_CAL = (-3.315, 9.376, 2.399, 2.739, -4.114)
_TYPO_CUTOFF = 85.0  # rapidfuzz ratio above which an unknown word is read as a known one
_TYPO_MIN_LEN = 5
_TYPO_MAX_WORDS = 4

DEFAULT_ANSWER_THRESHOLD = 0.8
DEFAULT_SUGGEST_THRESHOLD = 0.08


class Band(StrEnum):
    ANSWER = "answer"
    SUGGEST = "suggest"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Candidate:
    entry: FaqEntry
    score: float  # calibrated confidence in [0, 1]


@dataclass(frozen=True, slots=True)
class Match:
    band: Band
    candidates: tuple[Candidate, ...]  # best first, at most 3

    @property
    def best(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


@dataclass(slots=True)
class _Postings:
    """A sparse matrix stored by column (feature): rows[ptr[f]:ptr[f+1]] hold the feature's rows."""

    ptr: np.ndarray
    rows: np.ndarray
    vals: tuple[np.ndarray, ...] = field(default_factory=tuple)

    @classmethod
    def build(cls, cols: np.ndarray, rows: np.ndarray, vals: Sequence[np.ndarray], n_cols: int) -> _Postings:
        order = np.argsort(cols, kind="stable")
        ptr = np.zeros(n_cols + 1, dtype=np.int64)
        np.cumsum(np.bincount(cols, minlength=n_cols), out=ptr[1:])
        return cls(ptr, rows[order].astype(np.int32), tuple(v[order].astype(np.float64) for v in vals))

    def dot(self, qcols: Sequence[int], qvals: Sequence[float], n_rows: int) -> list[np.ndarray]:
        """Matrix-vector products of every value array with the sparse query vector."""
        ptr = self.ptr
        starts = [int(ptr[c]) for c in qcols]
        ends = [int(ptr[c + 1]) for c in qcols]
        if not qcols or sum(e - s for s, e in zip(starts, ends, strict=True)) == 0:
            return [np.zeros(n_rows) for _ in self.vals]
        idx = np.concatenate([np.arange(s, e) for s, e in zip(starts, ends, strict=True)])
        reps = np.repeat(np.asarray(qvals, dtype=np.float64), [e - s for s, e in zip(starts, ends, strict=True)])
        rows = self.rows[idx]
        return [np.bincount(rows, weights=v[idx] * reps, minlength=n_rows) for v in self.vals]


class FaqMatcher:
    """Find the FAQ entries that best match a customer's text; see the module docstring."""

    def __init__(
        self,
        entries: Sequence[FaqEntry],
        answer_threshold: float | None = None,
        suggest_threshold: float | None = None,
    ) -> None:
        self.entries: list[FaqEntry] = list(entries)
        self.answer_threshold = DEFAULT_ANSWER_THRESHOLD if answer_threshold is None else answer_threshold
        self.suggest_threshold = DEFAULT_SUGGEST_THRESHOLD if suggest_threshold is None else suggest_threshold
        if self.suggest_threshold > self.answer_threshold:
            raise ValueError("suggest_threshold must not exceed answer_threshold")
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
                for f, c in _features(toks).items():
                    col = vocab.get(f)
                    if col is None:
                        col = vocab[f] = len(vocab)
                    p_cols.append(col)
                    p_rows.append(row)
                    p_tf.append(c)
        self._vocab = vocab
        self._words = frozenset(words)
        self._long_words = sorted(w for w in words if len(w) >= _TYPO_MIN_LEN - 1)
        self._texts = texts
        n_rows = len(owner)
        n_feats = len(vocab)
        owner_a = np.asarray(owner, dtype=np.int64)
        self._owner = owner_a
        cols = np.asarray(p_cols, dtype=np.int64)
        rows = np.asarray(p_rows, dtype=np.int64)
        tf = np.asarray(p_tf, dtype=np.float64)
        # Entry frequency: in how many entries a feature occurs (idf at the level of entries).
        ent_key = np.unique(owner_a[rows] * n_feats + cols) if n_rows else np.zeros(0, dtype=np.int64)
        ef = np.bincount(ent_key % n_feats if n_feats else ent_key, minlength=n_feats)
        group = np.empty(n_feats)
        for f, col in vocab.items():
            group[col] = _W_WORD if f[0] == "w" else _W_BIGRAM if f[0] == "b" else _W_CHAR
        self._weight = (np.log((1.0 + n_entries) / (1.0 + ef)) + 1.0) * group
        # Phrasing vectors: sublinear tf * weight, L2-normalised.
        vals = (1.0 + np.log(tf)) * self._weight[cols]
        norms = np.sqrt(np.bincount(rows, weights=vals * vals, minlength=n_rows))
        vals = vals / np.maximum(norms[rows], 1e-12)
        self._phr = _Postings.build(cols, rows, [vals], n_feats)
        # Entry sums of phrasing vectors -> centroid (L2-normalised) and naive-Bayes weights.
        key = owner_a[rows] * n_feats + cols
        ukey, inv = np.unique(key, return_inverse=True)
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

    # -- scoring ----------------------------------------------------------------------------

    def _query(self, words: Sequence[str]) -> tuple[list[int], list[float]]:
        vocab = self._vocab
        weight = self._weight
        qcols: list[int] = []
        qvals: list[float] = []
        for f, c in _features(words).items():
            col = vocab.get(f)
            if col is not None:
                qcols.append(col)
                qvals.append((1.0 + math.log(c)) * float(weight[col]))
        norm = math.sqrt(sum(v * v for v in qvals)) or 1.0
        return qcols, [v / norm for v in qvals]

    def _scores(self, words: Sequence[str]) -> np.ndarray:
        """Combined raw score of every entry (higher is better)."""
        return self._components(words)[0]

    def _components(self, words: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(combined score, centroid similarity, nearest-phrasing similarity) of every entry."""
        n_entries = len(self.entries)
        qcols, qvals = self._query(words)
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
        words = normalize(text).split()
        if not words:
            return words
        known = self._words
        n_known = sum(w in known for w in words)
        if n_known == len(words):
            return words
        fixed = normalize(fix_layout(text)).split()
        n_fixed = sum(w in known for w in fixed)
        if n_fixed > n_known:
            words, n_known = fixed, n_fixed
            if n_known == len(words):
                return words
        return self._fix_typos(words)

    def _fix_typos(self, words: list[str]) -> list[str]:
        """Read a long unknown word as the closest FAQ word when they are nearly the same."""
        known = self._words
        out = list(words)
        budget = _TYPO_MAX_WORDS
        for i, w in enumerate(words):
            if budget == 0:
                break
            if len(w) < _TYPO_MIN_LEN or w in known or w.isdigit():
                continue
            budget -= 1
            hit = process.extractOne(w, self._long_words, scorer=fuzz.ratio, score_cutoff=_TYPO_CUTOFF)
            if hit is not None:
                out[i] = hit[0]
        return out

    def _confidence(self, i: int, j: int, scores: np.ndarray, cent: np.ndarray, near: np.ndarray) -> float:
        """Calibrated confidence that entry ``i`` is right, given the competitor ``j`` (-1: none)."""
        c1, n1 = float(cent[i]), float(near[i])
        c2, n2 = (float(cent[j]), float(near[j])) if j >= 0 else (0.0, 0.0)
        margin = _ALPHA * (c1 - c2) + (1.0 - _ALPHA) * (n1 - n2)
        b = _CAL
        x = b[0] + b[1] * margin + b[2] * c1 + b[3] * n1 + b[4] * (c1 - c2)
        return _sigmoid(x)

    def match(self, text: str) -> Match:
        """Rank the entries for ``text`` and decide: answer, suggest the top ones, or nothing."""
        words = self._words_for(text)
        n_entries = len(self.entries)
        if not words or n_entries == 0:
            return Match(Band.NONE, ())
        scores, cent, near = self._components(words)
        k = min(n_entries, _TOP + 1)
        top = np.argpartition(-scores, k - 1)[:k] if k < n_entries else np.arange(n_entries)
        top = [int(e) for e in top[np.argsort(-scores[top], kind="stable")]]
        if cent[top[0]] <= 0.0 and near[top[0]] <= 0.0:
            return Match(Band.NONE, ())
        runner_up = top[1] if len(top) > 1 else -1
        cands = []
        for rank, e in enumerate(top[:_TOP]):
            if rank and cent[e] <= 0.0 and near[e] <= 0.0:
                break
            # the best entry is judged against the runner-up, the others against the best
            conf = self._confidence(e, runner_up if rank == 0 else top[0], scores, cent, near)
            if cands:  # keep the confidences in rank order
                conf = min(conf, cands[-1].score)
            cands.append(Candidate(self.entries[e], round(conf, 6)))
        best = cands[0].score
        if best >= self.answer_threshold:
            band = Band.ANSWER
        elif best >= self.suggest_threshold:
            band = Band.SUGGEST
        else:
            band = Band.NONE
        return Match(band, tuple(cands))

    # -- diagnostics used by the evaluation and calibration ---------------------------------

    def raw_top(self, text: str, n: int = 3) -> list[tuple[str, float, float, float]]:
        """The ``n`` best entries: (id, raw score, centroid similarity, nearest-phrasing similarity)."""
        words = self._words_for(text)
        if not words or not self.entries:
            return []
        scores, cent, near = self._components(words)
        order = np.argsort(-scores, kind="stable")[:n]
        return [(self.entries[int(e)].id, float(scores[e]), float(cent[e]), float(near[e])) for e in order]


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
        qcols, qvals = matcher._query(norm.split())
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
