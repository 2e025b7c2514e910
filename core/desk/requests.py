"""The playbook's requests: status at hand, follow-ups, preparing the request, callbacks.

* **Status**: ``/status`` lists the customer's cases (status, opened, last activity); ``/status 123``,
  "статус 123", "что с обращением 123", "what about #123" show one case, if it is theirs; a number that is
  not theirs gets the same answer as one that does not exist.
* **Follow-ups**: within ``REOPEN_DAYS`` of a resolution, a message the FAQ cannot settle (or a request for
  a person) reopens the resolved case; a case number the customer quotes ("по обращению 123", "case #123")
  attaches the message to that case when it is theirs (reopened within ``REOPEN_DAYS``, else a new case that
  follows it up: ``Case.extra["follows"]``). Every new case notes the customer's previous case it follows.
* **Preparing the request**: after a failed FAQ ("none of these", "didn't help") the bot asks once for a
  short description and the details the closest FAQ entry lists (``ask:``), skippably, then opens the case;
  a customer who asked for a person outright gets the case at once and the same questions right after.
* **Callbacks**: "перезвоните мне", "call me back", ``/callback``: a phone number (``phonenumbers``,
  ``PHONE_REGION``), a convenient time, then a case of type ``callback`` (or a note in the open case);
  ``/called`` in the topic records the call (``core.desk.callbacks``).

Customer state (user hash): ``prep`` (the question asked before a handoff), ``cb`` / ``cb_phone`` /
``cb_tries`` (a callback being arranged), ``flow_at`` (when that question was asked: it waits ``FLOW_TTL``),
``details_case`` (the case whose details were asked for after the handoff).
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from core import cases as lifecycle
from core.cases import Case, CaseStatus, HandoffReason
from core.desk.answers import small_talk
from core.desk.callbacks import CallbackSide, wants_callback
from core.desk.language import asks_for_human, complains
from core.faq import Band, FaqEntry
from core.messages import Button, Inbound, Outbound, StaffKind, UserRef, to_customer, to_staff
from core.store import Unit
from core.texts import t

if TYPE_CHECKING:
    from core.desk import SupportDesk

DAY = 24 * 3600
FLOW_TTL = 3600  # a question the bot asked (details, phone, time) waits this long for its answer
DETAILS_MAX = 1000  # characters of a description kept on the case
FLOWS_OFF: dict[str, str | None] = dict.fromkeys(("prep", "cb", "cb_phone", "cb_tries", "flow_at", "details_case"))
ASK_FIRST = (HandoffReason.NO_MATCH, HandoffReason.NOT_HELPED)  # after a failed FAQ: ask, then open

_NUMBER = r"\s*(?:№|#|номер|no\.?|number)?\s*(\d{1,9})"
_STATUS_QUERY = re.compile(
    r"^(?:а\s+)?(?:какой\s+)?(?:статус(?:\s+у)?|что\s+(?:там\s+)?(?:с|со|по)|как\s+там|what\s+about|"
    r"what'?s\s+(?:up\s+)?with|status(?:\s+of|\s+for)?|any\s+news\s+(?:on|about)|update\s+on|how'?s|how\s+is)\s*"
    r"(?:мо(?:им|его|ему|ё|е|я|ей)\s+|my\s+)?(?:обращени\w*|заявк\w*|тикет\w*|case|ticket|request)?"
    + _NUMBER
    + r"\s*[?!.]*$",
    re.I,
)
_QUOTE = re.compile(r"(?:обращени\w*|заявк\w*|тикет\w*|\bcase|\bticket)" + _NUMBER + r"\b|[#№]\s?(\d{1,9})\b", re.I)
_ACK_WORDS = {
    "ок", "окей", "ok", "okay", "хорошо", "понятно", "понял", "поняла", "ясно", "ладно", "отлично", "супер",
    "спасибо", "благодарю", "большое", "огромное", "спс", "всё", "все", "да", "ага", "угу", "принято", "thanks",
    "thank", "you", "great", "fine", "got", "it", "cool", "perfect", "good", "nice", "much", "very", "alright",
    "sure", "yes", "noted",
}  # fmt: skip


def status_query(text: str) -> int | None:
    """The case number a message like "статус 123" / "what about #123" asks about."""
    m = _STATUS_QUERY.match(" ".join(text.lower().replace("ё", "е").replace("’", "'").split()))
    return int(m.group(1)) if m else None


def quoted_numbers(text: str) -> list[int]:
    """Case numbers quoted in a message ("по обращению 123", "case #123", "#123"), first three."""
    return [int(m.group(1) or m.group(2)) for m in _QUOTE.finditer(text)][:3]


def acknowledgement(text: str) -> bool:
    """An acknowledgement ("ок", "понятно, спасибо", "got it"): nothing to reopen a case for."""
    words = re.sub(r"[^\w\s]", " ", text.lower().replace("ё", "е")).split()
    return 0 < len(words) <= 5 and all(w in _ACK_WORDS for w in words)


def customer_time(ts: float, tz: str) -> str:
    zone = ZoneInfo(tz) if tz and tz != "UTC" else UTC
    return datetime.fromtimestamp(ts, zone).strftime("%d.%m.%Y %H:%M")


class RequestSide(CallbackSide):
    # ------------------------------------------------------------------ hooks of the customer side
    async def requests_first(self: SupportDesk, event: Inbound, text: str, state: dict[str, str], lang: str, u: Unit):
        """What comes before the open case's relay: a pending question's answer (details, phone, time), a
        status question, a callback request. None: not ours."""
        if text.startswith("/"):
            return None
        user = event.sender
        if state.get("flow_at") and self.clock() - float(state["flow_at"]) > FLOW_TTL:
            self._flows_off(u, user, state)
        if state.get("cb"):
            outs = await self._callback_step(event, text, state, lang, u)
            if outs is not None:
                return outs
        if state.get("prep"):
            return await self._prepared(event, text, state, lang, u)
        number = status_query(text) if text else None
        if number is not None:
            outs = await self.one_status(user, number, lang, u)
            case = await u.open_case_of(user)
            return (await self._relay(case, event, text, u) if case else []) + outs
        if text and wants_callback(text):
            return await self.start_callback(event, text, state, lang, u)
        return None

    def _flows_off(self: SupportDesk, u: Unit, user: UserRef, state: dict[str, str]) -> bool:
        """Forget every pending question; True when one was waiting for its answer."""
        pending = any(state.get(k) for k in ("prep", "cb"))
        if any(state.get(k) for k in FLOWS_OFF):
            u.update_user(user, **FLOWS_OFF)
        for k in FLOWS_OFF:
            state.pop(k, None)
        return pending

    async def follow_up(self: SupportDesk, event: Inbound, text: str, state: dict[str, str], lang: str, u: Unit):
        """No open case: a quoted case number of theirs, or a message soon after a resolution, goes to that case
        (reopened, or followed up by a new case). None: an ordinary message."""
        user = event.sender
        for number in quoted_numbers(text) if text else ():
            case = await u.get_case(number)
            if case is None or case.customer != user or case.is_open:
                continue  # not theirs: as if no number had been quoted
            if self._within_reopen(case):
                return await self.reopen_for_customer(case, event, text, lang, u)
            u.push_recent(user, "customer", text, event.attachments)
            extra = {"follows": str(case.id), "details": text[:DETAILS_MAX]}
            return await self._handoff(event, state, lang, HandoffReason.REQUESTED, u, extra=extra)
        last = await self._last_case(user, u)
        if last is None or last.status is not CaseStatus.RESOLVED or not self._within_reopen(last):
            return None
        if text:
            if small_talk(text) or acknowledgement(text) or not any(ch.isalnum() for ch in text):
                return None
            if complains(text) or asks_for_human(text):
                return None  # a handoff: ``before_handoff`` reopens the case
            band = self.matcher.match(text[: self.options.max_chars]).band
            if band in (Band.ANSWER, Band.ANSWER_ALTERNATIVES):
                return None  # a new question the FAQ answers
        elif not event.attachments:
            return None
        return await self.reopen_for_customer(last, event, text, lang, u)

    def _within_reopen(self: SupportDesk, case: Case) -> bool:
        closed, days = case.resolved_at, self.options.reopen_days  # REOPEN_DAYS=0: never
        return closed is not None and days > 0 and self.clock() - closed <= days * DAY

    async def _last_case(self: SupportDesk, user: UserRef, u: Unit) -> Case | None:
        return await u.last_case_of(user)

    async def reopen_for_customer(self: SupportDesk, case: Case, event: Inbound, text: str, lang: str, u: Unit):
        """The customer came back to a closed case of theirs: it is theirs and open again, with this message."""
        user = case.customer
        reopened = lifecycle.reopen(case, case.operator)
        if not case.operator:  # nobody had taken it: it waits for an operator again
            reopened = replace(reopened, status=CaseStatus.ACCEPTED)
        count = int(case.extra.get("reopened") or 0) + 1
        reopened = replace(reopened, extra={**reopened.extra, "reopened": str(count)})
        u.reopen_case(reopened)
        u.log(case.id, "system", "Reopened by the customer")
        u.record("status", case=case.id, old=case.status, new=reopened.status, by="customer")
        u.record("reopened", case=case.id, customer=user.key, by="customer")
        self.faq_unsettled(user, await u.get_user(user), u, handed_off=True)  # a person again: core.desk.figures
        u.update_user(user, rate_case=None, comment_case=None, tried=None, buttons=None)
        key = "requests.reopened" if text or event.attachments else "requests.reopened_ask"
        outs = [
            to_customer(user, t(key, lang, number=case.number), case_id=case.id, lang=lang),
            to_staff(
                case.id,
                self.st("requests.reopened", number=case.number),
                StaffKind.STATUS,
                meta={"title": reopened.topic_title()},
            ),
        ]
        if text or event.attachments:
            outs += await self._relay(reopened, event, text, u)
        return outs

    # ------------------------------------------------------------------ handoffs
    async def before_handoff(
        self: SupportDesk, event: Inbound, state: dict[str, str], lang: str, reason: str, u: Unit, extra
    ) -> list[Outbound] | None:
        """Before a case is opened: reopen the one resolved within ``REOPEN_DAYS``; after a failed FAQ, ask for
        the details first. None: open the case now (``extra`` given: the request is prepared already)."""
        if extra is not None:
            return None
        user = event.sender
        last = await self._last_case(user, u)
        if last is not None and last.status is CaseStatus.RESOLVED and self._within_reopen(last):
            text = event.text.strip() if event.text and not event.text.startswith("/") else ""
            return await self.reopen_for_customer(last, event, text, lang, u)
        if state.get("prep"):  # asked already, and now they want a person at once: no second question
            self._flows_off(u, user, state)
            state["asked"] = "1"
            return None
        if reason in ASK_FIRST:
            return self._ask_details(user, state, lang, reason, u)
        return None

    async def case_extras(
        self: SupportDesk, user: UserRef, state: dict[str, str], reason: str, lang: str, extra, u: Unit
    ) -> dict[str, str]:
        """A new case's ``extra``: the case it follows (the customer's previous one) and what was asked."""
        out = dict(extra or {})
        last = await self._last_case(user, u)
        if "follows" not in out and last is not None and not last.is_open:
            out["follows"] = str(last.id)
        if extra is None and reason != HandoffReason.CALLBACK and not state.pop("asked", None):
            out["details_asked"] = "after"
            items = self._asks(state, lang)
            if items:
                out["asked"] = ", ".join(items)
        return out

    def after_handoff(self: SupportDesk, case: Case, lang: str, u: Unit) -> list[Outbound]:
        """Right after the handoff notice: the questions (a customer who asked for a person outright), or the
        callback's confirmation."""
        user = case.customer
        if case.reason == HandoffReason.CALLBACK:
            phone, when = case.extra.get("phone", ""), case.extra.get("callback_time", "")
            return [to_customer(user, t("requests.callback_booked", lang, phone=phone, when=when), case_id=case.id)]
        if case.extra.get("details_asked") != "after":
            return []
        u.update_user(user, details_case=str(case.id))
        u.record("details_asked", case=case.id, customer=user.key, when="after")
        text = t("requests.ask_after", lang, what=self._what(case.extra.get("asked", ""), lang))
        return [to_customer(user, text, case_id=case.id, lang=lang)]

    def card_meta(self: SupportDesk, case: Case) -> dict[str, str]:
        """What a staff front end may add to a new case's card: the case it follows (a link to its topic)."""
        follows = case.extra.get("follows")
        if not follows:
            return {}
        line = self.st("requests.card.follows", number=f"#{follows}")
        return {"follows": follows, "follows_line": line}

    def _asks(self: SupportDesk, state: dict[str, str], lang: str) -> tuple[str, ...]:
        """The details the FAQ entry that came closest asks for (``ask:``)."""
        entry = self._closest_entry(state)
        return entry.asks(lang) if entry is not None else ()

    def _closest_entry(self: SupportDesk, state: dict[str, str]) -> FaqEntry | None:
        tried = json.loads(state.get("tried") or "[]")
        if not tried:
            return None
        best = max(tried, key=lambda pair: float(pair[1]))[0]
        return self.entries.get(best)

    @staticmethod
    def _what(items: str | tuple[str, ...], lang: str) -> str:
        items = ", ".join(items) if isinstance(items, tuple) else items
        return t("requests.ask_items", lang, items=items) if items else ""

    def _ask_details(self: SupportDesk, user: UserRef, state: dict[str, str], lang: str, reason: str, u: Unit):
        items = self._asks(state, lang)
        u.update_user(user, prep=json.dumps({"reason": reason, "asked": list(items)}), flow_at=repr(self.clock()))
        u.record("details_asked", customer=user.key, reason=reason, when="before")
        buttons = (Button(t("requests.btn_skip", lang), "prep:skip"),)
        return [to_customer(user, t("requests.ask_before", lang, what=self._what(items, lang)), buttons=buttons)]

    async def _prepared(self: SupportDesk, event: Inbound, text: str, state: dict[str, str], lang: str, u: Unit):
        """The answer to the question before a handoff (or "Skip"): the case opens with it."""
        user = event.sender
        prep = json.loads(state["prep"])
        self._flows_off(u, user, state)
        if await u.open_case_of(user) is not None:  # reopened by an operator meanwhile: an ordinary message
            return None
        skipped = event.payload == "prep:skip" or (not text and not event.attachments)
        extra: dict[str, str] = {"details_asked": "before"}
        if prep.get("asked"):
            extra["asked"] = ", ".join(prep["asked"])
        if skipped:
            extra["details_skipped"] = "1"
        else:
            u.push_recent(user, "customer", text, event.attachments)
            if text:
                extra["details"] = text[:DETAILS_MAX]
        outs = await self._handoff(event, state, lang, prep.get("reason") or HandoffReason.REQUESTED, u, extra=extra)
        case = await u.open_case_of(user)
        if case is not None and event.attachments and not skipped:  # the files themselves, under the card
            meta = {"name": case.display_name}
            outs.append(
                to_staff(
                    case.id,
                    text,
                    StaffKind.CUSTOMER_MESSAGE,
                    attachments=event.attachments,
                    copy_from=event.origin,
                    meta=meta,
                )
            )
        return outs

    async def press_skip(self: SupportDesk, event: Inbound, state: dict[str, str], lang: str, u: Unit):
        """The "Skip" button under the question before a handoff: the case opens without the details."""
        if self.clock() - float(state.get("flow_at") or 0) > FLOW_TTL:
            self._flows_off(u, event.sender, state)
            return [to_customer(event.sender, t("choice_expired", lang))]
        return await self._prepared(event, "", state, lang, u) or [to_customer(event.sender, t("choice_expired", lang))]

    def keep_details(self: SupportDesk, case: Case, text: str, state: dict[str, str], u: Unit) -> Case:
        """The first message after the questions that followed a handoff is the case's description."""
        if state.get("details_case") != str(case.id):
            return case
        u.update_user(case.customer, details_case=None)
        state.pop("details_case", None)
        if not text or case.extra.get("details"):
            return case
        case = replace(case, extra={**case.extra, "details": text[:DETAILS_MAX]})
        u.save_case(case)
        return case

    # ------------------------------------------------------------------ status
    async def status_command(self: SupportDesk, event: Inbound, lang: str, u: Unit) -> list[Outbound]:
        """``/status``: every case of the customer; ``/status 123``: that one."""
        words = event.text.split(maxsplit=1)
        arg = words[1].strip().lstrip("#№").strip() if len(words) > 1 else ""
        if arg.isdigit():
            return await self.one_status(event.sender, int(arg), lang, u)
        return await self.all_statuses(event.sender, lang, u)

    async def all_statuses(self: SupportDesk, user: UserRef, lang: str, u: Unit) -> list[Outbound]:
        cases = await u.cases_of(user)
        if not cases:
            return [to_customer(user, t("status_none", lang))]
        last = await self._last_activity(cases, u)
        tz = self.options.timezone
        lines = [t("requests.status_header", lang)] + [
            t(
                "requests.status_line",
                lang,
                number=c.number,
                status=t(f"status.{c.status}", lang),
                created=customer_time(c.created_at, tz),
                last=customer_time(last[c.id], tz),
            )
            for c in reversed(cases)
        ]
        if len(cases) > 1:
            lines.append(t("requests.status_more", lang, id=cases[-1].id))
        return [to_customer(user, "\n".join(lines))]

    async def one_status(self: SupportDesk, user: UserRef, number: int, lang: str, u: Unit) -> list[Outbound]:
        """One case of the customer's; someone else's case and a case that does not exist get the same answer."""
        case = await u.get_case(number)
        u.record("status_asked", customer=user.key, case=number)
        if case is None or case.customer != user:
            return [to_customer(user, t("requests.status_unknown", lang, number=f"#{number}"))]
        last = await self._last_activity([case], u)
        tz = self.options.timezone
        text = t(
            "requests.status_one",
            lang,
            number=case.number,
            status=t(f"status.{case.status}", lang),
            created=customer_time(case.created_at, tz),
            last=customer_time(last[case.id], tz),
            next=t(f"requests.status_next.{case.status}", lang, number=case.number),
        )
        return [to_customer(user, text, case_id=case.id)]

    async def _last_activity(self: SupportDesk, cases: list[Case], u: Unit) -> dict[int, float]:
        """When something last happened in each case: its last transcript line, else its own dates."""
        async with u.redis.pipeline(transaction=False) as p:
            for c in cases:
                p.lindex(u.keys.case_log(c.id), -1)
            rows = await p.execute()
        out: dict[int, float] = {}
        for c, raw in zip(cases, rows, strict=True):
            logged = json.loads(raw).get("ts") if raw else None
            out[c.id] = max(x for x in (logged, c.created_at, c.first_reply_at, c.resolved_at) if x)
        return out
