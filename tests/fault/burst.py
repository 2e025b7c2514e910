"""A burst of handoffs through the Telegram stand-in, and what the customers and the staff group got from it.

``Burst(tg, n)``: customer ``i`` (``uid(i)``, named ``name(i)``) sends "/operator" and then ``question(i)``; an
operator answers ``reply(i)`` in each case's topic as soon as its card is there (``operator``). ``complete``
says whether everything arrived; ``check_each`` asserts that everything arrived for every customer;
``duplicates`` counts what arrived twice (the same text twice in one chat, a second topic for one customer).

``WebhookFeeder``: Telegram's side of webhook mode: every update queued in the stand-in is POSTed to the bot
(with the secret), a chat's updates one after the other, and re-sent until the bot answers 200.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from typing import Any

import aiohttp

from tests.fakes.telegram_api import FakeTelegram


def uid(i: int) -> int:
    return 930_000 + i


def name(i: int) -> str:
    return f"Kf{i:03d} Client"


def question(i: int) -> str:
    return f"вопрос клиента {i:03d}"


def reply(i: int) -> str:
    return f"ответ оператора {i:03d}"


class Burst:
    def __init__(self, tg: FakeTelegram, n: int):
        self.tg = tg
        self.n = n
        self.replied: set[int] = set()

    def send(self) -> None:
        """Every customer hands off at once: "/operator", then one more message."""
        for i in range(self.n):
            self.tg.customer_says(uid(i), "/operator", name=name(i))
        for i in range(self.n):
            self.tg.customer_says(uid(i), question(i), name=name(i))

    # ------------------------------------------------------------------ what the stand-in saw
    def topics(self, i: int) -> list[Any]:
        return [t for t in self.tg.topics.values() if name(i) in t.name and not t.deleted]

    def topic_texts(self, i: int) -> list[str]:
        return [m.text or "" for t in self.topics(i) for m in self.tg.topic_messages(t.thread_id)]

    def cards(self, i: int) -> list[str]:
        return [t for t in self.topic_texts(i) if t.startswith("Case #")]

    def notices(self, i: int) -> list[str]:
        return [t for t in self.tg.texts_to(uid(i)) if "создано" in t]

    def relayed(self, i: int) -> int:
        """Distinct messages of the topic showing the customer's message (in the card, or copied)."""
        return sum(t.count(question(i)) for t in set(self.topic_texts(i)))

    def replies(self, i: int) -> int:
        return sum(1 for t in self.tg.texts_to(uid(i)) if t == reply(i))

    def complete(self, i: int) -> bool:
        return bool(self.cards(i) and self.notices(i) and self.relayed(i) and self.replies(i))

    def missing(self) -> list[str]:
        out = []
        for i in range(self.n):
            parts = {
                "card": bool(self.cards(i)),
                "notice": bool(self.notices(i)),
                "relay": bool(self.relayed(i)),
                "reply": bool(self.replies(i)),
            }
            if not all(parts.values()):
                out.append(f"{name(i)}: missing {[k for k, v in parts.items() if not v]}")
        return out

    async def operator(self) -> None:
        """Answer in every case's topic once, as soon as its card is there."""
        while len(self.replied) < self.n:
            for i in range(self.n):
                if i in self.replied:
                    continue
                topics = [t for t in self.topics(i) if any(x.startswith("Case #") for x in self._texts(t))]
                if topics:
                    self.tg.operator_says(topics[-1].thread_id, reply(i))
                    self.replied.add(i)
            await asyncio.sleep(0.05)

    def _texts(self, topic: Any) -> list[str]:
        return [m.text or "" for m in self.tg.topic_messages(topic.thread_id)]

    # ------------------------------------------------------------------ verdicts
    def check_each(self) -> None:
        """Every customer: a card, the handoff notice, the message relayed, the operator's answer; none lost."""
        lost = self.missing()
        assert not lost, f"{len(lost)} customers lost something:\n" + "\n".join(lost)

    def duplicates(self) -> dict[str, int]:
        """What arrived more than once: the same text twice in one chat, a second topic for a customer."""
        per_chat: Counter[tuple[int, str]] = Counter()
        for s in self.tg.sent:
            if s.kind != "topic":
                per_chat[(s.chat_id, s.text or f"<{s.kind}>")] += 1
        texts = sum(c - 1 for c in per_chat.values() if c > 1)
        topics = sum(max(0, len(self.topics(i)) - 1) for i in range(self.n))
        relays = sum(max(0, self.relayed(i) - 1) for i in range(self.n))  # inside a card and copied again
        return {"messages": texts, "topics": topics, "relays_in_card_and_copied": relays}

    def most_copies(self) -> int:
        """The most times one text arrived in one chat (2: one duplicate)."""
        per_chat: Counter[tuple[int, str]] = Counter()
        for s in self.tg.sent:
            if s.kind != "topic":
                per_chat[(s.chat_id, s.text or f"<{s.kind}>")] += 1
        return max(per_chat.values(), default=0)

    def duplicate_examples(self, limit: int = 10) -> list[str]:
        per_chat: Counter[tuple[int, str]] = Counter()
        for s in self.tg.sent:
            if s.kind != "topic":
                per_chat[(s.chat_id, s.text or f"<{s.kind}>")] += 1
        return [f"{chat}: {text[:60]!r} x{c}" for (chat, text), c in per_chat.items() if c > 1][:limit]


class WebhookFeeder:
    """Telegram in webhook mode: POST every queued update to ``url`` until it is answered 200."""

    def __init__(self, tg: FakeTelegram, url: str, secret: str):
        self.tg = tg
        self.url = url
        self.secret = secret
        self.posts = 0
        self.answered = 0  # updates answered 200
        self.resent = 0  # requests that got no 200 (connection refused or reset, 500) and were sent again
        self.pending = 0
        self._chains: dict[str, asyncio.Task] = {}
        self._session: aiohttp.ClientSession | None = None

    async def run(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        try:
            while True:
                while self.tg._updates:
                    update = self.tg.take_update()
                    chat = _chat(update)
                    self.pending += 1
                    self._chains[chat] = asyncio.create_task(self._post_after(self._chains.get(chat), update))
                await asyncio.sleep(0.01)
        finally:
            for task in self._chains.values():
                task.cancel()
            await self._session.close()

    async def _post_after(self, before: asyncio.Task | None, update: dict) -> None:
        if before is not None:
            with contextlib.suppress(Exception):
                await before
        headers = {"X-Telegram-Bot-Api-Secret-Token": self.secret}
        assert self._session is not None
        while True:
            self.posts += 1
            try:
                async with self._session.post(self.url, json=update, headers=headers) as r:
                    if r.status == 200:
                        self.pending -= 1
                        self.answered += 1
                        return
            except (aiohttp.ClientError, TimeoutError):
                pass
            self.resent += 1
            await asyncio.sleep(0.2)


def _chat(update: dict) -> str:
    msg = update.get("message") or update.get("edited_message")
    if msg:
        return str(msg["chat"]["id"])
    return str(update.get("callback_query", {}).get("from", {}).get("id"))
