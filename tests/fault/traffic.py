"""Steady traffic through the Telegram stand-in while something breaks, and the count of what arrived.

``Traffic(tg)``: ``open_cases(n)`` hands off ``n`` customers first (their topics are where relays go); then
``run(seconds)`` makes, every ``interval``: the operator answer in one topic (sent to the customer), one new
customer ask an FAQ question (answered), every ``relay_every``-th time one of the case's customers write a new
message (relayed into the topic), and every ``handoff_every``-th time one more customer hand off (a topic, a
card, the notice). Every text is unique, so ``verdict`` can say of each one whether it arrived once, never, or
twice.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import Iterable
from typing import Any

from tests.fakes.telegram_api import FakeTelegram
from tests.procs import BotProcess, until

FAQ_QUESTION = "Как сбросить пароль?"
FAQ_ANSWER = "Забыли пароль"


class Traffic:
    def __init__(self, tg: FakeTelegram, base_uid: int, *, relay_every: int = 1, handoff_every: int | None = 4):
        self.tg = tg
        self.base = base_uid
        self.relay_every = relay_every
        self.handoff_every = handoff_every
        self.cases: dict[int, int] = {}  # customer -> topic
        self.relays: dict[str, int] = {}  # text -> customer (expected once in the staff group)
        self.replies: dict[str, int] = {}  # text -> customer (expected once in their chat)
        self.faq: list[int] = []  # customers who asked the FAQ question once (one answer each)
        self.handoffs: list[int] = []  # customers who asked for a person during the traffic (a new case each)
        self._ids = itertools.count(1)
        self._faq_uids = itertools.count(base_uid + 5000)

    async def open_cases(self, n: int, procs: Iterable[BotProcess], timeout: float = 60) -> None:  # noqa: ASYNC109
        for i in range(n):
            self.tg.customer_says(self.base + i, "/operator", name=f"Tr{self.base + i} Client")

        def topics() -> bool:
            for i in range(n):
                uid = self.base + i
                topic = self.tg.topic_named(f"Tr{uid} Client")
                if topic is None or not self.tg.topic_messages(topic.thread_id) or not self.tg.sent_to(uid):
                    return False
                self.cases[uid] = topic.thread_id
            return True

        await until(topics, timeout, f"{n} cases opened", procs)

    def tick(self) -> None:
        k = next(self._ids)
        customers = sorted(self.cases)
        if k % self.relay_every == 0:
            uid = customers[k % len(customers)]
            text = f"клиент {uid} сообщение {k}"
            self.relays[text] = uid
            self.tg.customer_says(uid, text, name=f"Tr{uid} Client")
        answer_to = customers[(k + 1) % len(customers)]
        reply = f"оператор клиенту {answer_to} ответ {k}"
        self.replies[reply] = answer_to
        self.tg.operator_says(self.cases[answer_to], reply)
        faq = next(self._faq_uids)
        self.faq.append(faq)
        self.tg.customer_says(faq, FAQ_QUESTION, name=f"Faq{faq}")
        if self.handoff_every and k % self.handoff_every == 0:  # a new case: its topic and card made meanwhile
            new = self.base + 1000 + k
            self.handoffs.append(new)
            self.tg.customer_says(new, "/operator", name=f"Ho{new} Client")

    async def run(self, seconds: float, interval: float = 0.25) -> None:
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while loop.time() < end:
            self.tick()
            await asyncio.sleep(interval)

    # ------------------------------------------------------------------ counting
    def counts(self) -> dict[str, dict[Any, int]]:
        staff = [s.text or "" for s in self.tg.sent_to(self.tg.staff_chat)]
        relays = {t: sum(1 for s in staff if t in s.split("\n") or s == t) for t in self.relays}
        replies = {t: sum(1 for x in self.tg.texts_to(uid) if x == t) for t, uid in self.replies.items()}
        faq = {uid: len(self.tg.sent_to(uid)) for uid in self.faq}
        topics = {uid: self._topics(f"Ho{uid} Client") for uid in self.handoffs}
        cards = {uid: sum(1 for t in topics[uid] for m in self.tg.topic_messages(t) if _card(m)) for uid in topics}
        notices = {uid: sum(1 for t in self.tg.texts_to(uid) if "создано" in t) for uid in self.handoffs}
        return {
            "relays": relays,
            "replies": replies,
            "faq": faq,
            "topics": {uid: len(t) for uid, t in topics.items()},
            "cards": cards,
            "notices": notices,
        }

    def _topics(self, name: str) -> list[int]:
        return [t.thread_id for t in self.tg.topics.values() if name in t.name and not t.deleted]

    def all_arrived(self) -> bool:
        c = self.counts()
        return all(v >= 1 for part in c.values() for v in part.values())

    def verdict(self) -> dict[str, Any]:
        """What was lost and what arrived twice: of the traffic's own texts, and of anything else the bot sent
        (a status line, a prompt... twice in one chat)."""
        c = self.counts()
        lost = [k for part in c.values() for k, v in part.items() if v == 0]
        doubled = [(k, v) for part in c.values() for k, v in part.items() if v > 1]
        sent = sum(len(part) for part in c.values())
        return {"messages": sent, "lost": lost, "doubled": doubled + doubled_texts(self.tg)}


def doubled_texts(fake: FakeTelegram) -> list[tuple[int, str, int]]:
    """(chat, text, times) of every text the bot sent more than once to one chat."""
    counts = Counter((s.chat_id, s.text or f"<{s.kind}>") for s in fake.sent if s.kind != "topic")
    return [(chat, text[:60], n) for (chat, text), n in counts.items() if n > 1]


def _card(message: Any) -> bool:
    return (message.text or "").startswith("Case #")
