"""Two `supportbot run` processes on one bot token and one Redis: one polls Telegram (the ``tg-poller`` lease),
the other stands by. SIGKILL the poller: the other takes over once the lease expires (30 s, not configurable
from the environment), and the customers' messages sent meanwhile are handled, once."""

from __future__ import annotations

import time

import pytest

from tests.fakes.telegram_api import FakeTelegram
from tests.fault.conftest import STAFF, TOKEN
from tests.fault.traffic import FAQ_ANSWER, FAQ_QUESTION
from tests.procs import until

pytestmark = pytest.mark.fault

POLLS = "telegram: this process polls Telegram"
STANDS_BY = "this one stands by"


async def test_the_standby_takes_over_polling_when_the_poller_is_killed(redis_server, spawn_bot):
    tg = await FakeTelegram(TOKEN, scale=1.0, staff_chat=STAFF).start()
    try:
        server = redis_server(persist=True)
        a = spawn_bot(server, tg)
        await until(lambda: POLLS in a.log(), 30, "the first process to poll", [a])
        b = spawn_bot(server, tg)
        await until(lambda: STANDS_BY in b.log(), 30, "the second process to stand by", [a, b])
        before = [980_000 + i for i in range(5)]
        for uid in before:
            tg.customer_says(uid, FAQ_QUESTION)
        await until(lambda: all(tg.sent_to(u) for u in before), 20, "answers while the first one polls", [a, b])

        a.kill()
        killed = time.monotonic()
        during = [980_100 + i for i in range(5)]
        for uid in during:
            tg.customer_says(uid, FAQ_QUESTION)  # nobody polls: they wait at Telegram
        await until(lambda: POLLS in b.log(), 45, "the second process to take over polling", [b], 0.1)
        took = time.monotonic() - killed
        await until(lambda: all(tg.sent_to(u) for u in during), 20, "the answers after the takeover", [b])
        await until(lambda: not tg._updates, 30, "every update confirmed", [b])
        print(f"\n[two processes] the standby polled {took:.1f}s after the poller was killed")
        assert took <= 40
        for uid in before + during:
            texts = tg.texts_to(uid)
            assert len(texts) == 1 and FAQ_ANSWER in texts[0], (uid, texts)
    finally:
        await tg.close()
