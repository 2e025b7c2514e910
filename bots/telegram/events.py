"""Telegram updates as events: translation only (what a message, an edit or a press is, for the desk).

In a private chat a message is an ``Inbound``, an edit a ``CustomerEdit``; in the staff group what an operator
types is an ``OperatorText`` (the desk tells commands, ``!notes`` and replies apart, and finds the case), an
edit an ``OperatorEdit``, a card's button an ``OperatorCommand``. Bots, service messages and other chats mean
nothing; ``/take@otherbot`` is dropped, ``@ourbot`` stripped.
"""

from __future__ import annotations

import logging
import re

from aiogram.types import CallbackQuery, Message, Update

from bots.telegram.api import VIDEO_NOTE_NAME, TelegramApi
from core.events import ButtonPress, CustomerEdit, Event, OperatorCommand, OperatorEdit, OperatorText, StaffPlace
from core.messages import Attachment, AttachmentKind, Inbound, MessageRef, Operator, UserRef

log = logging.getLogger("bots.telegram")

_MENTION = re.compile(r"^(\s*/[A-Za-z_]+)@(\S+)")
_CARD_BUTTON = re.compile(r"^case:([A-Za-z_]+):(\d+)$")
_TOOL_BUTTON = re.compile(r"^(faqsend|gapshow):(\d+):(\S+)$")  # a tool's button: a /faq choice, a /gaps group


def attachments_of(msg: Message) -> tuple[Attachment, ...]:
    """A Telegram message's files as core attachments (ref = Telegram file_id)."""
    out: list[Attachment] = []
    if msg.photo:
        p = msg.photo[-1]
        out.append(Attachment(AttachmentKind.PHOTO, p.file_id, "telegram", None, "image/jpeg", p.file_size))
    for kind, obj in (
        (AttachmentKind.DOCUMENT, msg.document),
        (AttachmentKind.VIDEO, msg.video),
        (AttachmentKind.AUDIO, msg.audio),
        (AttachmentKind.VOICE, msg.voice),
        (AttachmentKind.DOCUMENT, msg.animation if msg.document is None else None),  # a GIF comes as both
    ):
        if obj is not None:
            name, mime = getattr(obj, "file_name", None), getattr(obj, "mime_type", None)
            out.append(Attachment(kind, obj.file_id, "telegram", name, mime, obj.file_size))
    if msg.video_note:  # a video to other channels; sent back to Telegram as a video note (by its name)
        v = msg.video_note
        out.append(Attachment(AttachmentKind.VIDEO, v.file_id, "telegram", VIDEO_NOTE_NAME, "video/mp4", v.file_size))
    if msg.sticker:
        s = msg.sticker
        out.append(Attachment(AttachmentKind.STICKER, s.file_id, "telegram", s.emoji, None, s.file_size))
    return tuple(out)


def origin_of(msg: Message) -> MessageRef:
    return MessageRef("telegram", str(msg.chat.id), str(msg.message_id), group=msg.media_group_id)


class Translator:
    """What an update means (needs the bot's own id and username, known after ``getMe``, and the staff chat)."""

    def __init__(self, api: TelegramApi, staff_chat: int | None):
        self.api = api
        self.staff_chat = staff_chat

    def event_of(self, update: Update) -> Event | None:
        """The event a message or an edit means (None: nothing for the desk)."""
        msg = update.message or update.edited_message
        if msg is None:
            return None
        edit = update.message is None
        log.debug("telegram: message %s in chat %s (%s)", msg.message_id, msg.chat.id, msg.chat.type)
        if self.staff_chat is not None and msg.chat.id == self.staff_chat:
            return self.staff_event(msg, update.update_id if edit else None)
        if msg.chat.type != "private":
            chat = msg.chat
            log.info("telegram: ignoring a message in chat %s (%s %r): not TELEGRAM_STAFF_CHAT_ID=%s", chat.id,
                     chat.type, chat.title, self.staff_chat)  # fmt: skip
            return None
        user = msg.from_user
        if user is None or user.is_bot:
            return None
        sender = UserRef("telegram", str(msg.chat.id))
        text = msg.text or msg.caption or ""
        if msg.contact is not None and not text:  # a shared contact ("share my number"): its number
            text = "+" + msg.contact.phone_number.lstrip("+")
        if edit:
            return CustomerEdit(sender, f"edit:{update.update_id}", text) if text else None
        return Inbound(
            sender=sender,
            text=text,
            message_id=f"{msg.chat.id}:{msg.message_id}",  # Telegram message ids are per chat
            attachments=attachments_of(msg),
            language=user.language_code,
            name=user.full_name,
            handle=f"@{user.username}" if user.username else None,
            origin=origin_of(msg),
        )

    def staff_event(self, msg: Message, edit_of: int | None) -> Event | None:
        operator = self.sender(msg)
        if operator is None:
            return None
        text = msg.text or msg.caption or ""
        m = _MENTION.match(msg.text or "")
        if m is not None:
            username = self.api.username
            if username and m.group(2).lower() != username.lower():
                return None  # a command for another bot in the group
            if username:
                text = m.group(1) + text[m.end() :]
        place = self.place(msg)
        if edit_of is not None:
            return OperatorEdit(operator, text, place, f"staff-edit:{edit_of}") if text else None
        attachments = attachments_of(msg)
        if not text and not attachments and not copy_only(msg):
            return None  # service messages: topic created, member joined...
        return OperatorText(
            operator=operator,
            text=text,
            place=place,
            message_id=f"staff:{msg.chat.id}:{msg.message_id}",
            attachments=attachments,
            origin=origin_of(msg),
            is_caption=msg.text is None and bool(msg.caption),
        )

    def place(self, msg: Message) -> StaffPlace:
        thread = msg.message_thread_id if msg.is_topic_message else None
        replied = msg.reply_to_message
        if replied is not None and thread is not None and replied.message_id == thread:
            replied = None  # in a topic every message "replies" to the topic's first (service) message
        ours = replied is not None and replied.from_user is not None and replied.from_user.id == self.api.bot_id
        who = replied.from_user if replied is not None and not ours else None  # the author, for /assign as a reply
        author = None if who is None or who.is_bot else (f"@{who.username}" if who.username else who.full_name)
        return staff_place(thread, msg.message_id, replied.message_id if replied is not None else None, ours, author)

    def sender(self, msg: Message) -> Operator | None:
        """The operator who wrote ``msg`` in the staff group: a person, or an administrator posting anonymously
        (as the group itself: named by their signature, if any); None for bots and other chats."""
        if msg.sender_chat is not None:
            if msg.sender_chat.id == self.staff_chat:
                name = msg.author_signature or "Operator"
                return Operator(id=f"anon:{name}", name=name)
            return None  # a linked channel's post, another chat speaking
        if msg.from_user is None or msg.from_user.is_bot:
            return None
        return Operator(id=str(msg.from_user.id), name=msg.from_user.full_name)

    def callback_event(self, cq: CallbackQuery) -> tuple[Event | None, str | None]:
        """A press -> (its event, the text to answer the query with): the staff card's buttons are operators'
        commands, anything else a customer's choice."""
        msg = cq.message
        chat = msg.chat if msg is not None else None
        if chat is not None and self.staff_chat is not None and chat.id == self.staff_chat:
            m = _CARD_BUTTON.match(cq.data or "") or _TOOL_BUTTON.match(cq.data or "")
            if m is None or cq.from_user.is_bot:
                return None, "Unknown button"
            thread = getattr(msg, "message_thread_id", None) if getattr(msg, "is_topic_message", None) else None
            place = staff_place(thread, msg.message_id, msg.message_id, True)  # the card's own place
            operator = Operator(id=str(cq.from_user.id), name=cq.from_user.full_name)
            argument = m.group(3) if m.re is _TOOL_BUTTON else ""
            return OperatorCommand(operator, int(m.group(2)), m.group(1), place, f"cb:{cq.id}", argument), "OK"
        if not cq.data:
            return None, None
        user = cq.from_user
        press = ButtonPress(
            sender=UserRef("telegram", str(chat.id if chat is not None else user.id)),
            payload=cq.data,
            message_id=f"cb:{cq.id}",
            language=user.language_code,
            name=user.full_name,
            handle=f"@{user.username}" if user.username else None,
        )
        return press, None


def staff_place(
    thread: int | None, message_id: int, reply_to: int | None, ours: bool, author: str | None = None
) -> StaffPlace:
    """Where something happened in the staff group; answers go to ``message_id`` in ``thread``."""
    topic = str(thread) if thread is not None else None
    replied = str(reply_to) if reply_to is not None else None
    reply = {"thread": thread, "reply_to": message_id}
    return StaffPlace(topic, replied, reply=reply, replies_to_bot=ours, reply_author=author)


def copy_only(msg: Message) -> bool:
    """Content that has neither text nor a file (shown by copying the message as it is)."""
    return any(getattr(msg, f, None) is not None for f in ("location", "venue", "contact", "poll", "dice"))
