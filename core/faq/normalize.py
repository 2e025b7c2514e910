"""Text side of the FAQ matcher: normalisation, keyboard-layout repair, stemming and features.

``normalize`` lowercases and strips punctuation; ``fix_layout`` re-types text typed in the wrong
keyboard layout (``ghbdtn`` -> ``привет``); ``_stem`` is a light Russian / English suffix
stripper; ``_features`` turns a normalised word list into raw counts of stemmed words, word
pairs and character n-grams (the keys the matcher's TF-IDF vectors are built over);
``expansions`` adds the weekend words for a named weekend day (``sundays`` -> ``weekends``).
"""

from __future__ import annotations

import functools
import itertools
import re
import unicodedata
from collections.abc import Sequence

__all__ = ["fix_layout", "normalize"]

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


# A named weekend day is asked about the way FAQs say "weekends" / "выходные" ("do you work on sundays?").
# Queries get the FAQ-side word as an extra word feature; nothing else is expanded.
_WEEKEND_DAYS = (("saturday", "weekends"), ("sunday", "weekends"), ("суббот", "выходные"), ("воскресен", "выходные"))


def expansions(words: Sequence[str]) -> list[str]:
    """Extra words a query is also matched on: "weekends" / "выходные" for a Saturday or Sunday."""
    out: list[str] = []
    for w in words:
        for prefix, extra in _WEEKEND_DAYS:
            if w.startswith(prefix) and extra not in out and extra not in words:
                out.append(extra)
    return out
