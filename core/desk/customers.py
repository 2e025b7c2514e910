"""The customer side of the desk: messages, buttons, commands, edits; FAQ answers, handoffs and ratings."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import TYPE_CHECKING

from core import cases as lifecycle
from core.cards import card_buttons, fmt_time, recent_conversation
from core.cases import Case, CaseStatus, HandoffReason
from core.desk.answers import answer_buttons, small_talk, typed_label
from core.desk.language import asks_for_human, complains, conversation_language
from core.events import CustomerEdit
from core.messages import Inbound, Outbound, StaffKind, to_customer, to_staff
from core.store import Unit
from core.texts import t

if TYPE_CHECKING:
    from core.desk import SupportDesk

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
    "forget": "forget",  # delete my data: core.desk.privacy
    "забыть": "forget",
    "callback": "callback",
    "перезвонить": "callback",
}
_CHOICE = re.compile(r"[0-9]{1,2}")  # a typed button number (ASCII digits only)
COMMAND = re.compile(r"^/([^\s@]+)(?:@\S+)?\s*(.*)$", re.S)
BUTTONS_TTL = 24 * 3600  # a typed number presses a button offered at most this long ago
UNSUPPORTED_NOTICE_EVERY = 3600  # "that kind of message is not supported": at most once an hour


class CustomerSide:
    async def _customer(self: SupportDesk, event: Inbound, u: Unit) -> list[Outbound]:
        user = event.sender
        if await u.is_banned(user):
            u.count_dropped(user)
            u.record("banned_dropped", customer=user.key)
            return []
        managed = await self.manager_message(event, u)  # /stats, /gaps from a manager: core.desk.managers
        if managed is not None:
            return managed
        outs = await self._converse(event, u)
        self.remember_buttons(u, outs)
        if event.reply_window is not None:
            outs += await self._window_note(event, u)
        return outs + await self.count_message(event, u)  # FLOOD_LIMIT a minute: core.desk.privacy

    async def _window_note(self: SupportDesk, event: Inbound, u: Unit) -> list[Outbound]:
        """Show in the case's topic until when free-form replies are possible (a platform with a reply window):
        once per case, and again when the customer writes after the window had closed."""
        case = await u.open_case_of(event.sender)
        if case is None or (case.extra.get("window_noted") and not event.window_reopened):
            return []
        u.save_case(replace(case, extra={**case.extra, "window_noted": "1"}))
        closes = fmt_time(event.reply_window, self.options.staff_language, self.options.timezone)
        text = self.st("window", channel=case.channel_title, closes=closes)
        return [to_staff(case.id, text, StaffKind.INFO, meta={"window_closes": event.reply_window})]

    async def _converse(self: SupportDesk, event: Inbound, u: Unit) -> list[Outbound]:
        return await self._converse_with(event, await u.get_user(event.sender), u)

    async def _converse_with(self: SupportDesk, event: Inbound, state: dict[str, str], u: Unit) -> list[Outbound]:
        user = event.sender
        text = (event.text or "").strip()
        lang = self._language(text, event, state)
        profile: dict[str, str | None] = {"lang": lang}
        if event.name:
            profile["name"] = event.name
        if event.handle:
            profile["handle"] = event.handle
        if not state:
            u.record("conversation_started", customer=user.key, channel=user.channel, lang=lang)
        await self.conversation_step(user, state, u)  # managers' figures: core.desk.figures
        if any(state.get(k) != v for k, v in profile.items() if v is not None):
            u.update_user(user, **profile)
        state.update({k: v for k, v in profile.items() if v is not None})

        if event.unsupported:
            return await self._unsupported(event, state, lang, u)
        payload = event.payload
        if payload is None and text:
            payload = typed_label(text, state)
        if payload is None and _CHOICE.fullmatch(text):
            number = int(text)
            offered = json.loads(state.get("buttons") or "[]")
            fresh = self.clock() - float(state.get("buttons_at") or 0) <= BUTTONS_TTL
            if fresh and 1 <= number <= len(offered):
                payload = offered[number - 1]
            elif state.get("rate_case") and 1 <= number <= 5:  # the rating asked for, even after other messages
                payload = f"rate:{state['rate_case']}:{number}"
        outs = await self.forget_step(event, payload, text, state, lang, u)  # "Delete your data?": core.desk.privacy
        if outs is not None:
            return outs
        if payload:
            return await self._on_payload(event, payload, state, lang, u)

        command = COMMAND.match(text)
        name = COMMANDS.get(command.group(1).lower()) if command else None
        if name is not None:
            return await self._on_command(event, name, state, lang, u)
        if state.get("comment_case") and text and not command:
            return await self._comment(event, text, state, lang, u)
        outs = await self.requests_first(event, text, state, lang, u)  # core.desk.requests: pending questions...
        if outs is not None:
            return outs

        case = await u.open_case_of(user)
        if case is not None:  # everything else, "/home is full" included, goes to the operator
            return await self._relay(self.keep_details(case, text, state, u), event, text, u)
        if command or text == "/":
            shown = "/" + command.group(1) if command else "/"
            return [to_customer(user, t("unknown_command", lang, command=shown))]

        u.record("message", customer=user.key, channel=user.channel)
        outs = await self.follow_up(event, text, state, lang, u)  # a quoted case number, a resolved case
        if outs is not None:
            return outs
        if self.flooding(state) and not command:  # past FLOOD_LIMIT: kept, not answered one by one (privacy)
            u.push_recent(user, "customer", text, event.attachments)
            return []
        if not text and event.attachments:
            u.push_recent(user, "customer", text, event.attachments)
            return [self._offer_operator(user, lang, "attachment_no_case", HandoffReason.ATTACHMENT)]
        if not text:
            return [to_customer(user, t("empty_message", lang))]
        u.push_recent(user, "customer", text, event.attachments)
        if complains(text):
            return await self._handoff(event, state, lang, HandoffReason.COMPLAINT, u)
        if asks_for_human(text):
            return await self._handoff(event, state, lang, HandoffReason.REQUESTED, u)
        chat = small_talk(text)
        if chat:
            u.record("small_talk", customer=user.key, kind=chat)
            return [to_customer(user, t(chat, lang))]
        if not any(ch.isalnum() for ch in text):  # emoji, punctuation: nothing to look up
            return [to_customer(user, t("no_words", lang))]
        return self._answer(user, text[: self.options.max_chars], state, lang, u)

    async def _unsupported(self: SupportDesk, event: Inbound, state: dict[str, str], lang: str, u: Unit):
        """A message the platform could not pass on: the operator of an open case sees it; the customer is told
        at most once an hour (not for every such message), and no FAQ answer is looked up."""
        outs: list[Outbound] = []
        case = await u.open_case_of(event.sender)
        if case is not None:
            outs += await self._relay(case, event, event.text, u)
        if self.clock() - float(state.get("unsupported_at") or 0) >= UNSUPPORTED_NOTICE_EVERY:
            u.update_user(event.sender, unsupported_at=repr(self.clock()))
            outs.append(to_customer(event.sender, t("unsupported_message", lang)))
        return outs

    def _language(self: SupportDesk, text: str, event: Inbound, state: dict[str, str]) -> str:
        """The conversation's language (``core.desk.language``): from the customer's real words only."""
        words = COMMAND.sub(r"\2", text) if text.startswith("/") else text
        return conversation_language(
            words, state.get("lang"), event.language, self.options.default_language, self.knows_word
        )

    async def _on_payload(self: SupportDesk, event: Inbound, payload: str, state, lang: str, u: Unit):
        user = event.sender
        kind, _, arg = payload.partition(":")
        if kind == "faq" and arg in self.entries:
            entry = self.entries[arg]
            u.record("faq_chosen", customer=user.key, entry=entry.id)
            self.faq_settled(user, state, u)  # core.desk.figures
            u.push_recent(user, "bot", f"FAQ answer (chosen): {entry.id}")
            answer = self.fill_hours(entry.answer(lang), lang)  # {working_hours}: core.desk.sla
            return [to_customer(user, answer, buttons=answer_buttons(entry, lang), lang=lang)]
        if kind == "nohelp":
            u.record("faq_not_helped", customer=user.key, entry=arg or None, text=state.get("last_q") or None)
            self.faq_unsettled(user, state, u)
            u.push_recent(user, "customer", f"(the answer {arg} did not help)")
            return [self._offer_operator(user, lang, "not_helped", HandoffReason.NOT_HELPED)]
        if kind == "op":
            reason = arg if arg in HandoffReason._value2member_map_ else HandoffReason.REQUESTED
            return await self._handoff(event, state, lang, reason, u)
        if kind == "rephrase":
            return [to_customer(user, t("rephrase_hint", lang))]
        if kind == "prep" and state.get("prep"):  # "Skip" the questions before a handoff
            return await self.press_skip(event, state, lang, u)
        if kind == "rate":
            case_no, _, stars = arg.partition(":")
            if case_no.isdigit() and stars.isdigit():
                return await self._rate(user, int(case_no), int(stars), lang, u)
        return [to_customer(user, t("choice_expired", lang))]

    async def _on_command(self: SupportDesk, event: Inbound, name: str, state, lang: str, u: Unit):
        user = event.sender
        u.record("command", customer=user.key, command=name)
        if name == "start":
            u.update_user(user, buttons=None)
            self._flows_off(u, user, state)
            return [to_customer(user, t("greeting", lang))]
        if name == "help":
            return [to_customer(user, t("help", lang) + "\n" + self.hours_line(lang))]
        if name == "operator":
            return await self._handoff(event, state, lang, HandoffReason.REQUESTED, u)
        if name == "forget":
            return self.forget_ask(user, lang, u)  # core.desk.privacy
        if name == "status":
            return await self.status_command(event, lang, u)
        if name == "callback":
            return await self.start_callback(event, "", state, lang, u)
        # cancel: close the open case, or drop whatever choice was pending
        case = await u.open_case_of(user)
        u.update_user(user, buttons=None, tried=None)
        if self._flows_off(u, user, state):  # a question of the bot's was pending: that is what is cancelled
            return [to_customer(user, t("requests.flow_cancelled", lang))]
        if case is None:
            return [to_customer(user, t("cancel_nothing", lang))]
        old = case.status
        case = lifecycle.move(case, CaseStatus.CANCELLED, self.clock(), closed_by="customer")
        u.save_case(case)
        u.log(case.id, "system", "The customer closed the case (/cancel)")
        u.record("status", case=case.id, old=old, new=case.status, by="customer", channel=user.channel)
        return [
            to_customer(user, t("cancel_case", lang, number=case.number)),
            to_staff(
                case.id,
                self.st("customer_cancelled", number=case.number),
                StaffKind.STATUS,
                meta={"title": case.topic_title()},
            ),
        ]

    async def _handoff(self: SupportDesk, event: Inbound, state, lang: str, reason: str, u: Unit, extra=None):
        """Open a case (``extra``: the request is prepared, its facts for ``Case.extra``; see core.desk.requests)."""
        user = event.sender
        existing = await u.open_case_of(user)
        if existing is not None:
            status = t(f"status.{existing.status}", lang)
            return [to_customer(user, t("already_open", lang, number=existing.number, status=status))]
        early = await self.before_handoff(event, state, lang, reason, u, extra)  # reopen, or ask first
        if early is not None:
            return early
        best: dict[str, float] = {}  # the best score per entry, in the order tried
        for e, s in json.loads(state.get("tried") or "[]"):
            best[e] = max(float(s), best.get(e, 0.0))
        case = Case(
            id=await u.next_case_id(),
            customer=user,
            status=CaseStatus.ACCEPTED,
            created_at=self.clock(),
            language=lang,
            customer_name=state.get("name", ""),
            customer_handle=state.get("handle", ""),
            reason=reason,
            tried=tuple(best.items()),
            escalated=reason == HandoffReason.COMPLAINT,  # a complaint goes to the second line at once
            extra=await self.case_extras(user, state, reason, lang, extra, u),
        )
        recent = await u.recent(user)
        u.create_case(case, recent)
        u.update_user(user, tried=None, buttons=None)
        u.record("handoff", case=case.id, customer=user.key, channel=user.channel, reason=reason)
        self.faq_unsettled(user, state, u, handed_off=True)
        card = self.card(case, recent_conversation([json.loads(r) for r in recent]))
        outs = [
            to_customer(user, t("handoff", lang, number=case.number), lang=lang, case_id=case.id),
            to_staff(
                case.id,
                card,
                StaffKind.CASE_OPENED,
                buttons=card_buttons(case.id, self.options.staff_language),
                meta={"title": case.topic_title(), **self.card_meta(case)},
            ),
            *self.after_handoff(case, lang, u),
        ]
        return outs + await self.opened(case, card, lang, u)  # SLA, escalation chat, outside hours: core.desk.sla

    async def _relay(self: SupportDesk, case: Case, event: Inbound, text: str, u: Unit) -> list[Outbound]:
        u.log(case.id, "customer", text, event.attachments)
        u.record("customer_message", case=case.id, customer=case.customer.key)
        outs = [
            to_staff(
                case.id,
                text,
                StaffKind.CUSTOMER_MESSAGE,
                attachments=event.attachments,
                copy_from=event.origin,
                meta={"name": case.display_name, **await self.flood_meta(case.customer, u)},  # core.desk.privacy
            )
        ]
        if case.status is CaseStatus.NEEDS_INFO:  # the customer answered: back to the operator
            outs += self.set_status(case, CaseStatus.IN_PROGRESS, case.operator or "", u, notify=False)
            told = t("requests.back_to_operator", case.language, number=case.number)
            outs.append(to_customer(case.customer, told, case_id=case.id))
        return outs

    async def _edit(self: SupportDesk, event: CustomerEdit, u: Unit) -> list[Outbound]:
        """A customer's edit: shown in the open case's topic; before a handoff it changes nothing."""
        if await u.is_banned(event.sender) or not event.text.strip():
            return []
        case = await u.open_case_of(event.sender)
        if case is None:
            return []
        text = self.st("edited", text=event.text)
        u.log(case.id, "customer", text)
        u.record("customer_edit", case=case.id, customer=event.sender.key)
        return [to_staff(case.id, text, StaffKind.INFO)]
