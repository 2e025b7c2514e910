"""Working hours, the first-response SLA and the second line: the desk's side (``core.hours`` does the clock work).

* Working hours (``WORKING_HOURS``, ``HOLIDAYS``, ``TIMEZONE``): a case opened outside them is opened as ever,
  and the customer is told when the next working period starts (at most once a day per customer, in their
  language). ``{working_hours}`` in an FAQ answer, and ``/help``, show the hours as configured.
* The SLA (``FIRST_RESPONSE_SLA_MINUTES``, counted in working time): a new case schedules two reminders in
  the ``sla:due`` zset (at the SLA and at twice it), in the handoff's own unit of work; the first operator
  reply removes them. ``bots.sla`` claims what is due and hands the intake a ``Reminder``; ``_reminder``
  posts it in the case's topic, mentioning ``ONDUTY_USERNAMES``, and flags the topic's name (⏰).
* Escalation: an escalated case (``/escalate``, the card's button, or a complaint) is also posted, as its
  card, to the escalation chat when ``TELEGRAM_ESCALATION_CHAT_ID`` is set (``StaffKind.ESCALATION``: the
  staff front end adds the link to the case's topic).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from core.cases import Case
from core.events import Reminder
from core.messages import Operator, Outbound, StaffKind, to_customer, to_staff
from core.store import Unit
from core.texts import t

if TYPE_CHECKING:
    from core.desk import SupportDesk

PLACEHOLDER = "{working_hours}"
REMINDERS = (1, 2)  # at the SLA, then at twice it


def sla_member(case_id: int, number: int) -> str:
    """A reminder's entry in the ``sla:due`` zset."""
    return f"{case_id}:{number}"


def parse_member(member: str) -> Reminder | None:
    case_id, _, number = member.partition(":")
    if not (case_id.isdigit() and number.isdigit()):
        return None
    return Reminder(int(case_id), int(number), message_id=member)


class HoursSide:
    # ------------------------------------------------------------------ working hours
    def fill_hours(self: SupportDesk, text: str, lang: str | None) -> str:
        """An FAQ answer with ``{working_hours}`` replaced by the configured hours, in ``lang``."""
        return text.replace(PLACEHOLDER, self.options.hours.describe(lang)) if PLACEHOLDER in text else text

    def hours_line(self: SupportDesk, lang: str | None) -> str:
        """The working hours as a line of ``/help``."""
        return t("hours.help", lang, hours=self.options.hours.describe(lang))

    async def opened(self: SupportDesk, case: Case, card: str, lang: str, u: Unit) -> list[Outbound]:
        """What a new case brings besides the handoff: its reminders scheduled, a complaint posted to the
        escalation chat, the customer told when operators are back if they are away."""
        self.schedule_sla(case, u)
        outs = self.escalation_post(case, self.st("hours.by_complaint"), card) if case.escalated else []
        return outs + await self.outside_hours(case, lang, u)

    async def outside_hours(self: SupportDesk, case: Case, lang: str, u: Unit) -> list[Outbound]:
        hours = self.options.hours
        now = self.clock()
        if hours.is_open(now):
            return []
        today = hours.local_date(now)
        if (await u.get_user(case.customer)).get("hours_noted") == today:
            return []
        u.update_user(case.customer, hours_noted=today)
        u.record("outside_hours", case=case.id, customer=case.customer.key)
        opens = hours.next_opening(now)
        shown = hours.describe(lang)
        if opens is None:
            text = t("hours.outside_unknown", lang, hours=shown)
        else:
            text = t("hours.outside", lang, opens=hours.moment(opens, lang), hours=shown)
        return [to_customer(case.customer, text, case_id=case.id, lang=lang)]

    # ------------------------------------------------------------------ the first-response SLA
    def schedule_sla(self: SupportDesk, case: Case, u: Unit) -> None:
        minutes = self.options.sla_minutes
        if minutes <= 0:
            return
        args: list[str] = []
        for number in REMINDERS:
            due = self.options.hours.add_working_seconds(case.created_at, number * minutes * 60)
            if due is not None:
                args += [repr(due), sla_member(case.id, number)]
        if args:
            u.op("ZADD", self.store.keys.sla_due, *args)

    def first_reply(self: SupportDesk, case: Case, u: Unit) -> Case:
        """The case got its first operator reply: no reminders any more, no overdue flag."""
        u.op("ZREM", self.store.keys.sla_due, *(sla_member(case.id, n) for n in REMINDERS))
        return replace(case, extra={**case.extra, "overdue": ""}) if case.extra.get("overdue") else case

    def sla_cleared(self: SupportDesk, before: Case, after: Case) -> list[Outbound]:
        """An overdue case answered without a status change: a line that renames its topic (no more ⏰)."""
        if not before.extra.get("overdue") or after.extra.get("overdue") or after.status is not before.status:
            return []
        worked = self.options.hours.working_seconds_between(before.created_at, after.first_reply_at or self.clock())
        text = self.st(
            "hours.answered_late", number=after.number, minutes=int(worked // 60), sla=f"{self.options.sla_minutes:g}"
        )
        return [to_staff(after.id, text, StaffKind.STATUS, meta={"title": after.topic_title()})]

    async def _reminder(self: SupportDesk, event: Reminder, u: Unit) -> list[Outbound]:
        """A reminder came due: posted in the case's topic unless the case was answered or closed meanwhile."""
        u.op("ZREM", self.store.keys.sla_due, sla_member(event.case_id, event.number))
        case = await u.get_case(event.case_id)
        if case is None or not case.is_open or case.first_reply_at is not None:
            return []
        sla = self.options.sla_minutes
        minutes = f"{sla * event.number:g}"
        flagged = replace(case, extra={**case.extra, "overdue": str(event.number)})
        u.save_case(flagged)
        u.log(case.id, "system", f"No operator reply for {minutes} working minutes (reminder {event.number})")
        u.record("sla_reminder", case=case.id, number=event.number)
        mention = " " + " ".join(self.options.onduty) if self.options.onduty else ""
        key = f"hours.reminder.{min(event.number, len(REMINDERS))}"
        text = self.st(key, number=case.number, minutes=minutes, sla=f"{sla:g}", mention=mention)
        return [to_staff(case.id, text, StaffKind.STATUS, meta={"title": flagged.topic_title()})]

    # ------------------------------------------------------------------ the second line
    async def escalate(self: SupportDesk, case: Case, operator: Operator, u: Unit) -> list[Outbound]:
        """``/escalate`` or the card's button: the case goes to the second line, and to the escalation chat."""
        outs = self._escalate(case, operator, u)
        now = await u.get_case(case.id)
        if case.escalated or now is None or not now.escalated:
            return outs  # refused (closed, or escalated already)
        card = self.card(now, await u.transcript(case.id))
        return outs + self.escalation_post(now, operator.name, card)

    def escalation_post(self: SupportDesk, case: Case, by: str, card: str) -> list[Outbound]:
        """The case's card for the escalation chat (when one is configured); the front end adds the link."""
        if not self.options.escalation_chat:
            return []
        text = self.st("hours.escalation", by=by) + "\n\n" + card
        return [to_staff(case.id, text, StaffKind.ESCALATION, meta={"title": case.topic_title()})]
