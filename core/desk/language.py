"""What the customer's words say: their language, and whether they ask for a person or complain.

The language rule: a conversation's language comes from the customer's real words. Emails, URLs, handles,
order codes and anything with digits, emoji and adapters' ``[notes]`` are not words. Text typed in the wrong
keyboard layout (``ghbdtn``, ``rfr jnvtybnm pfrfp``) counts as the language it is fixed to. Latin words inside
a Russian sentence (``мой email ...``, ``iPhone``) never switch a Russian conversation, nor Cyrillic names an
English one: a switch needs a clear message in the other language only (at least two words and
``SWITCH_LETTERS`` letters, one of them a word the bot knows, so "iPhone 15 Pro" is no switch). With no
words at all, the stored language stays; a new customer gets the
platform's language, else ``DEFAULT_LANGUAGE``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection

from core.faq import fix_layout, normalize

SWITCH_LETTERS = 8
_NOISE = re.compile(
    r"\[[^\]]*\]"  # adapters' notes: [sticker], [location ...]
    r"|https?://\S+|www\.\S+"  # links
    r"|\S+@\S+"  # emails and @handles
    r"|\S*\d\S*"  # anything with a digit: order codes, numbers, times, AB-12345-XYZ
)
_WORD = re.compile(r"[^\W\d_]+(?:[-'][^\W\d_]+)*")
_CYR = re.compile(r"[а-яё]", re.I)
_LAT = re.compile(r"[a-z]", re.I)
# Everyday words a wrong-layout message is likely made of, besides the FAQ's own vocabulary.
COMMON_RU = frozenset(
    [
        "привет",
        "здравствуйте",
        "добрый",
        "день",
        "спасибо",
        "пожалуйста",
        "помогите",
        "помощь",
        "оператор",
        "оператора",
        "человек",
        "человека",
        "менеджер",
        "менеджера",
        "как",
        "где",
        "что",
        "когда",
        "почему",
        "мой",
        "моя",
        "мне",
        "не",
        "да",
        "нет",
        "заказ",
        "заказа",
        "деньги",
        "карта",
        "пароль",
    ]
)
COMMON_EN = frozenset(
    [
        "hello",
        "hi",
        "thanks",
        "thank",
        "you",
        "please",
        "help",
        "operator",
        "human",
        "person",
        "agent",
        "manager",
        "how",
        "where",
        "what",
        "when",
        "why",
        "my",
        "me",
        "not",
        "yes",
        "no",
        "order",
        "money",
        "card",
        "password",
    ]
)

# Asking for a person, in the words customers use (checked on the text and on its layout-fixed form).
_HUMAN_STRONG = re.compile(
    r"\b("
    r"живо\w* (человек\w*|оператор\w*|сотрудник\w*)|с человеком|с оператором|человек[ау]? (позов|нуж|дайте)\w*|"
    r"(позов\w*|позвать|соедини\w*|переключи\w*|дайте|нужен|нужна|хочу|свяжите\w*|подключи\w*)\b.{0,20}"
    r"\b(человек\w*|оператор\w*|менеджер\w*|сотрудник\w*|специалист\w*|консультант\w*)|"
    r"live (agent|person|chat)|real (person|human|agent|people)|human (being|agent)|"
    r"(talk|speak|chat)\w* (to|with) (a |an |the )?(human|person|agent|operator|manager|someone|somebody|"
    r"representative|support|staff|people)\w*|"
    r"(need|want|get) (a |an )?(human|person|agent|operator|manager|representative)|connect me"
    r")\b",
    re.I,
)
# A bare "operator" / "manager" / "human" asks for a person only as (nearly) the whole message.
_HUMAN_WORD = re.compile(
    r"\b(оператор\w*|менеджер\w*|сотрудник\w*|agent|operator|manager|human|representative)\b",
    re.I,
)
HUMAN_WORD_MAX_WORDS = 4
_COMPLAINT = re.compile(r"\b(жалоб\w*|пожаловаться|претензи\w*|complain\w*|complaint)\b", re.I)
HUMAN_MAX_WORDS = 14  # a longer message mentioning a manager is a question, not a request for a person


def words_of(text: str) -> list[str]:
    return _WORD.findall(_NOISE.sub(" ", text))


def _script(word: str) -> str | None:
    cyr, lat = len(_CYR.findall(word)), len(_LAT.findall(word))
    if cyr and not lat:
        return "ru"
    if lat and not cyr:
        return "en"
    return None


def read_words(text: str, known: Callable[[str], bool]) -> tuple[list[str], list[str]]:
    """The Russian and the English words of ``text``; a word typed in the wrong layout counts as the word
    it is fixed to when that is a known word and the word itself is not."""
    ru: list[str] = []
    en: list[str] = []
    for word in words_of(text):
        script = _script(word)
        if script is None:
            continue
        low = normalize(word)
        fixed = normalize(fix_layout(word))
        if not known(low) and fixed != low and known(fixed):
            script = "ru" if script == "en" else "en"
            word = fixed
        (ru if script == "ru" else en).append(word)
    return ru, en


def conversation_language(
    text: str,
    stored: str | None,
    platform: str | None,
    default: str,
    known: Callable[[str], bool],
) -> str:
    ru, en = read_words(text, known)
    letters = {"ru": sum(len(w) for w in ru), "en": sum(len(w) for w in en)}
    counts = {"ru": len(ru), "en": len(en)}
    if stored in ("ru", "en"):
        other = "en" if stored == "ru" else "ru"
        clear = any(known(normalize(w)) for w in (en if other == "en" else ru))  # not just names and brands
        if counts[stored] == 0 and counts[other] >= 2 and letters[other] >= SWITCH_LETTERS and clear:
            return other
        return stored
    if letters["ru"] + letters["en"] >= 3:
        return "ru" if letters["ru"] >= letters["en"] else "en"
    if platform:
        code = platform.lower().split("-")[0].split("_")[0]
        return "ru" if code in {"ru", "uk", "be", "kk", "uz", "ky", "tg", "hy", "az"} else "en"
    return default


def known_words(vocabulary: Collection[str]) -> Callable[[str], bool]:
    """A word test over the FAQ's vocabulary plus everyday words."""
    return lambda w: w in vocabulary or w in COMMON_RU or w in COMMON_EN


def asks_for_human(text: str) -> bool:
    """A clear request for a person (in ru or en, or typed in the wrong layout)."""
    for variant in (text, fix_layout(text)):
        low = variant.lower().replace("ё", "е")
        n = len(low.split())
        if n <= HUMAN_MAX_WORDS and _HUMAN_STRONG.search(low):
            return True
        if n <= HUMAN_WORD_MAX_WORDS and _HUMAN_WORD.search(low):
            return True
    return False


def complains(text: str) -> bool:
    return any(_COMPLAINT.search(v.lower()) for v in (text, fix_layout(text)))
