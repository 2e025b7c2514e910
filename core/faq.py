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

import functools
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
_EN_TO_RU = {
    **{en.upper(): ru.upper() for en, ru in zip(_EN_KEYS, _RU_KEYS, strict=True) if en.isalpha()},
    **dict(zip(_EN_KEYS, _RU_KEYS, strict=True)),
}
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
                out.append(
                    _EN_TO_RU[ch]
                    if next_l and (prev_l or i == 0 or not _is_letter(text[i - 1])) and ch in _EN_TO_RU
                    else ch
                )
            else:
                out.append(_EN_TO_RU.get(ch, ch))
    else:
        out = [_RU_TO_EN.get(ch, ch) for ch in text]
    return "".join(out)


_RU_SUFFIXES = tuple(
    sorted(
        (
            # adjective / participle / noun / verb endings (a small subset of Snowball's lists)
            "ившись",
            "ывшись",
            "ившая",
            "ывшая",
            "ующий",
            "ующая",
            "ующее",
            "ующие",
            "ающий",
            "иями",
            "ями",
            "ами",
            "иях",
            "ях",
            "ах",
            "ией",
            "ией",
            "ием",
            "ием",
            "иям",
            "ям",
            "ам",
            "ого",
            "его",
            "ому",
            "ему",
            "ыми",
            "ими",
            "ый",
            "ий",
            "ой",
            "ая",
            "яя",
            "ое",
            "ее",
            "ые",
            "ие",
            "ым",
            "им",
            "ом",
            "ем",
            "ую",
            "юю",
            "ых",
            "их",
            "ов",
            "ев",
            "ей",
            "ий",
            "ться",
            "тся",
            "ешь",
            "ете",
            "ишь",
            "ите",
            "ить",
            "ать",
            "ять",
            "еть",
            "уть",
            "ыть",
            "ти",
            "ала",
            "ила",
            "ыла",
            "ело",
            "ало",
            "или",
            "али",
            "ели",
            "ыли",
            "ал",
            "ил",
            "ел",
            "ыл",
            "ла",
            "ли",
            "ет",
            "ит",
            "ут",
            "ют",
            "ат",
            "ят",
            "ем",
            "им",
            "ую",
            "ю",
            "у",
            "ы",
            "и",
            "а",
            "я",
            "о",
            "е",
            "ь",
            "й",
            "сь",
            "ся",
        ),
        key=len,
        reverse=True,
    )
)
_EN_SUFFIXES = (
    "ations",
    "ation",
    "ingly",
    "ments",
    "ment",
    "ness",
    "ings",
    "ing",
    "edly",
    "ies",
    "ied",
    "ers",
    "ed",
    "es",
    "er",
    "ly",
    "s",
)


@functools.lru_cache(maxsize=1 << 16)
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

_CHAR_NGRAMS = (3, 4)
_W_WORD = 1.0
_W_BIGRAM = 0.3
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
        for key in _char_grams(w):
            feats[key] = feats.get(key, 0.0) + 1.0
    return feats


@functools.lru_cache(maxsize=1 << 16)
def _char_grams(word: str) -> tuple[str, ...]:
    """Feature keys of the character n-grams of one word, padded with spaces."""
    padded = f" {word} "
    ln = len(padded)
    return tuple("c" + padded[i : i + n] for n in _CHAR_NGRAMS if ln >= n for i in range(ln - n + 1))


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
_DENSE_COLS = 256  # for the estimate, features this frequent are multiplied as dense matrices (speed only)
_DENSE_MIN_POSTINGS = 64
# Weight of log(query coverage) below the answer band (see FaqMatcher._confidence); 0.5 chosen on
# train CV: it costs <= 0.03 of answered + suggested and drops off-topic questions to no suggestion.
_COVER_WEIGHT = 0.5
_TYPO_CUTOFF = 85.0  # rapidfuzz ratio above which an unknown word is read as a known one
_TYPO_MIN_LEN = 5
_TYPO_MAX_WORDS = 4

DEFAULT_ANSWER_THRESHOLD = 0.8
DEFAULT_SUGGEST_THRESHOLD = 0.08


_ANSWER_LOGIT = math.log(DEFAULT_ANSWER_THRESHOLD / (1.0 - DEFAULT_ANSWER_THRESHOLD))
_SUGGEST_LOGIT = math.log(DEFAULT_SUGGEST_THRESHOLD / (1.0 - DEFAULT_SUGGEST_THRESHOLD))
_MAX_SHIFT = -0.75 * (_ANSWER_LOGIT - _SUGGEST_LOGIT)  # keeps the confidence increasing in the logit


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


@dataclass(slots=True)
class _DenseCommon:
    """The ``_DENSE_COLS`` features with the longest postings as dense (feature x row) matrices."""

    index: np.ndarray  # feature -> row of ``mats`` (-1: not dense)
    cols: np.ndarray
    mats: tuple[np.ndarray, ...]

    @classmethod
    def build(cls, post: _Postings, width: int) -> _DenseCommon:
        plens = np.diff(post.ptr)
        cols = np.argsort(-plens, kind="stable")[:_DENSE_COLS]
        cols = cols[plens[cols] >= _DENSE_MIN_POSTINGS]
        index = np.full(len(plens), -1, dtype=np.int64)
        index[cols] = np.arange(len(cols))
        lens = plens[cols]
        pos = np.repeat(post.ptr[cols], lens) + (np.arange(int(lens.sum())) - np.repeat(np.cumsum(lens) - lens, lens))
        k_of = np.repeat(np.arange(len(cols)), lens)
        mats = []
        for val in post.vals:
            mat = np.zeros((len(cols), width))
            mat[k_of, post.rows[pos]] = val[pos]
            mats.append(mat)
        return cls(index, cols, tuple(mats))


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
                feats = _features(toks)
                p_cols.extend([vocab.setdefault(f, len(vocab)) for f in feats])
                p_tf.extend(feats.values())
                p_rows.extend([row] * len(feats))
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
        confident ``_UNSEEN_SHARE`` of them average above ``_UNSEEN_CONFIDENCE`` (many phrasings per
        entry make near-paraphrases in neighbouring entries likely), the log-odds of this FAQ's
        answers are lowered by the excess (see ``_confidence``); never raised.
        """
        n_rows = len(self._owner)
        if len(self.entries) < 3 or n_rows < _UNSEEN_MIN_ROWS:
            return 0.0
        order = np.argsort(rows, kind="stable")
        r_ptr = np.zeros(n_rows + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=n_rows), out=r_ptr[1:])
        r_cols, r_vals = cols[order], vals[order]
        sample = np.unique(np.linspace(0, n_rows - 1, min(_UNSEEN_SAMPLE, n_rows)).astype(np.int64))
        dense = {"phr": _DenseCommon.build(self._phr, n_rows), "ent": _DenseCommon.build(self._ent, len(self.entries))}
        logits: list[float] = []
        for chunk in np.array_split(sample, max(1, len(sample) // 64)):
            logits += self._unseen_logits(chunk, r_ptr, r_cols, r_vals, ef, dense)
        if not logits:
            return 0.0
        top = np.sort(np.asarray(logits))[-max(1, round(_UNSEEN_SHARE * len(logits))) :]
        shift = math.log(_UNSEEN_CONFIDENCE / (1.0 - _UNSEEN_CONFIDENCE)) - float(top.mean())
        return min(0.0, max(shift, _MAX_SHIFT))

    def _unseen_logits(
        self,
        chunk: np.ndarray,
        r_ptr: np.ndarray,
        r_cols: np.ndarray,
        r_vals: np.ndarray,
        ef: np.ndarray,
        dense: dict[str, _DenseCommon],
    ) -> list[float]:
        """``_logit`` of the best other entry for each phrasing row in ``chunk`` (own-entry-only features dropped).

        The same arithmetic as ``_components_q``, for a batch of queries at once.
        """
        n_rows, n_entries = len(self._owner), len(self.entries)
        lens = r_ptr[chunk + 1] - r_ptr[chunk]
        q_of = np.repeat(np.arange(len(chunk)), lens)
        pos = np.repeat(r_ptr[chunk], lens) + (np.arange(int(lens.sum())) - np.repeat(np.cumsum(lens) - lens, lens))
        c, v, q_of = r_cols[pos], r_vals[pos], q_of
        keep = ef[c] > 1
        c, v, q_of = c[keep], v[keep], q_of[keep]
        norm = np.sqrt(np.bincount(q_of, weights=v * v, minlength=len(chunk)))
        v = v / np.maximum(norm[q_of], 1e-12)
        qsum = np.bincount(q_of, weights=v, minlength=len(chunk))

        def product(post: _Postings, width: int, common: _DenseCommon) -> list[np.ndarray]:
            # the most frequent features by a dense matrix product, the rest from the postings
            k = common.index[c]
            is_common = k >= 0
            qd = np.zeros((len(chunk), len(common.cols)))
            qd[q_of[is_common], k[is_common]] = v[is_common]
            rc, rv, rq = c[~is_common], v[~is_common], q_of[~is_common]
            plens = post.ptr[rc + 1] - post.ptr[rc]
            total = int(plens.sum())
            idx = np.repeat(post.ptr[rc], plens) + (np.arange(total) - np.repeat(np.cumsum(plens) - plens, plens))
            key = np.repeat(rq, plens) * width + post.rows[idx]
            w = np.repeat(rv, plens)
            return [
                np.bincount(key, weights=w * val[idx], minlength=len(chunk) * width).reshape(len(chunk), width)
                + qd @ mat
                for val, mat in zip(post.vals, common.mats, strict=True)
            ]

        (phr,) = product(self._phr, n_rows, dense["phr"])
        cent, nb = product(self._ent, n_entries, dense["ent"])
        near = np.zeros((len(chunk), n_entries))
        near[:, self._has_rows] = np.maximum.reduceat(phr, self._starts[self._has_rows], axis=1)
        safe = np.where(qsum > 0, qsum, 1.0)[:, None]
        scores = _ALPHA * cent + (1.0 - _ALPHA) * near + _NB_MIX * (nb - safe * self._nb_norm) / safe
        scores[np.arange(len(chunk)), self._owner[chunk]] = -np.inf
        out = []
        for k in range(len(chunk)):
            if norm[k] <= 0.0:
                continue
            top = np.argpartition(-scores[k], 1)[:2]
            i, j = (int(top[0]), int(top[1])) if scores[k, top[0]] >= scores[k, top[1]] else (int(top[1]), int(top[0]))
            out.append(self._logit(i, j, cent[k], near[k]))
        return out

    # -- scoring ----------------------------------------------------------------------------

    def _query(self, words: Sequence[str]) -> tuple[list[int], list[float], float]:
        """Known features of the query (column, unit-normalised weight) and its coverage.

        The coverage is the share of the query vector's length on features the FAQ knows; unknown
        features count with the weight of a feature seen in one entry (``погода`` in a shop FAQ).
        """
        vocab = self._vocab
        weight = self._weight
        qcols: list[int] = []
        qvals: list[float] = []
        unknown = 0.0
        for f, c in _features(words).items():
            col = vocab.get(f)
            if col is not None:
                qcols.append(col)
                qvals.append((1.0 + math.log(c)) * float(weight[col]))
            else:  # weighted as a feature of one entry would be
                unknown += ((1.0 + math.log(c)) * self._unknown_weight[f[0]]) ** 2
        sq = sum(v * v for v in qvals)
        norm = math.sqrt(sq) or 1.0
        cover = math.sqrt(sq / (sq + unknown)) if sq > 0 else 0.0
        return qcols, [v / norm for v in qvals], cover

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
            # a typo changes the length by a letter or so: "привет" is not a misspelt "привезут"
            if hit is not None and abs(len(hit[0]) - len(w)) <= max(1, len(w) // 6):
                out[i] = hit[0]
        return out

    def _logit(self, i: int, j: int, cent: np.ndarray, near: np.ndarray) -> float:
        """Uncalibrated-for-this-FAQ log-odds that entry ``i`` is right, given the competitor ``j`` (-1: none)."""
        c1, n1 = float(cent[i]), float(near[i])
        c2, n2 = (float(cent[j]), float(near[j])) if j >= 0 else (0.0, 0.0)
        margin = _ALPHA * (c1 - c2) + (1.0 - _ALPHA) * (n1 - n2)
        b = _CAL
        return b[0] + b[1] * margin + b[2] * c1 + b[3] * n1 + b[4] * (c1 - c2)

    def _confidence(self, i: int, j: int, cent: np.ndarray, near: np.ndarray, cover: float = 1.0) -> float:
        """Calibrated confidence that entry ``i`` is right, given the competitor ``j`` (-1: none).

        Two adjustments of the log-odds ``x``, each fading linearly between the default suggest and
        answer thresholds, so the confidence stays increasing in ``x``: the per-FAQ shift (<= 0)
        applies in full from the answer threshold up, so it moves answers, not suggestions; the
        coverage penalty ``_COVER_WEIGHT * log(cover)`` applies in full from the suggest threshold
        down, so a question mostly made of words the FAQ lacks is not offered suggestions.
        """
        x = self._logit(i, j, cent, near)
        lo, hi = _SUGGEST_LOGIT, _ANSWER_LOGIT
        up = min(1.0, max(0.0, (x - lo) / (hi - lo)))
        return _sigmoid(x + self._shift * up + _COVER_WEIGHT * math.log(max(cover, 1e-3)) * (1.0 - up))

    def match(self, text: str) -> Match:
        """Rank the entries for ``text`` and decide: answer, suggest the top ones, or nothing."""
        words = self._words_for(text)
        n_entries = len(self.entries)
        if not words or n_entries == 0:
            return Match(Band.NONE, ())
        scores, cent, near, cover = self._components(words)
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
            conf = self._confidence(e, runner_up if rank == 0 else top[0], cent, near, cover)
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
        scores, cent, near, _ = self._components(words)
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
