"""Every input the desk handles, as a typed event. Adapters build these from native updates; nothing else.

Customers: ``CustomerMessage`` (``Inbound``), ``ButtonPress``, ``CustomerEdit``.
Operators (the staff group): ``OperatorText`` (anything an operator typed in the staff group, commands and
``!`` notes included: the desk parses it, once, for every staff front end), ``OperatorCommand`` (a card's
button: a known command on a known case), ``OperatorEdit``.
Delivery: ``DeliveryReport`` (a message the outbox gave up on, or that the platform reported as failed).
Time: ``Reminder`` (a case's first response is overdue: the SLA scheduler, ``bots.sla``).

``dedup`` is the event's idempotency key: an event whose key was already handled is skipped. It is marked
handled in the same atomic step that queues what the event caused, so an event interrupted by a crash is
handled again, and one that completed is never handled twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.messages import Attachment, Inbound, MessageRef, Operator, Outbound, UserRef

CustomerMessage = Inbound  # what a customer wrote (text, files, or a typed/pressed choice in ``payload``)


@dataclass(frozen=True, slots=True)
class ButtonPress:
    """A customer pressed one of our buttons (``payload`` is what the desk put on it)."""

    sender: UserRef
    payload: str
    message_id: str  # native id of the press (a callback query id...)
    language: str | None = None
    name: str | None = None
    handle: str | None = None

    def as_inbound(self) -> Inbound:
        return Inbound(
            sender=self.sender,
            text="",
            message_id=self.message_id,
            payload=self.payload,
            language=self.language,
            name=self.name,
            handle=self.handle,
        )


@dataclass(frozen=True, slots=True)
class CustomerEdit:
    """A customer edited a message they had sent; ``text`` is the new text."""

    sender: UserRef
    message_id: str  # native id of the edit (unique per edit)
    text: str


@dataclass(frozen=True, slots=True)
class StaffPlace:
    """Where an operator typed something: the staff front end's own ids, opaque to the desk.

    ``topic``: the forum topic (a case's topic maps to the case); ``reply_to``: the message it replies to (a
    case's message maps to the case); ``case_id``: the case, when the front end knows it (the console).
    ``reply``: what to put on a command's answer so it shows up where the command was typed (the adapter's
    own routing data, copied into ``Outbound.meta`` untouched); ``replies_to_bot``: the message answers one of
    the bot's messages (so a case was meant even if it cannot be found any more).
    """

    topic: str | None = None
    reply_to: str | None = None
    case_id: int | None = None
    reply: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    replies_to_bot: bool = False
    reply_author: str | None = None  # who wrote the message it replies to ("@username", else the name): /assign


@dataclass(frozen=True, slots=True)
class OperatorText:
    """Anything an operator wrote in the staff group: a reply for the customer, a ``!note`` or a ``/command``."""

    operator: Operator
    text: str
    place: StaffPlace
    message_id: str  # native id: the dedup key
    attachments: tuple[Attachment, ...] = ()
    origin: MessageRef | None = None  # the native message, to copy it as it is
    is_caption: bool = False  # the text came with a file (never a command)


@dataclass(frozen=True, slots=True)
class OperatorEdit:
    """An operator edited a message in the staff group."""

    operator: Operator
    text: str
    place: StaffPlace
    message_id: str


@dataclass(frozen=True, slots=True)
class OperatorCommand:
    """A staff command on a known case (a button of the case's card)."""

    operator: Operator
    case_id: int
    command: str
    place: StaffPlace
    message_id: str
    argument: str = ""  # what the button carries besides the command (a /faq choice: the FAQ entry's id)


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """A message could not be delivered: the outbox gave up on it, or the platform reported it failed."""

    out: Outbound
    reason: str
    message_id: str  # e.g. the outbox entry's id: a report is handled once


@dataclass(frozen=True, slots=True)
class Reminder:
    """A case has had no operator reply for ``number`` times ``FIRST_RESPONSE_SLA_MINUTES`` working minutes."""

    case_id: int
    number: int  # 1: the first reminder, 2: the second (at twice the time)
    message_id: str = ""  # the schedule's entry (informational: the dedup key is the case and the number)


@dataclass(frozen=True, slots=True)
class Digest:
    """Time for the managers' daily digest of ``day`` (``DIGEST_TIME``; every process fires it, the dedup key
    makes it happen once)."""

    day: str  # YYYY-MM-DD in TIMEZONE: the day the digest covers


Event = (
    Inbound | ButtonPress | CustomerEdit | OperatorText | OperatorEdit | OperatorCommand | DeliveryReport | Reminder
    | Digest
)  # fmt: skip


def dedup_key(event: Event) -> str:
    """The idempotency key of an event (unique across channels and kinds)."""
    if isinstance(event, Inbound | ButtonPress | CustomerEdit):
        kind = "cm" if isinstance(event, Inbound) else ("cb" if isinstance(event, ButtonPress) else "ce")
        return f"{kind}:{event.sender.channel}:{event.message_id}"
    if isinstance(event, DeliveryReport):
        return f"dr:{event.message_id}"
    if isinstance(event, Reminder):
        return f"rm:{event.case_id}:{event.number}"
    if isinstance(event, Digest):
        return f"dg:{event.day}"
    return f"op:{event.message_id}"
