"""The operators' side of the desk: what a line typed in the staff group means, for every staff front end.

A line is a ``/command`` (``STAFF_COMMANDS``; ``/case N`` anywhere), a ``!note`` (kept, never sent), or a reply
for the customer of the case the line belongs to (its topic, or the case message it replies to). A
command-shaped word that is no staff command (``/resovle``) is refused with a hint instead of reaching the
customer; a line that starts with ``//`` is sent with one slash. Text that is not command-shaped
(``/etc/hosts is the file``) is a message like any other.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING

from core import cases as lifecycle
from core.cases import Case, CaseStatus
from core.desk.managers import GAPS_BUTTON, MANAGER_COMMANDS
from core.desk.tools import TOOL_BUTTONS, TOOL_COMMANDS
from core.events import DeliveryReport, OperatorCommand, OperatorEdit, OperatorText, StaffPlace
from core.messages import Audience, Button, Operator, Outbound, StaffKind, to_customer, to_staff
from core.store import Unit
from core.texts import t
from core.texts.staff import st, status_name

if TYPE_CHECKING:
    from core.desk import SupportDesk

STAFF_COMMANDS = (
    "take", "needinfo", "resolve", "escalate", "reopen", "case", "ban", "unban", "called", *TOOL_COMMANDS,
    *MANAGER_COMMANDS,
)  # fmt: skip
_STAFF_COMMAND = re.compile(r"^/([A-Za-z_]+)(?:@\S+)?(?:\s+(.*))?$", re.S)
UNKNOWN_CASE = st("unknown_case", "en")
_TARGETS = {"take": CaseStatus.IN_PROGRESS, "needinfo": CaseStatus.NEEDS_INFO, "resolve": CaseStatus.RESOLVED}


def parse_staff_command(text: str) -> tuple[str, str] | None:
    """``(command, arguments)`` when ``text`` is command-shaped (``/word`` alone or before a space)."""
    m = _STAFF_COMMAND.match(text.strip())
    return (m.group(1).lower(), (m.group(2) or "").strip()) if m else None


def here(place: StaffPlace, outs: list[Outbound]) -> list[Outbound]:
    """Command answers (REPLY) go where the command was typed, not necessarily to the case's topic."""
    if not place.reply:
        return outs
    return [
        replace(o, meta={**o.meta, **place.reply}) if o.audience == Audience.STAFF and o.kind == StaffKind.REPLY else o
        for o in outs
    ]


def reply(case_id: int | None, text: str) -> Outbound:
    return to_staff(case_id or 0, text, StaffKind.REPLY)


class OperatorSide:
    def st(self: SupportDesk, key: str, **values: object) -> str:
        """A staff-facing text in ``STAFF_LANGUAGE``."""
        return st(key, self.options.staff_language, **values)

    def status_line(self: SupportDesk, case: Case, operator: str) -> str:
        return status_line(case, operator, self.options.staff_language)

    async def case_of_place(self: SupportDesk, place: StaffPlace) -> int | None:
        if place.case_id is not None:
            return place.case_id
        if place.topic is not None:
            case_id = await self.store.lookup("tgtopic", place.topic)
            if case_id is not None:
                return case_id
        if place.reply_to is not None:
            return await self.store.lookup("tgmsg", place.reply_to)
        return None

    async def _operator_text(self: SupportDesk, event: OperatorText, case_id: int | None, u: Unit):
        text = event.text.strip()
        parsed = None if event.is_caption else parse_staff_command(text)
        if parsed is not None:
            name, args = parsed
            if name not in STAFF_COMMANDS:
                known = ", ".join("/" + c for c in STAFF_COMMANDS)
                return here(event.place, [reply(case_id, self.st("unknown_command", name=name, known=known))])
            if name in MANAGER_COMMANDS:  # /stats, /gaps: core.desk.managers
                return here(event.place, await self.manager_staff(name, args, event.operator.id, u))
            if name in TOOL_COMMANDS:  # /faq, /assign, /cases: core.desk.tools
                return here(event.place, await self._tool(name, args, case_id, event, u))
            if name == "case" and args:
                number = args.split()[0].lstrip("#")
                if not number.isdigit():
                    return here(event.place, [reply(case_id, self.st("usage_case"))])
                return here(event.place, await self._command(int(number), "case", event.operator, u))
            if case_id is None:
                hint = self.st("unknown_case") if event.place.replies_to_bot else self.st("where_command", name=name)
                return here(event.place, [reply(None, hint)])
            return here(event.place, await self._command(case_id, name, event.operator, u))
        if case_id is None:
            if event.place.replies_to_bot:  # a reply to a case message whose link expired (or never was)
                return here(event.place, [reply(None, self.st("unknown_case"))])
            return []  # general chat between operators
        if text.startswith("!"):
            return await self._note(case_id, event.operator, text[1:].strip(), u)
        if text.startswith("//"):
            text = text[1:]
        if not text and not event.attachments and event.origin is None:
            return here(event.place, [reply(case_id, self.st("empty"))])
        origin = event.origin if text == event.text.strip() else None  # an unescaped "//" is sent as text
        return await self._operator_message(case_id, event.operator, text, event.attachments, origin, u)

    async def _operator_edit(self: SupportDesk, event: OperatorEdit, case_id: int | None, u: Unit):
        """An operator's edit reaches the customer as a new message; an edited note or command changes nothing."""
        text = event.text.strip()
        if case_id is None or not text or text.startswith("!") or parse_staff_command(text):
            return []
        return await self._operator_message(case_id, event.operator, f"✏️ {text}", (), None, u)

    async def _operator_button(self: SupportDesk, event: OperatorCommand, u: Unit):
        if event.command == GAPS_BUTTON:  # a /gaps group: core.desk.managers
            return here(event.place, await self.manager_button(event.argument, event.operator.id, u))
        if event.command in TOOL_BUTTONS:  # a /faq choice: core.desk.tools
            return here(event.place, await self._tool_button(event, u))
        if event.command not in STAFF_COMMANDS:
            return here(event.place, [reply(event.case_id, self.st("unknown_button"))])
        return here(event.place, await self._command(event.case_id, event.command, event.operator, u))

    async def _operator_message(self: SupportDesk, case_id, operator: Operator, text, attachments, copy_from, u):
        """An operator wrote in the case's topic: relay to the customer, note the first response."""
        case = await u.get_case(case_id)
        if case is None:
            return [reply(case_id, self.st("no_case", id=case_id))]
        if not case.is_open:
            status = status_name(case.status, self.options.staff_language)
            return [reply(case_id, self.st("closed_not_sent", number=case.number, status=status))]
        now = self.clock()
        updated = lifecycle.record_reply(case, now, operator.name)
        if case.first_reply_at is None:
            updated = self.first_reply(updated, u)  # the SLA reminders are off: core.desk.sla
        if updated is not case:
            u.save_case(updated)
            if case.first_reply_at is None:
                self.record_first_response(case, now, operator.name, u)  # core.desk.figures
            if updated.status is not case.status:
                u.record("status", case=case.id, old=case.status, new=updated.status, by=operator.name)
        u.log(case.id, "operator", text, attachments)
        u.record("operator_reply", case=case.id, operator=operator.name, channel=case.customer.channel)
        outs = [
            to_customer(
                case.customer,
                text,
                attachments=attachments,
                copy_from=copy_from,
                case_id=case.id,
                lang=case.language,
                meta={"operator": operator.name},
            )
        ]
        if updated.status is not case.status:
            line = self.status_line(updated, operator.name)
            outs.append(to_staff(case.id, line, StaffKind.STATUS, meta={"title": updated.topic_title()}))
            taken = t("requests.taken", case.language, operator=operator.name, number=case.number)
            outs.insert(1, to_customer(case.customer, taken, case_id=case.id))  # the first reply: "in progress"
        return outs + self.sla_cleared(case, updated)

    async def _note(self: SupportDesk, case_id: int, operator: Operator, text: str, u: Unit) -> list[Outbound]:
        """A private note (a message starting with "!"): kept in the history, never sent to the customer."""
        if await u.get_case(case_id) is None:
            return [reply(case_id, self.st("no_case", id=case_id))]
        u.log(case_id, "note", f"{operator.name}: {text}")
        u.record("note", case=case_id, operator=operator.name)
        return []

    async def _command(self: SupportDesk, case_id: int, command: str, operator: Operator, u: Unit):
        """Staff commands on a case: take, needinfo, resolve, escalate, reopen, case, ban, unban, called."""
        case = await u.get_case(case_id)
        if case is None:
            return [reply(case_id, self.st("no_case", id=case_id))]
        if command == "case":
            return [reply(case_id, self.card(case, await u.transcript(case_id), last=50))]
        if command in ("ban", "unban"):
            was = await u.is_banned(case.customer)
            (u.ban if command == "ban" else u.unban)(case.customer)
            u.record(command, case=case_id, customer=case.customer.key, operator=operator.name)
            dropped = await u.dropped(case.customer)
            note = "" if was != (command == "ban") else self.st("no_change")
            extra = self.st("dropped", n=dropped) if dropped else ""
            text = self.st("banned" if command == "ban" else "unbanned", name=case.display_name, note=note, extra=extra)
            return [to_staff(case_id, text, StaffKind.INFO)]
        if command == "escalate":
            return await self.escalate(case, operator, u)  # also to the escalation chat: core.desk.sla
        if command == "reopen":
            return await self._reopen(case, operator, u)
        if command == "called":  # the customer was called back: core.desk.requests
            return self.called(case, operator, u)
        target = _TARGETS.get(command)
        if target is None:
            known = ", ".join("/" + c for c in STAFF_COMMANDS)
            return [reply(case_id, self.st("unknown_command_short", name=command, known=known))]
        if command == "take" and case.status is CaseStatus.IN_PROGRESS and case.operator != operator.name:
            return self._reassign(case, operator, u)
        if not lifecycle.can_move(case, target):
            status = status_name(case.status, self.options.staff_language)
            return [reply(case_id, self.st("not_applicable", number=case.number, status=status, command=command))]
        return self.set_status(case, target, operator.name, u)

    def set_status(self: SupportDesk, case: Case, target: CaseStatus, operator: str, u: Unit, notify: bool = True):
        now = self.clock()
        new = lifecycle.move(case, target, now, operator=operator)
        u.save_case(new)
        by = f" ({operator})" if operator else ""
        u.log(case.id, "system", f"Status: {case.status} -> {target}{by}")
        u.record("status", case=case.id, old=case.status, new=target, by=operator or "customer")
        if target is CaseStatus.RESOLVED:
            self.record_resolved(case, now, operator, u)  # core.desk.figures
        outs = [to_staff(case.id, self.status_line(new, operator), StaffKind.STATUS, meta={"title": new.topic_title()})]
        if not notify:
            return outs
        lang = case.language
        outs.append(
            to_customer(
                case.customer,
                t(f"status_changed.{target}", lang, number=case.number, operator=operator or "—"),
                case_id=case.id,
            )
        )
        if target is CaseStatus.RESOLVED:
            buttons = tuple(Button("⭐" * n, f"rate:{case.id}:{n}") for n in range(1, 6))
            outs.append(
                to_customer(case.customer, t("rate_prompt", lang, number=case.number), buttons=buttons, case_id=case.id)
            )
            self.remember_buttons(u, outs)
            u.update_user(case.customer, rate_case=str(case.id))
        return outs

    def _reassign(self: SupportDesk, case: Case, operator: Operator, u: Unit) -> list[Outbound]:
        previous = case.operator
        case = replace(case, operator=operator.name)
        u.save_case(case)
        u.log(case.id, "system", f"Taken over by {operator.name} (was {previous or 'nobody'})")
        u.record("reassigned", case=case.id, old=previous, new=operator.name)
        text = self.st("taken_over", number=case.number, new=operator.name, old=previous or "—")
        return [to_staff(case.id, text, StaffKind.STATUS, meta={"title": case.topic_title()})]

    def _escalate(self: SupportDesk, case: Case, operator: Operator, u: Unit) -> list[Outbound]:
        if not case.is_open:
            status = status_name(case.status, self.options.staff_language)
            return [reply(case.id, self.st("not_applicable", number=case.number, status=status, command="escalate"))]
        if case.escalated:
            return [reply(case.id, self.st("already_escalated", number=case.number))]
        case = replace(case, escalated=True)
        u.save_case(case)
        u.log(case.id, "system", f"Escalated by {operator.name}")
        u.record("escalated", case=case.id, operator=operator.name)
        return [
            to_staff(
                case.id,
                self.st("escalated", number=case.number, operator=operator.name),
                StaffKind.STATUS,
                meta={"title": case.topic_title()},
            ),
            to_customer(case.customer, t("escalated", case.language, number=case.number), case_id=case.id),
        ]

    async def _reopen(self: SupportDesk, case: Case, operator: Operator, u: Unit) -> list[Outbound]:
        if case.is_open:
            return [reply(case.id, self.st("open_already", number=case.number))]
        other = await u.open_case_of(case.customer)
        if other is not None:
            return [reply(case.id, self.st("other_open", number=other.number))]
        reopened = lifecycle.reopen(case, operator.name)
        u.reopen_case(reopened)
        u.log(case.id, "system", f"Reopened by {operator.name}")
        u.record("status", case=case.id, old=case.status, new=reopened.status, by=operator.name)
        u.record("reopened", case=case.id, customer=case.customer.key, by=operator.name)
        return [
            to_staff(
                case.id,
                self.status_line(reopened, operator.name),
                StaffKind.STATUS,
                meta={"title": reopened.topic_title()},
            ),
            to_customer(case.customer, t("reopened", case.language, number=case.number), case_id=case.id),
        ]

    async def _delivery_report(self: SupportDesk, event: DeliveryReport, u: Unit) -> list[Outbound]:
        """A message could not be delivered after every retry: tell the other side, keep it in the history."""
        out, reason = event.out, event.reason
        u.record("delivery_failed", case=out.case_id, audience=out.audience, reason=reason[:200])
        if out.meta.get("undelivered"):  # a failure notice that failed: do not loop
            return []
        if out.audience == Audience.CUSTOMER:
            if out.case_id is None:
                return []
            u.log(out.case_id, "system", f"Not delivered to the customer: {reason}")
            preview = " ".join(out.text.split())[:200]
            return [
                to_staff(
                    out.case_id,
                    self.st("not_delivered_customer", reason=reason, preview=preview),
                    StaffKind.INFO,
                    meta={"undelivered": True},
                )
            ]
        if out.case_id is None:
            return []
        case = await u.get_case(out.case_id)
        if case is None:
            return []
        u.log(case.id, "system", f"Not delivered to the staff group ({out.kind}): {reason}")
        if out.kind not in (StaffKind.CUSTOMER_MESSAGE, StaffKind.CASE_OPENED):
            return []  # a status line or a command's answer: nothing the customer sent is missing
        return [
            to_customer(
                case.customer, t("not_delivered_staff", case.language), case_id=case.id, meta={"undelivered": True}
            )
        ]


def status_line(case: Case, operator: str, lang: str | None = "en") -> str:
    by = f" ({operator})" if operator else ""
    return st("status_line", lang, number=case.number, status=status_name(case.status, lang), by=by)
