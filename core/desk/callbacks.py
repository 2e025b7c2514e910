"""Callbacks: "перезвоните мне", "call me back", ``/callback`` -> a phone number, a convenient time -> a case.

The number is checked and normalised with ``phonenumbers`` (``PHONE_REGION`` for numbers without a country
code); Telegram customers get a "share my number" button (``Outbound.meta["request_contact"]``: its label; the
next message carries ``meta["remove_keyboard"]``) and a shared contact reaches the desk as its number. Then a
case of type ``callback`` opens with both on its card, or, with a case open already, both are added to it.
``/called`` in the topic records that the call happened.

Customer state (user hash): ``cb`` ("phone", then "time"), ``cb_phone`` (JSON: E.164 and the international
form), ``cb_tries``, ``flow_at`` (``core.desk.requests`` forgets a question unanswered for ``FLOW_TTL``).
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import TYPE_CHECKING

import phonenumbers

from core.cases import Case, HandoffReason
from core.desk.language import complains
from core.messages import Inbound, Operator, Outbound, StaffKind, UserRef, to_customer, to_staff
from core.store import Unit
from core.texts import t

if TYPE_CHECKING:
    from core.desk import SupportDesk

TIME_MAX = 200  # characters of "a convenient time"
PHONE_TRIES = 3  # numbers that do not parse before the callback request is dropped
_CALLBACK = re.compile(
    r"(?<!\w)(?:перезвон\w*|позвоните\s+мне|мне\s+позвон\w*|обратн\w*\s+звон\w*|call\s+me(?:\s+back)?|"
    r"call\s*back|give\s+me\s+a\s+(?:call|ring)|phone\s+me|ring\s+me)(?!\w)",
    re.I,
)


def wants_callback(text: str) -> bool:
    return bool(_CALLBACK.search(text)) and not complains(text)


def normalize_phone(text: str, region: str) -> tuple[str, str] | None:
    """``(E.164, international form)`` of the phone number in ``text``, or None when there is no valid one."""
    text = text.strip()[:64]
    for match in phonenumbers.PhoneNumberMatcher(text, region):
        if phonenumbers.is_valid_number(match.number):
            return _formats(match.number)
    digits = re.sub(r"[\s()\-.]", "", text)
    for candidate in (text, "+" + digits if digits.isdigit() else ""):
        try:
            number = phonenumbers.parse(candidate, region) if candidate else None
        except phonenumbers.NumberParseException:
            continue
        if number is not None and phonenumbers.is_valid_number(number):
            return _formats(number)
    return None


def _formats(number: phonenumbers.PhoneNumber) -> tuple[str, str]:
    fmt = phonenumbers.PhoneNumberFormat
    return phonenumbers.format_number(number, fmt.E164), phonenumbers.format_number(number, fmt.INTERNATIONAL)


class CallbackSide:
    async def start_callback(self: SupportDesk, event: Inbound, text: str, state: dict[str, str], lang: str, u: Unit):
        """A callback request ("перезвоните мне", ``/callback``): ask for the number (Telegram: a button too)."""
        user = event.sender
        outs: list[Outbound] = []
        case = await u.open_case_of(user)
        if text and case is not None:
            outs += await self._relay(case, event, text, u)
        elif text:
            u.push_recent(user, "customer", text, event.attachments)
        self._flows_off(u, user, state)
        u.update_user(user, cb="phone", cb_tries="0", flow_at=repr(self.clock()))
        u.record("callback_asked", customer=user.key)
        return [*outs, self._ask_phone(user, "requests.ask_phone", lang)]

    @staticmethod
    def _ask_phone(user: UserRef, key: str, lang: str) -> Outbound:
        return to_customer(user, t(key, lang), lang=lang, meta={"request_contact": t("requests.btn_share_phone", lang)})

    async def _callback_step(self: SupportDesk, event: Inbound, text: str, state: dict[str, str], lang: str, u: Unit):
        """The number, then the time. A message without a digit instead of the number is an ordinary message
        (None); ``PHONE_TRIES`` numbers that do not parse drop the request."""
        user = event.sender
        if state["cb"] == "phone":
            if not text:
                return [self._ask_phone(user, "requests.phone_invalid", lang)]
            phone = normalize_phone(text, self.options.phone_region)
            if phone is None:
                if not any(ch.isdigit() for ch in text):
                    self._flows_off(u, user, state)
                    return None
                tries = int(state.get("cb_tries") or 0) + 1
                if tries >= PHONE_TRIES:
                    self._flows_off(u, user, state)
                    return [to_customer(user, t("requests.phone_gave_up", lang), meta={"remove_keyboard": True})]
                u.update_user(user, cb_tries=str(tries))
                return [self._ask_phone(user, "requests.phone_invalid", lang)]
            u.update_user(user, cb="time", cb_phone=json.dumps(phone), flow_at=repr(self.clock()))
            text = t("requests.ask_time", lang, phone=phone[1])
            return [to_customer(user, text, lang=lang, meta={"remove_keyboard": True})]
        if not text:
            return [to_customer(user, t("requests.ask_time", lang, phone=json.loads(state["cb_phone"])[1]))]
        e164, phone = json.loads(state["cb_phone"])
        when = " ".join(text.split())[:TIME_MAX]
        self._flows_off(u, user, state)
        extra = {"phone": phone, "phone_e164": e164, "callback_time": when}
        case = await u.open_case_of(user)
        if case is None:
            u.record("callback_requested", customer=user.key)
            return await self._handoff(event, state, lang, HandoffReason.CALLBACK, u, extra=extra)
        u.save_case(replace(case, extra={**case.extra, **extra}))
        u.log(case.id, "system", f"Callback requested: {phone}, {when}")
        u.record("callback_requested", customer=user.key, case=case.id)
        return [
            to_customer(
                user, t("requests.callback_noted", lang, number=case.number, phone=phone, when=when), case_id=case.id
            ),
            to_staff(case.id, self.st("requests.callback", phone=phone, when=when), StaffKind.INFO),
        ]

    def called(self: SupportDesk, case: Case, operator: Operator, u: Unit) -> list[Outbound]:
        """``/called``: the operator called the customer back."""
        case = replace(case, extra={**case.extra, "called_at": repr(self.clock()), "called_by": operator.name})
        u.save_case(case)
        u.log(case.id, "system", f"Called back by {operator.name}")
        u.record("called", case=case.id, operator=operator.name)
        text = self.st("requests.called", number=case.number, operator=operator.name)
        return [to_staff(case.id, text, StaffKind.STATUS, meta={"title": case.topic_title()})]
