"""Card numbers and secrets (passwords, one-time codes) in what customers write, masked. Pure functions, no I/O.

``mask(text) -> (masked, kinds)``: ``kinds`` names what was hidden, in the order found, each once: ``"card"``,
``"password"``, ``"code"``. Support never needs any of them, so they never reach the staff group, the case's
history or the event log.

- A card is a run of 13 to 19 digits, written together or in groups split by single spaces or dashes
  (``4111 1111 1111 1111``, ``4111-1111-1111-1111``, ``3782 822463 10005``) that passes the Luhn check. It
  becomes ``•••• 1234`` (its last four digits). Not cards: shorter runs (phone numbers, dates, amounts, order
  numbers such as ``AB-12345-XYZ``), runs glued to letters (``AB-4111...``), a number after ``+`` (a phone),
  digits grouped by threes (``1 000 000 000 000``), and a number right after a word that names another kind of
  number (``заказ``, ``order``, ``трек``, ``tracking``, ``ИНН``, ``phone``...).
- A password follows a password word (``пароль``, ``password``, ``pwd``, ``pass``...): after ``:``/``=``/a dash
  it is whatever comes next (``пароль: qwerty``, ``pass: abc``); after ``is``/``это`` a word of four or more
  characters that is no ordinary word (``password is hunter2``, not ``password is incorrect``); with nothing in
  between, a word that looks like one (digits or symbols in it, or Latin letters after a Russian word: ``мой
  пароль qwerty123``, not ``пароль от почты``). A few words may name what it is for (``пароль от почты: ...``).
- A code follows a code phrase (``код из смс``, ``смс-код``, ``sms code``, ``OTP``, ``PIN``, ``CVV``, ``код
  подтверждения``, ``verification code``...; a bare ``code``/``код`` only before ``:``/``=``) and has at least
  three digits: ``код из смс 1234``, ``OTP 4821``. ``promo code: ...``, ``error code: 500`` are not codes.

Secrets become ``[скрыто]`` in a mostly Cyrillic text, ``[hidden]`` otherwise (or ``hidden`` when given).
Masking a masked text changes nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["CARD", "CODE", "HIDDEN", "PASSWORD", "luhn", "mask"]

CARD, PASSWORD, CODE = "card", "password", "code"
HIDDEN = {"ru": "[скрыто]", "en": "[hidden]"}
CARD_MASK = "•••• {last4}"

# ---------------------------------------------------------------------------------------------- cards
_RUN = re.compile(r"(?<![\w+])\d(?:[ \u00a0-]?\d)+(?!\w)")
_GLUED = re.compile(r"[^\W\d_]-$")  # "AB-" right before the run
_GLUED_AFTER = re.compile(r"-[^\W\d_]")  # "-XYZ" right after it
_NUMBER_WORDS = ("номер", "no", "nr", "num", "number", "№", "#")
_OTHER_NUMBERS = (
    "заказ", "order", "трек", "track", "посылк", "parcel", "отправлени", "shipment", "инн", "inn", "снилс", "огрн",
    "телефон", "тел", "phone", "tel", "mobile", "счет", "счёт", "account", "договор", "contract", "invoice",
    "накладн", "паспорт", "passport", "артикул", "sku", "imei", "serial", "серийн",
)  # fmt: skip


def luhn(digits: str) -> bool:
    """The Luhn checksum of a string of digits (what every payment card number satisfies)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card_grouping(groups: list[str]) -> bool:
    """Groups as cards are written: one block, or blocks of four or more (4-4-4-4, 4-6-5), the last one any."""
    return all(len(g) >= 4 for g in groups[:-1])


def _is_card(groups: list[str]) -> bool:
    digits = "".join(groups)
    return 13 <= len(digits) <= 19 and _card_grouping(groups) and luhn(digits)


def _previous_word(text: str, start: int) -> str:
    """The word before ``start``, skipping "номер", "№", "#" and punctuation ("order no. 123" -> "order")."""
    words = re.findall(r"[\w№#]+", text[max(0, start - 60) : start].lower())
    while words and words[-1] in _NUMBER_WORDS:
        words.pop()
    return words[-1] if words else ""


@dataclass(frozen=True, slots=True)
class _Span:
    start: int
    end: int
    text: str
    kind: str


def _cards_in(groups: list[str]) -> list[tuple[int, int]]:
    """The cards in a run of digit groups, as (first, last + 1) group indexes: the whole run when it is one,
    else, left to right, the longest card starting at each group (a card glued to other numbers)."""
    if _is_card(groups):
        return [(0, len(groups))]
    if sum(len(g) for g in groups) <= 19:
        return []
    found: list[tuple[int, int]] = []
    i = 0
    while i < len(groups):
        end, digits = None, 0
        for j in range(i, len(groups)):
            digits += len(groups[j])
            if digits > 19:
                break
            if digits >= 13 and _is_card(groups[i : j + 1]):
                end = j + 1
        if end is None:
            i += 1
        else:
            found.append((i, end))
            i = end
    return found


def _cards(text: str) -> list[_Span]:
    spans: list[_Span] = []
    for m in _RUN.finditer(text):
        if _GLUED.search(text, max(0, m.start() - 2), m.start()) or _GLUED_AFTER.match(text, m.end()):
            continue  # AB-4111..., 4111...-XYZ: an identifier
        if _previous_word(text, m.start()).startswith(_OTHER_NUMBERS):
            continue
        groups = list(re.finditer(r"\d+", m.group()))  # each group of digits, with its place in the run
        for lo, hi in _cards_in([g.group() for g in groups]):
            digits = "".join(g.group() for g in groups[lo:hi])
            start, end = m.start() + groups[lo].start(), m.start() + groups[hi - 1].end()
            spans.append(_Span(start, end, CARD_MASK.format(last4=digits[-4:]), CARD))
    return spans


# ---------------------------------------------------------------------------------------------- secrets
_B, _E = r"(?<![\w])", r"(?![\w])"
_PASSWORD_WORDS = r"парол[ьяюеи][а-яё]*|пасс?ворд[а-яё]*|password|passwd|passcode|passphrase|pwd|pass"
_CODE_WORDS = "|".join(
    (
        r"код[а-яё]*\s+(?:из|с|от|в|по)\s+(?:смс|sms|смски|сообщени[яей]|пуша|push|приложения)",
        r"(?:смс|sms)[\s-]*код[а-яё]*",
        r"код[а-яё]*\s+(?:подтверждени[яе]|доступа|безопасности|верификации|авторизации|для\s+входа|входа)",
        r"одноразов[а-яё]*\s+(?:код|пароль)[а-яё]*",
        r"пин[\s-]*код[а-яё]*",
        r"пин",
        r"cvv2?|cvc2?",
        r"(?:sms|text|one[\s-]?time|verification|confirmation|security|auth(?:entication)?|login|2fa|"
        r"two[\s-]factor|access)\s+code",
        r"code\s+from\s+(?:the\s+|an?\s+)?(?:sms|text|message|app)",
        r"otp|one[\s-]?time\s+password|pin(?:\s+code)?",
        r"code|код",  # bare: only before ":" or "=" (see _secret)
    )
)
_QUALIFIER = r"(?P<qual>\s+(?:от|для|к|на|в|у|из|from|for|to|of|on|at)(?:\s+[^\s\d:=,.;!?]{1,20}){1,3})?"
_SEPARATOR = r"(?P<sep>\s*[:=]\s*|\s+[-—–]\s+|\s*[—–]\s*|\s+(?:is|was|это|будет|вот|такой)\b\s*(?:[:\-—]\s*)?|\s+)"
_TOKEN = r"(?P<tok>\"[^\"\n]{1,64}\"|«[^»\n]{1,64}»|'[^'\n]{1,64}'|\S{1,128})"
_SECRET = re.compile(
    rf"{_B}(?:(?P<code>{_CODE_WORDS})|(?P<pw>{_PASSWORD_WORDS})){_E}{_QUALIFIER}{_SEPARATOR}{_TOKEN}", re.I
)
_STRONG_ONLY = {"code", "код", "pass", "pwd"}  # too common alone: a secret only after ":" or "="
_NOT_AFTER = (
    "error", "status", "promo", "zip", "postal", "country", "area", "product", "order", "tracking", "discount",
    "coupon", "gift", "reference", "referral", "invite", "qr", "bar", "source", "exit", "response", "http",
    "item", "article", "region", "boarding", "ошибк", "товар", "заказ", "регион", "почтов",
)  # fmt: skip
_STOP = {
    "не", "нет", "забыл", "забыла", "none", "no", "not", "n/a", "неверный", "неправильный", "неверен", "верный",
    "правильный", "wrong", "incorrect", "invalid", "expired", "correct", "right", "too", "the", "a", "an", "still",
    "also", "being", "required", "needed", "missing", "blocked", "locked", "reset", "changed", "empty", "weak",
    "strong", "ok", "fine", "same", "different", "case", "saved", "stored", "lost", "forgotten", "valid",
    "accepted", "rejected", "working", "my", "your", "this", "that", "it", "и", "а", "от", "для", "к", "на", "в",
    "у", "сброшен", "изменён", "изменен", "заблокирован", "подходит", "слабый", "короткий", "длинный", "short",
    "long", "here", "there", "below", "above", "следующий", "такой", "мой", "моё", "мое", "тот", "же", "sent",
    "отправлен", "пришёл", "пришел", "приходит",
    "••••", *HIDDEN.values(),
}  # fmt: skip
_TRAILING = ".,;:!?)»\"'"
_CODE_MORE = re.compile(r"(?:[ \-]\d{1,8})+")
_SYMBOL = re.compile(r"[^\w\s\-']")


def _plain(token: str) -> str:
    return token.strip(_TRAILING + "«\"'(").lower()


def _looks_secret(token: str, cyrillic_word: bool) -> bool:
    """A word with nothing to tell it by but its looks: digits or symbols, or Latin letters after a Russian word."""
    core = token.rstrip(_TRAILING)
    if len(core) < 4:
        return False
    if any(ch.isdigit() for ch in core) or _SYMBOL.search(core):
        return True
    return cyrillic_word and bool(re.search(r"[A-Za-z]", core))


def _secret(m: re.Match[str], text: str) -> str | None:
    """The kind of secret this keyword match holds (None: not a secret after all)."""
    key = (m.group("code") or m.group("pw")).lower()
    kind = CODE if m.group("code") else PASSWORD
    sep, token = m.group("sep").strip().lower(), m.group("tok")
    strong = sep[:1] in (":", "=")
    if key in _STRONG_ONLY and not strong:
        return None
    if _previous_word(text, m.start()).startswith(_NOT_AFTER):
        return None
    plain = _plain(token)
    if not plain or plain in _STOP or token in HIDDEN.values():
        return None
    if kind == CODE:
        return CODE if sum(ch.isdigit() for ch in token) >= 3 else None
    if strong or (token[:1] in "\"«'" and len(token) > 2):
        return PASSWORD
    if m.group("qual") or not sep:  # "пароль qwerty123", "пароль от почты qwerty123"
        return PASSWORD if _looks_secret(token, bool(re.search(r"[а-яё]", key))) else None
    return PASSWORD if len(token.rstrip(_TRAILING)) >= 4 else None  # after "is", "это", a dash


def _secrets(text: str) -> list[_Span]:
    spans: list[_Span] = []
    pos = 0
    while True:
        m = _SECRET.search(text, pos)
        if m is None:
            return spans
        kind = _secret(m, text)
        if kind is None:
            pos = m.start() + 1
            continue
        token = m.group("tok")
        end = m.end("tok")
        if kind == CODE and token[:1] not in "\"«'":  # a code is its digits ("1234," keeps the comma)...
            end = m.start("tok") + len(token.rstrip(_TRAILING))
            more = _CODE_MORE.match(text, end)  # ...all of them ("123 456")
            end = more.end() if more else end
        spans.append(_Span(m.start("tok"), end, "", kind))  # the placeholder is chosen once all are found
        pos = m.end("tok")


# ---------------------------------------------------------------------------------------------- both
def _hidden_for(text: str) -> str:
    cyr = sum(1 for ch in text if "а" <= ch.lower() <= "я" or ch in "ёЁ")
    lat = sum(1 for ch in text if "a" <= ch.lower() <= "z")
    return HIDDEN["ru"] if cyr >= lat and cyr else HIDDEN["en"]


def mask(text: str, hidden: str | None = None) -> tuple[str, tuple[str, ...]]:
    """``text`` with card numbers and secrets hidden, and the kinds hidden (``()``: nothing was)."""
    if not text or (not any(ch.isdigit() for ch in text) and not _maybe_secret(text)):
        return text, ()
    found = sorted(_cards(text) + _secrets(text), key=lambda s: (s.start, -s.end))
    spans: list[_Span] = []
    for span in found:
        if not spans or span.start >= spans[-1].end:  # one that overlaps a span kept already is left out
            spans.append(span)
    if not spans:
        return text, ()
    kept = [
        text[a:b] for a, b in zip([0] + [s.end for s in spans], [s.start for s in spans] + [len(text)], strict=True)
    ]
    hidden = hidden or _hidden_for("".join(kept))  # the language of the words around, not of the secrets
    out = [kept[0]]
    for span, after in zip(spans, kept[1:], strict=True):
        out += [span.text or hidden, after]
    kinds = tuple(dict.fromkeys(s.kind for s in spans))
    return "".join(out), kinds


_CHEAP = re.compile(r"парол|пасс?ворд|pass|pwd", re.I)


def _maybe_secret(text: str) -> bool:
    """A password without a digit needs a password word (a quick test before the full one)."""
    return bool(_CHEAP.search(text))
