"""What the Telegram stand-in records and how a test reads it: ``Sent`` (one message the bot sent, or a topic it
created) and ``Topic`` (a forum topic of the staff group, with its names, closed and deleted flags), and
``ReadingMixin``, the queries ``FakeTelegram`` gets from it: ``sent_to`` / ``texts_to`` / ``topic_messages`` /
``staff_messages`` / ``live_topics`` / ``topic_named``, ``polled_past``, ``group_sends``, the ``delete_topic`` /
``close_topic`` switches and ``wait_for`` (poll a predicate). The mixin reads the state ``FakeTelegram.__init__`` sets
up (``sent``, ``topics``, ``calls``, ``staff_calls``, ``staff_chat``).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field


@dataclass
class Sent:
    """One message the bot sent (or a topic it created)."""

    method: str
    chat_id: int
    message_id: int
    thread_id: int | None
    kind: str  # text, photo, document, ..., copy, topic
    text: str | None = None
    file: str | None = None  # file_id of the sent file
    data: bytes | None = None  # bytes, when uploaded
    filename: str | None = None
    reply_markup: dict | None = None
    copy_of: tuple[int, int] | None = None  # (from_chat_id, message_id)
    reply_to: int | None = None
    ts: float = 0.0
    parse_mode: str | None = None  # as the bot asked: None means the text is shown as it is
    entities: list | None = None

    @property
    def buttons(self) -> list[tuple[str, str]]:
        rows = (self.reply_markup or {}).get("inline_keyboard") or []
        return [(b["text"], b.get("callback_data", "")) for row in rows for b in row]


@dataclass
class Topic:
    thread_id: int
    name: str
    closed: bool = False
    deleted: bool = False
    names: list[str] = field(default_factory=list)


class ReadingMixin:
    """The test side of ``FakeTelegram``: what the bot sent and did, read from its records."""

    def polled_past(self, update: dict) -> bool:
        """The bot asked for updates after ``update`` (it confirmed it: handled, or given up)."""
        return any(m == "getUpdates" and int(p.get("offset") or 0) > update["update_id"] for m, p in self.calls)

    def group_sends(self) -> list[str]:
        """Every call that put messages (or a topic) into the staff group and succeeded, by method, in order."""
        return list(self.staff_calls)

    def sent_to(self, chat_id: int, thread_id: int | None = ..., kind: str | None = None) -> list[Sent]:  # type: ignore[assignment]
        return [
            s
            for s in self.sent
            if s.chat_id == chat_id
            and (thread_id is ... or s.thread_id == thread_id)
            and (kind is None or s.kind == kind)
            and s.kind != "topic"
        ]

    def texts_to(self, chat_id: int) -> list[str]:
        return [s.text or "" for s in self.sent_to(chat_id)]

    def topic_messages(self, thread_id: int) -> list[Sent]:
        return self.sent_to(self.staff_chat, thread_id)

    def staff_messages(self) -> list[Sent]:
        return self.sent_to(self.staff_chat)

    def live_topics(self) -> list[Topic]:
        return [t for t in self.topics.values() if not t.deleted]

    def topic_named(self, needle: str) -> Topic | None:
        found = [t for t in self.topics.values() if needle in t.name and not t.deleted]
        return found[-1] if found else None

    def delete_topic(self, thread_id: int) -> None:
        self.topics[thread_id].deleted = True

    def close_topic(self, thread_id: int) -> None:
        self.topics[thread_id].closed = True

    async def wait_for(self, predicate, timeout: float = 10.0, interval: float = 0.02, what: str = ""):  # noqa: ASYNC109
        """Poll ``predicate`` until it returns something truthy (returned); AssertionError after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
            await asyncio.sleep(interval)
