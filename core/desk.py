"""SupportDesk: the one entry point for customer and operator events. No transport I/O inside.

Adapters turn native updates into ``Inbound`` (customers) or call the operator methods (staff), and send
the ``Outbound`` messages the desk returns. The desk never asks which messenger it is talking to.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable

from core import cases as lifecycle
from core.cards import render_card, render_line
from core.cases import Case, CaseStatus, HandoffReason, TransitionError
from core.faq import Band, FaqEntry, FaqMatcher
from core.messages import (
    Attachment,
    Button,
    Inbound,
    MessageRef,
    Operator,
    Outbound,
    StaffKind,
    UserRef,
    to_customer,
    to_staff,
)
from core.store import Store
from core.texts import detect_language, t

log = logging.getLogger(__name__)

COMMANDS = {
    "start": "start",
    "старт": "start",
    "начать": "start",
    "help": "help",
    "помощь": "help",
    "operator": "operator",
    "оператор": "operator",
    "human": "operator",
    "status": "status",
    "статус": "status",
    "cancel": "cancel",
    "отмена": "cancel",
}
STAFF_COMMANDS = ("take", "needinfo", "resolve", "escalate", "reopen", "case", "ban", "unban")
# A short message made of these words asks for a person, whatever the FAQ says.
_HUMAN_WORDS = re.compile(
    r"\b(оператор\w*|живо\w* человек\w*|с человеком|человека позовите|позовите человека|сотрудник\w*|"
    r"operator|human|real person|live person|live agent|a person)\b"
)
_CHOICE = re.compile(r"[0-9]{1,2}")  # a typed button number (ASCII digits only)
_NOTE = re.compile(r"\[[^\]]*\]|https?://\S+")
_COMMAND = re.compile(r"^/([^\s@]+)(?:@\S+)?\s*(.*)$", re.S)
LABEL_MAX = 60
BUTTONS_TTL = 24 * 3600  # a typed number presses a button offered at most this long ago


class SupportDesk:
    def __init__(
        self,
        store: Store,
        matcher: FaqMatcher,
        *,
        default_language: str = "ru",
        max_chars: int = 4000,
        clock: Callable[[], float] = time.time,
    ):
        self.store = store
        self.matcher = matcher
        self.default_language = default_language
        self.max_chars = max_chars
        self.clock = clock
        self._entries: dict[str, FaqEntry] = {e.id: e for e in matcher.entries}

    # ================================================================ customers
    async def handle(self, event: Inbound) -> list[Outbound]:
        """Everything a customer sends goes through here: dedup, per-customer lock, then the conversation."""
        user = event.sender
        if not await self.store.first_time(user.channel, event.message_id):
            return []
        if await self.store.is_banned(user):
            dropped = await self.store.count_dropped(user)
            await self.store.record("banned_dropped", customer=user.key, dropped=dropped)
            return []
        try:
            async with self.store.lock(user):
                outs = await self._handle(event)
        except BaseException:
            await self.store.forget(user.channel, event.message_id)  # a re-delivery will be processed
            raise
        await self._remember_buttons(outs)
        return outs

    async def _handle(self, event: Inbound) -> list[Outbound]:
        user = event.sender
        state = await self.store.get_user(user)
        text = (event.text or "").strip()
        lang = self._language(text, event, state)
        profile: dict[str, str | None] = {"lang": lang}
        if event.name:
            profile["name"] = event.name
        if event.handle:
            profile["handle"] = event.handle
        if not state:
            await self.store.record("conversation_started", customer=user.key, channel=user.channel, lang=lang)
        await self.store.update_user(user, **profile)
        state.update({k: v for k, v in profile.items() if v is not None})

        payload = event.payload
        if payload is None and _CHOICE.fullmatch(text):
            number = int(text)
            offered = json.loads(state.get("buttons") or "[]")
            fresh = self.clock() - float(state.get("buttons_at") or 0) <= BUTTONS_TTL
            if fresh and 1 <= number <= len(offered):
                payload = offered[number - 1]
            elif state.get("rate_case") and 1 <= number <= 5:  # the rating asked for, even after other messages
                payload = f"rate:{state['rate_case']}:{number}"
        if payload:
            return await self._on_payload(event, payload, state, lang)

        command = _COMMAND.match(text)
        name = COMMANDS.get(command.group(1).lower()) if command else None
        if name is not None:
            return await self._on_command(event, name, state, lang)

        case = await self.store.open_case_of(user)
        if case is not None:  # everything else, "/home is full" included, goes to the operator
            return await self._relay(case, event, text)
        if command or text == "/":
            shown = "/" + command.group(1) if command else "/"
            return [to_customer(user, t("unknown_command", lang, command=shown))]

        await self.store.record("message", customer=user.key, channel=user.channel)
        if not text and event.attachments:
            await self.store.push_recent(user, "customer", text, event.attachments)
            return [self._offer_operator(user, lang, "attachment_no_case", HandoffReason.ATTACHMENT)]
        if not text:
            return [to_customer(user, t("empty_message", lang))]
        await self.store.push_recent(user, "customer", text, event.attachments)
        if self._asks_for_human(text):
            return await self._handoff(event, state, lang, HandoffReason.REQUESTED)
        small_talk = _small_talk(text)
        if small_talk:
            await self.store.record("small_talk", customer=user.key, kind=small_talk)
            return [to_customer(user, t(small_talk, lang))]
        if not any(ch.isalnum() for ch in text):  # emoji, punctuation: nothing to look up
            return [to_customer(user, t("no_words", lang))]
        return await self._answer(user, text[: self.max_chars], state, lang)

    def _language(self, text: str, event: Inbound, state: dict[str, str]) -> str:
        words = _COMMAND.sub(r"\2", text) if text.startswith("/") else text
        words = _NOTE.sub(" ", words)  # "[sticker]", "[location ...]": adapters' notes, not the customer's words
        stored = state.get("lang")
        if sum(ch.isalpha() for ch in words) >= 3:
            return detect_language(words)
        return stored or detect_language("", event.language, self.default_language)

    @staticmethod
    def _asks_for_human(text: str) -> bool:
        low = text.lower().replace("ё", "е")
        return len(low.split()) <= 5 and bool(_HUMAN_WORDS.search(low))

    async def _answer(self, user: UserRef, text: str, state: dict[str, str], lang: str) -> list[Outbound]:
        match = self.matcher.match(text)
        tried = json.loads(state.get("tried") or "[]")
        best = match.best
        if match.band is Band.ANSWER and best is not None:
            entry = best.entry
            await self.store.record("faq_answered", customer=user.key, entry=entry.id, score=f"{best.score:.3f}")
            tried.append([entry.id, round(best.score, 3)])
            await self.store.update_user(user, tried=json.dumps(tried[-10:]))
            await self.store.push_recent(user, "bot", f"FAQ answer: {entry.id}")
            buttons = (
                Button(t("btn_not_helped", lang), f"nohelp:{entry.id}"),
                Button(t("btn_operator", lang), "op:requested"),
            )
            return [to_customer(user, entry.answer(lang), buttons=buttons, lang=lang)]
        if match.band is Band.SUGGEST:
            ids = [c.entry.id for c in match.candidates]
            await self.store.record(
                "faq_suggested",
                customer=user.key,
                entries=",".join(ids),
                entry=ids[0],
                score=f"{match.candidates[0].score:.3f}",
            )
            tried += [[c.entry.id, round(c.score, 3)] for c in match.candidates]
            await self.store.update_user(user, tried=json.dumps(tried[-10:]))
            await self.store.push_recent(user, "bot", "Suggested: " + ", ".join(ids))
            buttons = tuple(Button(entry_label(c.entry, lang), f"faq:{c.entry.id}") for c in match.candidates)
            buttons += (Button(t("btn_none_of_these", lang), "op:no_match"),)
            return [to_customer(user, t("suggest", lang), buttons=buttons, lang=lang)]
        await self.store.record(
            "faq_no_match",
            customer=user.key,
            entry=best.entry.id if best else None,
            score=f"{best.score:.3f}" if best else "0",
            text=text[:200],
        )
        return [self._offer_operator(user, lang, "no_match", HandoffReason.NO_MATCH)]

    def _offer_operator(self, user: UserRef, lang: str, text_key: str, reason: str) -> Outbound:
        buttons = (Button(t("btn_operator", lang), f"op:{reason}"), Button(t("btn_rephrase", lang), "rephrase"))
        return to_customer(user, t(text_key, lang), buttons=buttons, lang=lang)

    async def _on_payload(self, event: Inbound, payload: str, state: dict[str, str], lang: str) -> list[Outbound]:
        user = event.sender
        kind, _, arg = payload.partition(":")
        if kind == "faq" and arg in self._entries:
            entry = self._entries[arg]
            await self.store.record("faq_chosen", customer=user.key, entry=entry.id)
            await self.store.push_recent(user, "bot", f"FAQ answer (chosen): {entry.id}")
            buttons = (
                Button(t("btn_not_helped", lang), f"nohelp:{entry.id}"),
                Button(t("btn_operator", lang), "op:requested"),
            )
            return [to_customer(user, entry.answer(lang), buttons=buttons, lang=lang)]
        if kind == "nohelp":
            await self.store.record("faq_not_helped", customer=user.key, entry=arg or None)
            await self.store.push_recent(user, "customer", f"(the answer {arg} did not help)")
            return [self._offer_operator(user, lang, "not_helped", HandoffReason.NOT_HELPED)]
        if kind == "op":
            reason = arg if arg in HandoffReason._value2member_map_ else HandoffReason.REQUESTED
            return await self._handoff(event, state, lang, reason)
        if kind == "rephrase":
            return [to_customer(user, t("rephrase_hint", lang))]
        if kind == "rate":
            case_no, _, stars = arg.partition(":")
            if case_no.isdigit() and stars.isdigit():
                return await self._rate(user, int(case_no), int(stars), lang)
        return [to_customer(user, t("choice_expired", lang))]

    async def _on_command(self, event: Inbound, name: str, state: dict[str, str], lang: str) -> list[Outbound]:
        user = event.sender
        await self.store.record("command", customer=user.key, command=name)
        if name == "start":
            await self.store.update_user(user, buttons=None)
            return [to_customer(user, t("greeting", lang))]
        if name == "help":
            return [to_customer(user, t("help", lang))]
        if name == "operator":
            return await self._handoff(event, state, lang, HandoffReason.REQUESTED)
        if name == "status":
            cases = await self.store.cases_of(user)
            if not cases:
                return [to_customer(user, t("status_none", lang))]
            lines = [t("status_header", lang)] + [
                t(
                    "status_line",
                    lang,
                    number=c.number,
                    status=t(f"status.{c.status}", lang),
                    created=time.strftime("%d.%m.%Y %H:%M", time.gmtime(c.created_at)),
                )
                for c in reversed(cases)
            ]
            return [to_customer(user, "\n".join(lines))]
        # cancel: close the open case, or drop whatever choice was pending
        case = await self.store.open_case_of(user)
        await self.store.update_user(user, buttons=None, tried=None)
        if case is None:
            return [to_customer(user, t("cancel_nothing", lang))]
        now = self.clock()
        old = case.status
        case = lifecycle.move(case, CaseStatus.RESOLVED, now, closed_by="customer")
        await self.store.save_case(case)
        await self.store.log(case.id, "system", "The customer closed the case (/cancel)")
        await self.store.record("status", case=case.id, old=old, new=case.status, by="customer")
        return [
            to_customer(user, t("cancel_case", lang, number=case.number)),
            to_staff(case.id, f"Case {case.number}: the customer closed it (/cancel).", StaffKind.STATUS),
        ]

    async def _handoff(self, event: Inbound, state: dict[str, str], lang: str, reason: str) -> list[Outbound]:
        user = event.sender
        existing = await self.store.open_case_of(user)
        if existing is not None:
            status = t(f"status.{existing.status}", lang)
            return [to_customer(user, t("already_open", lang, number=existing.number, status=status))]
        tried = tuple((e, float(s)) for e, s in json.loads(state.get("tried") or "[]"))
        # keep the best score per entry, in the order tried
        best: dict[str, float] = {}
        for e, s in tried:
            best[e] = max(s, best.get(e, 0.0))
        draft = Case(
            id=0,
            customer=user,
            status=CaseStatus.ACCEPTED,
            created_at=self.clock(),
            language=lang,
            customer_name=state.get("name", ""),
            customer_handle=state.get("handle", ""),
            reason=reason,
            tried=tuple(best.items()),
        )
        recent = await self.store.take_recent(user)
        case, created = await self.store.open_case(draft, transcript=recent)
        if not created:  # lost a race to another process: join the case that won
            status = t(f"status.{case.status}", lang)
            return [to_customer(user, t("already_open", lang, number=case.number, status=status))]
        await self.store.update_user(user, tried=None, buttons=None)
        await self.store.record("handoff", case=case.id, customer=user.key, channel=user.channel, reason=reason)
        card = render_card(case, await self.store.transcript(case.id))
        return [
            to_customer(user, t("handoff", lang, number=case.number), lang=lang, case_id=case.id),
            to_staff(case.id, card, StaffKind.CASE_OPENED),
        ]

    async def _relay(self, case: Case, event: Inbound, text: str) -> list[Outbound]:
        await self.store.log(case.id, "customer", text, event.attachments)
        await self.store.record("customer_message", case=case.id, customer=case.customer.key)
        outs = [
            to_staff(
                case.id,
                text,
                StaffKind.CUSTOMER_MESSAGE,
                attachments=event.attachments,
                copy_from=event.origin,
                meta={"name": case.display_name},
            )
        ]
        if case.status is CaseStatus.NEEDS_INFO:  # the customer answered: back to the operator
            outs += await self._set_status(case, CaseStatus.IN_PROGRESS, case.operator or "", notify=False)
        return outs

    async def _rate(self, user: UserRef, case_id: int, stars: int, lang: str) -> list[Outbound]:
        case = await self.store.get_case(case_id)
        if case is None or case.customer != user or case.rating is not None or not 1 <= stars <= 5:
            return [to_customer(user, t("choice_expired", lang))]
        try:
            case = lifecycle.rate(case, stars)
        except TransitionError:
            return [to_customer(user, t("choice_expired", lang))]
        await self.store.save_case(case)
        await self.store.log(case.id, "customer", f"Rated {stars}/5")
        await self.store.record("rated", case=case.id, stars=stars, customer=user.key)
        await self.store.update_user(user, buttons=None, rate_case=None)
        outs = [to_customer(user, t("rate_thanks", lang, stars=stars))]
        if stars <= 2:
            outs.append(to_customer(user, t("rate_low", lang)))
        outs.append(to_staff(case.id, f"Case {case.number}: the customer rated the help {stars}/5.", StaffKind.INFO))
        return outs

    async def _remember_buttons(self, outs: list[Outbound]) -> None:
        """Channels without buttons show numbered lines; a reply "2" then means the second button."""
        for out in outs:
            if out.to is not None and out.buttons:
                await self.store.update_user(
                    out.to, buttons=json.dumps([b.payload for b in out.buttons]), buttons_at=repr(self.clock())
                )

    # ================================================================ operators
    async def operator_message(
        self,
        case_id: int,
        operator: Operator,
        text: str,
        attachments: tuple[Attachment, ...] = (),
        copy_from: MessageRef | None = None,
    ) -> list[Outbound]:
        """An operator wrote in the case's topic: relay to the customer, note the first response."""
        case = await self.store.get_case(case_id)
        if case is None:
            return [to_staff(case_id, f"There is no case #{case_id}.", StaffKind.REPLY)]
        if not case.is_open:
            return [
                to_staff(
                    case_id,
                    f"Case {case.number} is resolved, so this message was NOT sent (the customer's "
                    "next message would open a new case). Send /reopen to reopen it, then write again.",
                    StaffKind.REPLY,
                )
            ]
        async with self.store.lock(case.customer):
            case = await self.store.get_case(case_id) or case
            now = self.clock()
            updated = lifecycle.record_reply(case, now, operator.name)
            if updated is not case:
                await self.store.save_case(updated)
                if case.first_reply_at is None:
                    await self.store.record(
                        "first_response", case=case.id, seconds=f"{now - case.created_at:.1f}", operator=operator.name
                    )
                if updated.status is not case.status:
                    await self.store.record(
                        "status", case=case.id, old=case.status, new=updated.status, by=operator.name
                    )
            await self.store.log(case.id, "operator", text, attachments)
            await self.store.record("operator_reply", case=case.id, operator=operator.name)
        outs = [
            to_customer(
                case.customer, text, attachments=attachments, copy_from=copy_from, case_id=case.id, lang=case.language
            )
        ]
        if updated.status is not case.status:
            outs.append(to_staff(case.id, self._status_line(updated, operator.name), StaffKind.STATUS))
        return outs

    async def operator_note(self, case_id: int, operator: Operator, text: str) -> list[Outbound]:
        """A private note (a message starting with "!"): kept in the history, never sent to the customer."""
        if await self.store.get_case(case_id) is None:
            return [to_staff(case_id, f"There is no case #{case_id}.", StaffKind.REPLY)]
        await self.store.log(case_id, "note", f"{operator.name}: {text}")
        await self.store.record("note", case=case_id, operator=operator.name)
        return []

    async def operator_command(self, case_id: int, command: str, operator: Operator) -> list[Outbound]:
        """Staff commands on a case: take, needinfo, resolve, escalate, case, ban, unban."""
        case = await self.store.get_case(case_id)
        if case is None:
            return [to_staff(case_id, f"There is no case #{case_id}.", StaffKind.REPLY)]
        if command == "case":
            card = render_card(case, await self.store.transcript(case_id), last=50)
            return [to_staff(case_id, card, StaffKind.REPLY)]
        if command in ("ban", "unban"):
            done = await (self.store.ban if command == "ban" else self.store.unban)(case.customer)
            await self.store.record(command, case=case_id, customer=case.customer.key, operator=operator.name)
            dropped = await self.store.dropped(case.customer)
            state = "banned" if command == "ban" else "unbanned"
            note = "" if done else " (no change)"
            extra = f" {dropped} message(s) dropped so far." if dropped else ""
            return [to_staff(case_id, f"{case.display_name} is {state}{note}.{extra}", StaffKind.INFO)]
        async with self.store.lock(case.customer):
            case = await self.store.get_case(case_id) or case
            if command == "escalate":
                return await self._escalate(case, operator)
            if command == "reopen":
                return await self._reopen(case, operator)
            target = {
                "take": CaseStatus.IN_PROGRESS,
                "needinfo": CaseStatus.NEEDS_INFO,
                "resolve": CaseStatus.RESOLVED,
            }.get(command)
            if target is None:
                known = ", ".join("/" + c for c in STAFF_COMMANDS)
                return [to_staff(case_id, f"Unknown command /{command}. Known: {known}.", StaffKind.REPLY)]
            if command == "take" and case.status is CaseStatus.IN_PROGRESS and case.operator != operator.name:
                outs = await self._reassign(case, operator)
                return outs
            if not lifecycle.can_move(case, target):
                status = case.status.value.replace("_", " ")
                return [
                    to_staff(case_id, f"Case {case.number} is {status}: /{command} does not apply.", StaffKind.REPLY)
                ]
            return await self._set_status(case, target, operator.name)

    async def _set_status(self, case: Case, target: CaseStatus, operator: str, notify: bool = True) -> list[Outbound]:
        now = self.clock()
        new = lifecycle.move(case, target, now, operator=operator)
        await self.store.save_case(new)
        by = f" ({operator})" if operator else ""
        await self.store.log(case.id, "system", f"Status: {case.status} -> {target}{by}")
        await self.store.record("status", case=case.id, old=case.status, new=target, by=operator or "customer")
        if target is CaseStatus.RESOLVED:
            await self.store.record("resolved", case=case.id, seconds=f"{now - case.created_at:.1f}")
        outs = [to_staff(case.id, self._status_line(new, operator), StaffKind.STATUS)]
        if not notify:
            return outs
        lang = case.language
        operator_name = operator or "—"
        outs.append(
            to_customer(
                case.customer,
                t(f"status_changed.{target}", lang, number=case.number, operator=operator_name),
                case_id=case.id,
            )
        )
        if target is CaseStatus.RESOLVED:
            buttons = tuple(Button("⭐" * n, f"rate:{case.id}:{n}") for n in range(1, 6))
            outs.append(
                to_customer(case.customer, t("rate_prompt", lang, number=case.number), buttons=buttons, case_id=case.id)
            )
            await self._remember_buttons(outs)
            await self.store.update_user(case.customer, rate_case=str(case.id))
        return outs

    async def _reassign(self, case: Case, operator: Operator) -> list[Outbound]:
        from dataclasses import replace

        previous = case.operator
        case = replace(case, operator=operator.name)
        await self.store.save_case(case)
        await self.store.log(case.id, "system", f"Taken over by {operator.name} (was {previous or 'nobody'})")
        await self.store.record("reassigned", case=case.id, old=previous, new=operator.name)
        return [
            to_staff(case.id, f"Case {case.number}: {operator.name} took it over from {previous}.", StaffKind.STATUS)
        ]

    async def _escalate(self, case: Case, operator: Operator) -> list[Outbound]:
        from dataclasses import replace

        if not case.is_open:
            return [to_staff(case.id, f"Case {case.number} is resolved: /escalate does not apply.", StaffKind.REPLY)]
        if case.escalated:
            return [to_staff(case.id, f"Case {case.number} is already escalated.", StaffKind.REPLY)]
        case = replace(case, escalated=True)
        await self.store.save_case(case)
        await self.store.log(case.id, "system", f"Escalated by {operator.name}")
        await self.store.record("escalated", case=case.id, operator=operator.name)
        return [
            to_staff(
                case.id, f"⚠️ Case {case.number} escalated to senior specialists by {operator.name}.", StaffKind.STATUS
            ),
            to_customer(case.customer, t("escalated", case.language, number=case.number), case_id=case.id),
        ]

    async def _reopen(self, case: Case, operator: Operator) -> list[Outbound]:
        if case.is_open:
            return [to_staff(case.id, f"Case {case.number} is open already.", StaffKind.REPLY)]
        reopened = lifecycle.reopen(case, operator.name)
        other = await self.store.reopen_case(reopened)
        if other is not None:
            return [to_staff(case.id, f"The customer has another open case, #{other}: write there.", StaffKind.REPLY)]
        await self.store.log(case.id, "system", f"Reopened by {operator.name}")
        await self.store.record("status", case=case.id, old=case.status, new=reopened.status, by=operator.name)
        return [
            to_staff(case.id, self._status_line(reopened, operator.name), StaffKind.STATUS),
            to_customer(case.customer, t("reopened", case.language, number=case.number), case_id=case.id),
        ]

    @staticmethod
    def _status_line(case: Case, operator: str) -> str:
        by = f" ({operator})" if operator else ""
        return f"Case {case.number} → {case.status.value.replace('_', ' ')}{by}"

    async def case_card(self, case_id: int, last: int = 15) -> str | None:
        case = await self.store.get_case(case_id)
        return render_card(case, await self.store.transcript(case_id), last=last) if case else None

    async def history(self, case_id: int) -> list[str]:
        return [render_line(e) for e in await self.store.transcript(case_id)]

    # ================================================================ delivery outcomes
    async def delivery_failed(self, out: Outbound, reason: str) -> list[Outbound]:
        """A message could not be delivered after every retry: tell the other side, keep it in the history."""
        await self.store.record("delivery_failed", case=out.case_id, audience=out.audience, reason=reason[:200])
        if out.audience == "customer":
            if out.case_id is None:
                return []
            await self.store.log(out.case_id, "system", f"Not delivered to the customer: {reason}")
            preview = " ".join(out.text.split())[:200]
            return [
                to_staff(
                    out.case_id,
                    f"⚠️ Not delivered to the customer: {reason}\n« {preview} »",
                    StaffKind.INFO,
                    meta={"undelivered": True},
                )
            ]
        if out.case_id is None:
            return []
        case = await self.store.get_case(out.case_id)
        if case is None:
            return []
        await self.store.log(case.id, "system", f"Not delivered to the staff group ({out.kind}): {reason}")
        if out.kind not in (StaffKind.CUSTOMER_MESSAGE, StaffKind.CASE_OPENED):
            log.error("case %s: a %s message for the staff group was not delivered: %s", case.number, out.kind, reason)
            return []  # a status line or a command's answer: nothing the customer sent is missing
        return [to_customer(case.customer, t("not_delivered_staff", case.language), case_id=case.id)]


def entry_label(entry: FaqEntry, lang: str) -> str:
    """The entry's first phrasing in the customer's language (its title otherwise), short enough for a button."""
    label = next((q for q in entry.questions if detect_language(q, None, "") == lang), entry.title)
    return label if len(label) <= LABEL_MAX else label[: LABEL_MAX - 1] + "…"


_GREETINGS = {
    "привет",
    "приветствую",
    "здравствуйте",
    "здравствуй",
    "добрый день",
    "добрый вечер",
    "доброе утро",
    "доброй ночи",
    "салют",
    "хай",
    "hello",
    "hi",
    "hey",
    "good morning",
    "good afternoon",
    "good evening",
}
_THANKS = {
    "спасибо",
    "спасибо большое",
    "большое спасибо",
    "благодарю",
    "спс",
    "ок спасибо",
    "понятно спасибо",
    "thanks",
    "thank you",
    "thanks a lot",
    "thx",
    "ok thanks",
    "thank you very much",
}


def _small_talk(text: str) -> str | None:
    """A message that is only a greeting or a thank-you gets a reply, not an FAQ lookup."""
    words = " ".join(re.sub(r"[^\w\s]", " ", text.lower().replace("ё", "е")).split())
    if words in _GREETINGS:
        return "small_talk_hello"
    if words in _THANKS:
        return "small_talk_thanks"
    return None
