"""SupportDesk: the one entry point for every event, customers' and operators'. No transport I/O inside.

``handle(event, unit)`` decides what an event means and returns what to send; every change it makes goes
into the unit of work (``core.store.unit``), which the caller commits together with the outbox entries
(``bots.intake``). ``lane(event)`` says whose events must be handled one at a time (the customer's).
Customers' side: ``core.desk.customers``; operators' side: ``core.desk.operators``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from core.cards import render_card, render_line
from core.cases import Case
from core.desk.answers import AnswerSide, entry_label
from core.desk.customers import COMMANDS, CustomerSide
from core.desk.figures import FigureSide
from core.desk.language import COMMON_EN, COMMON_RU
from core.desk.managers import ManagerSide
from core.desk.operators import STAFF_COMMANDS, UNKNOWN_CASE, OperatorSide, parse_staff_command, status_line
from core.desk.privacy import PrivacySide, mask_event
from core.desk.ratings import RatingSide
from core.desk.requests import RequestSide
from core.desk.sla import HoursSide
from core.desk.tools import ToolSide
from core.events import (
    ButtonPress,
    CustomerEdit,
    DeliveryReport,
    Digest,
    Event,
    OperatorCommand,
    OperatorEdit,
    OperatorText,
    Reminder,
)
from core.faq import FaqEntry, FaqMatcher
from core.hours import ROUND_THE_CLOCK, WorkingHours
from core.messages import Audience, Inbound, Outbound, UserRef
from core.sanitize import clean_name, clean_text
from core.stats.chart import render_chart
from core.store import Store, Unit

__all__ = [
    "COMMANDS",
    "STAFF_COMMANDS",
    "UNKNOWN_CASE",
    "DeskOptions",
    "SupportDesk",
    "entry_label",
    "parse_staff_command",
    "status_line",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DeskOptions:
    default_language: str = "ru"
    max_chars: int = 4000  # the longest question the FAQ matcher looks at
    staff_language: str = "en"  # what operators read (STAFF_LANGUAGE; default DEFAULT_LANGUAGE when configured)
    timezone: str = "UTC"  # dates shown to operators (TIMEZONE)
    hours: WorkingHours = ROUND_THE_CLOCK  # WORKING_HOURS and HOLIDAYS in TIMEZONE (core.hours; default 24/7)
    sla_minutes: float = 15.0  # FIRST_RESPONSE_SLA_MINUTES, in working time (0: no reminders)
    onduty: tuple[str, ...] = ()  # ONDUTY_USERNAMES (@names), mentioned in SLA reminders
    escalation_chat: bool = False  # TELEGRAM_ESCALATION_CHAT_ID is set: escalated cases are posted there
    reopen_days: float = 7.0  # a message this soon after resolution reopens the case (REOPEN_DAYS)
    phone_region: str = "RU"  # phone numbers without a country code (PHONE_REGION)
    flood_limit: int = 20  # FLOOD_LIMIT: messages a minute before a customer is slowed down (0: no limit)
    managers: frozenset[str] = frozenset()  # MANAGER_IDS: Telegram user ids allowed /stats and /gaps


class SupportDesk(
    CustomerSide,
    AnswerSide,
    RatingSide,
    RequestSide,
    HoursSide,
    PrivacySide,
    ToolSide,
    OperatorSide,
    FigureSide,
    ManagerSide,
):
    def __init__(
        self,
        store: Store,
        matcher: FaqMatcher,
        options: DeskOptions = DeskOptions(),
        *,
        clock: Callable[[], float] = time.time,
        chart: Callable[..., bytes] = render_chart,
    ):
        self.store = store
        self.matcher = matcher
        self.options = options
        self.clock = clock
        self.chart = chart  # draws the managers' PNG (core.stats.chart), in a worker thread
        self.entries: dict[str, FaqEntry] = {e.id: e for e in matcher.entries}

    def knows_word(self, word: str) -> bool:
        """A word of the FAQ's vocabulary or an everyday one (tells text typed in the wrong layout)."""
        return word in getattr(self.matcher, "_words", ()) or word in COMMON_RU or word in COMMON_EN

    async def lane(self, event: Event) -> tuple[UserRef | None, int | None]:
        """Whose events this one must wait for (a customer), and the case it is about (operators' events)."""
        if isinstance(event, Inbound | ButtonPress | CustomerEdit):
            return event.sender, None
        if isinstance(event, DeliveryReport):
            out = event.out
            if out.audience == Audience.CUSTOMER and out.to is not None:
                return out.to, out.case_id
            case = await self.store.get_case(out.case_id) if out.case_id else None
            return (case.customer if case else None), out.case_id
        if isinstance(event, Digest):  # one lane for digests: a second process waits, then finds it handled
            return UserRef("digest", "daily"), None
        if isinstance(event, OperatorCommand | Reminder):
            case_id: int | None = event.case_id
        else:
            case_id = await self.case_of_place(event.place)
        case = await self.store.get_case(case_id) if case_id is not None else None
        return (case.customer if case else None), case_id

    async def handle(self, event: Event, unit: Unit, case_id: int | None = None) -> list[Outbound]:
        """What ``event`` means, as the messages to send; its changes are in ``unit`` (not yet committed)."""
        event, hidden = mask_event(sanitize(event))  # no card number or secret goes further: core.desk.privacy
        if isinstance(event, Inbound):
            return await self._customer(event, unit) + await self.told_why(event.sender, hidden, unit)
        if isinstance(event, ButtonPress):
            return await self._customer(event.as_inbound(), unit)
        if isinstance(event, CustomerEdit):
            return await self._edit(event, unit) + await self.told_why(event.sender, hidden, unit)
        if isinstance(event, OperatorText):
            return await self._operator_text(event, case_id, unit)
        if isinstance(event, OperatorEdit):
            return await self._operator_edit(event, case_id, unit)
        if isinstance(event, OperatorCommand):
            return await self._operator_button(event, unit)
        if isinstance(event, Reminder):
            return await self._reminder(event, unit)
        if isinstance(event, Digest):
            return await self._digest(event, unit)  # core.desk.managers
        if isinstance(event, DeliveryReport):
            outs = await self._delivery_report(event, unit)
            if not outs:
                log.error(
                    "undelivered, and nobody else to tell: %s message for case %s (%s): %s",
                    event.out.audience,
                    event.out.case_id,
                    event.out.kind,
                    event.reason,
                )
            return outs
        raise TypeError(f"not an event: {event!r}")

    # ------------------------------------------------------------------ read-only views for the staff side
    def card(self, case: Case, transcript: list, last: int = 15) -> str:
        return render_card(case, transcript, last, self.options.staff_language, self.options.timezone)

    async def case_card(self, case_id: int, last: int = 15) -> str | None:
        case = await self.store.get_case(case_id)
        return self.card(case, await self.store.transcript(case_id), last=last) if case else None

    async def case_title(self, case_id: int) -> str | None:
        case = await self.store.get_case(case_id)
        return case.topic_title() if case else None

    async def history(self, case_id: int) -> list[str]:
        return [render_line(e) for e in await self.store.transcript(case_id)]


def sanitize(event: Event) -> Event:
    """Every text and name of an event made safe (``core.sanitize``) before the desk reads it."""
    if isinstance(event, Inbound):
        text = clean_text(event.text)
        return replace(
            event,
            text=text,
            name=clean_name(event.name) or None,
            handle=clean_name(event.handle) or None,
            origin=event.origin if text == event.text else None,  # a cleaned text is shown cleaned, never copied
        )
    if isinstance(event, ButtonPress):
        return replace(event, name=clean_name(event.name) or None, handle=clean_name(event.handle) or None)
    if isinstance(event, OperatorText | OperatorEdit | OperatorCommand):  # an operator's name is shown too
        event = replace(event, operator=replace(event.operator, name=clean_name(event.operator.name) or "Operator"))
    if isinstance(event, OperatorText):
        text = clean_text(event.text)
        return replace(event, text=text, origin=event.origin if text == event.text else None)
    if isinstance(event, CustomerEdit | OperatorEdit):
        return replace(event, text=clean_text(event.text))
    return event
