"""Operators' tools in the staff group: ``/faq``, ``/assign``, ``/cases`` (``core.desk.operators`` dispatches).

``/faq <words or id>`` in a case's topic sends the customer an FAQ answer, in the customer's language, as the
operator's reply (the FAQ as it is now: answers stay in sync with it, reloads included). An entry id, or words
the matcher is sure about, send it at once; otherwise the top three are offered as a REPLY with buttons
(``faqsend:<case>:<entry id>``) that send the one pressed. What was sent is shown in the topic.

``/assign @username`` (or ``/assign`` as a reply to an operator's message: its author) makes that operator the
case's owner: ``Case.operator`` and ``extra["assignee"]``, a status line, an ``assigned`` event.

``/cases`` anywhere in the group lists the open cases, oldest first, with their age and owner.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from typing import TYPE_CHECKING

from core.cases import STATUS_ICONS, Case
from core.desk.answers import entry_label
from core.events import OperatorCommand, OperatorText
from core.faq import Band
from core.messages import Audience, Button, Operator, Outbound, StaffKind, to_staff
from core.store import Unit
from core.texts.staff import status_name

if TYPE_CHECKING:
    from core.desk import SupportDesk

TOOL_COMMANDS = ("faq", "assign", "cases")
TOOL_BUTTONS = ("faqsend",)  # OperatorCommand.command of a tool's button (its argument: the entry id)
FAQ_CHOICES = 3
CASES_SHOWN = 50  # /cases lists at most this many (the oldest)
_HANDLE = re.compile(r"@?([A-Za-z][A-Za-z0-9_]{2,31})")


def _reply(case_id: int | None, text: str, buttons: tuple[Button, ...] = ()) -> Outbound:
    return to_staff(case_id or 0, text, StaffKind.REPLY, buttons=buttons)


class ToolSide:
    async def _tool(self: SupportDesk, name: str, args: str, case_id: int | None, event: OperatorText, u: Unit):
        """``/faq``, ``/assign`` or ``/cases`` typed in the staff group (``case_id``: where it was typed)."""
        if name == "cases":
            return [_reply(case_id, await self._open_cases(u))]
        if case_id is None:
            hint = self.st("unknown_case") if event.place.replies_to_bot else self.st("where_command", name=name)
            return [_reply(None, hint)]
        case = await u.get_case(case_id)
        if case is None:
            return [_reply(case_id, self.st("no_case", id=case_id))]
        if name == "faq":
            return await self._faq_tool(case, args, event.operator, u)
        return self._assign(case, args, event, u)

    async def _tool_button(self: SupportDesk, event: OperatorCommand, u: Unit) -> list[Outbound]:
        """A tool's button: ``faqsend`` sends the chosen FAQ answer."""
        return await self._send_faq(event.case_id, event.argument, event.operator, u)

    # ------------------------------------------------------------------ /faq
    async def _faq_tool(self: SupportDesk, case: Case, query: str, operator: Operator, u: Unit):
        query = " ".join(query.split())
        if not query:
            return [_reply(case.id, self.st("tools.faq_usage"))]
        if not case.is_open:  # said before choices are offered (sending would be refused anyway)
            status = status_name(case.status, self.options.staff_language)
            return [_reply(case.id, self.st("closed_not_sent", number=case.number, status=status))]
        by_id = {entry_id.lower(): entry_id for entry_id in self.entries}
        if query.lower() in by_id:
            return await self._send_faq(case.id, by_id[query.lower()], operator, u)
        match = self.matcher.match(query[: self.options.max_chars])
        if match.band is Band.ANSWER and match.best is not None:
            return await self._send_faq(case.id, match.best.entry.id, operator, u)
        choices = match.candidates[:FAQ_CHOICES]
        if not choices:
            return [_reply(case.id, self.st("tools.faq_none", query=query[:100]))]
        lang = self.options.staff_language
        buttons = tuple(
            Button(f"{c.entry.id} · {entry_label(c.entry, lang)}", f"faqsend:{case.id}:{c.entry.id}") for c in choices
        )
        lines = [self.st("tools.faq_pick", number=case.number)]
        lines += [f"• {c.entry.id}: {entry_label(c.entry, lang)} ({c.score:.2f})" for c in choices]
        return [_reply(case.id, "\n".join(lines), buttons)]

    async def _send_faq(self: SupportDesk, case_id: int, entry_id: str, operator: Operator, u: Unit):
        entry = self.entries.get(entry_id)
        if entry is None:
            return [_reply(case_id, self.st("tools.faq_gone", entry=entry_id))]
        case = await u.get_case(case_id)
        if case is None:
            return [_reply(case_id, self.st("no_case", id=case_id))]
        text = self.fill_hours(entry.answer(case.language), case.language)
        outs = await self._operator_message(case_id, operator, text, (), None, u)
        if any(o.audience == Audience.CUSTOMER for o in outs):
            u.record("faq_sent", case=case_id, entry=entry.id, operator=operator.name)
            shown = self.st("tools.faq_sent", operator=operator.name, entry=entry.id, text=text)
            outs.insert(0, to_staff(case_id, shown, StaffKind.INFO))
        return outs

    # ------------------------------------------------------------------ /assign
    def _assign(self: SupportDesk, case: Case, args: str, event: OperatorText, u: Unit) -> list[Outbound]:
        word = args.split()[0] if args.split() else ""
        handle = _HANDLE.fullmatch(word)
        if handle is not None:
            who = "@" + handle.group(1)
        elif not word and event.place.reply_author and not event.place.replies_to_bot:
            who = event.place.reply_author
        else:
            return [_reply(case.id, self.st("tools.assign_usage"))]
        if not case.is_open:
            status = status_name(case.status, self.options.staff_language)
            return [_reply(case.id, self.st("not_applicable", number=case.number, status=status, command="assign"))]
        if case.extra.get("assignee") == who:
            return [_reply(case.id, self.st("tools.assigned_already", number=case.number, who=who))]
        by = event.operator.name
        assigned = replace(case, operator=who, extra={**case.extra, "assignee": who})
        u.save_case(assigned)
        u.log(case.id, "system", f"Assigned to {who} by {by} (was {case.operator or 'nobody'})")
        u.record("assigned", case=case.id, assignee=who, old=case.operator or None, by=by)
        text = self.st("tools.assigned", number=case.number, who=who, by=by)
        return [to_staff(case.id, text, StaffKind.STATUS, meta={"title": assigned.topic_title()})]

    # ------------------------------------------------------------------ /cases
    async def _open_cases(self: SupportDesk, u: Unit) -> str:
        ids = await self.store.open_case_ids()
        found = await asyncio.gather(*(self.store.get_case(i) for i in ids))
        cases = sorted((c for c in found if c is not None and c.is_open), key=lambda c: (c.created_at, c.id))
        if not cases:
            return self.st("tools.cases_none")
        now = self.clock()
        lines = [self.st("tools.cases_header", n=len(cases))]
        for case in cases[:CASES_SHOWN]:
            icon = STATUS_ICONS[case.status] + ("⚠️" if case.escalated else "")
            lines.append(
                self.st(
                    "tools.cases_line",
                    icon=icon,
                    number=case.number,
                    channel=case.channel_title,
                    name=case.display_name,
                    age=self._age(now - case.created_at),
                    owner=case.extra.get("assignee") or case.operator or self.st("tools.nobody"),
                )
            )
        if len(cases) > CASES_SHOWN:
            lines.append(self.st("tools.cases_more", n=len(cases) - CASES_SHOWN))
        return "\n".join(lines)

    def _age(self: SupportDesk, seconds: float) -> str:
        minutes = max(0, int(seconds // 60))
        if minutes < 60:
            return self.st("tools.age_minutes", m=minutes)
        if minutes < 24 * 60:
            return self.st("tools.age_hours", h=minutes // 60, m=minutes % 60)
        return self.st("tools.age_days", d=minutes // (24 * 60), h=minutes // 60 % 24)
