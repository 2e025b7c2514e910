"""Channel-free message shapes: what adapters turn native updates into, and what the desk asks them to send.

Everything here is a frozen dataclass that serialises to plain JSON (``to_json`` / ``from_json``) so it can
sit in the Redis outbox between the desk and the channel workers.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

CHANNELS = ("telegram", "vk", "whatsapp", "console")
CHANNEL_TITLES = {"telegram": "Telegram", "vk": "VK", "whatsapp": "WhatsApp", "console": "Console"}


@dataclass(frozen=True, slots=True)
class UserRef:
    """A customer on one channel. ``user_id`` is the channel's native id, always a string."""

    channel: str
    user_id: str

    @property
    def key(self) -> str:
        return f"{self.channel}:{self.user_id}"

    @classmethod
    def parse(cls, key: str) -> UserRef:
        channel, _, user_id = key.partition(":")
        return cls(channel, user_id)


class AttachmentKind(StrEnum):
    PHOTO = "photo"
    DOCUMENT = "document"
    VOICE = "voice"
    AUDIO = "audio"
    VIDEO = "video"
    STICKER = "sticker"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file as the channel it came from knows it: ``ref`` is that channel's file/media id or URL."""

    kind: str
    ref: str
    channel: str
    filename: str | None = None
    mime: str | None = None
    size: int | None = None


@dataclass(frozen=True, slots=True)
class Button:
    label: str
    payload: str


@dataclass(frozen=True, slots=True)
class MessageRef:
    """Where a message lives natively: lets Telegram copy a message instead of re-uploading it."""

    channel: str
    chat_id: str
    message_id: str
    group: str | None = None  # an album's id: its parts are shown together (Telegram media_group_id)


@dataclass(frozen=True, slots=True)
class Inbound:
    """What every adapter turns a customer's native update into."""

    sender: UserRef
    text: str
    message_id: str  # native id: the dedup key together with the channel
    attachments: tuple[Attachment, ...] = ()
    payload: str | None = None  # a button press
    language: str | None = None  # the platform's language code, if it tells one
    name: str | None = None  # display name
    handle: str | None = None  # @username, phone number...
    origin: MessageRef | None = None  # the native message, when it can be copied as is
    unsupported: bool = False  # the platform could not pass the message on (a poll, a view-once photo...)
    reply_window: float | None = None  # free-form replies are possible until then (WhatsApp's 24 hours)
    window_reopened: bool = False  # the customer wrote after that window had closed


class Audience(StrEnum):
    CUSTOMER = "customer"
    STAFF = "staff"


class StaffKind(StrEnum):
    """What a staff-side message is about; the staff adapter decides how to show it."""

    CASE_OPENED = "case_opened"  # create the case's topic and post its card
    CUSTOMER_MESSAGE = "customer_message"  # relay of what the customer wrote
    STATUS = "status"  # status changed: post a line and rename the topic
    INFO = "info"  # anything else worth showing in the case's topic (delivery failures...)
    REPLY = "reply"  # an answer to an operator's command (card, errors); not part of the case history
    ESCALATION = "escalation"  # the case went to the second line: its card and a link, in the escalation chat


@dataclass(frozen=True, slots=True)
class Outbound:
    """A message the desk wants sent, to a customer or to the staff side of a case."""

    audience: Audience
    text: str
    to: UserRef | None = None  # the customer (audience CUSTOMER)
    case_id: int | None = None
    buttons: tuple[Button, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    kind: str = "text"  # for STAFF: a StaffKind
    copy_from: MessageRef | None = None  # relay: the original native message
    lang: str | None = None
    meta: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    def to_json(self) -> str:
        d: dict[str, Any] = {"audience": str(self.audience), "text": self.text, "kind": str(self.kind)}
        if self.to is not None:
            d["to"] = {"channel": self.to.channel, "user_id": self.to.user_id}
        if self.case_id is not None:
            d["case_id"] = self.case_id
        if self.buttons:
            d["buttons"] = [{"label": b.label, "payload": b.payload} for b in self.buttons]
        if self.attachments:
            d["attachments"] = [asdict(a) for a in self.attachments]
        if self.copy_from is not None:
            d["copy_from"] = asdict(self.copy_from)
        if self.lang is not None:
            d["lang"] = self.lang
        if self.meta:
            d["meta"] = self.meta
        return json.dumps(d, ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: str | bytes) -> Outbound:
        d = json.loads(raw)
        return cls(
            audience=Audience(d["audience"]),
            text=d["text"],
            to=UserRef(**d["to"]) if d.get("to") else None,
            case_id=d.get("case_id"),
            buttons=tuple(Button(**b) for b in d.get("buttons") or ()),
            attachments=tuple(Attachment(**a) for a in d.get("attachments") or ()),
            kind=d.get("kind", "text"),
            copy_from=MessageRef(**d["copy_from"]) if d.get("copy_from") else None,
            lang=d.get("lang"),
            meta=d.get("meta") or {},
        )


@dataclass(frozen=True, slots=True)
class Operator:
    """A staff member acting on a case."""

    id: str
    name: str


def customer(channel: str, user_id: str | int) -> UserRef:
    return UserRef(channel, str(user_id))


def to_customer(user: UserRef, text: str, **kw: Any) -> Outbound:
    return Outbound(Audience.CUSTOMER, text, to=user, **kw)


def to_staff(case_id: int, text: str, kind: StaffKind = StaffKind.INFO, **kw: Any) -> Outbound:
    return Outbound(Audience.STAFF, text, case_id=case_id, kind=str(kind), **kw)
