"""The messaging platform fails: 500s for a while, a 5-minute outage, 429, a timeout, a dropped connection, and
a lost reply (the platform did it but the answer never came back).

The 10-second outage runs against `supportbot run` in real time. The rest runs the bot in-process with its
outbox's ``time_scale`` and the stand-in's scale shrunk together (a 5-minute outage takes 3 s). Telegram cannot
tell whether a send whose answer was lost went out, so each lost reply may cost one duplicate; VK's
``random_id`` must make it none.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.e2e.conftest import telegram_settings
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.vk_api import FakeVk
from tests.fault.conftest import STAFF, TOKEN
from tests.fault.traffic import FAQ_ANSWER, FAQ_QUESTION, Traffic
from tests.fault.traffic import doubled_texts as doubled
from tests.procs import until

pytestmark = pytest.mark.fault


# ---------------------------------------------------------------------------------------------- real time
async def test_telegram_answers_500_for_10s_then_everything_is_delivered_once(redis_server, spawn_bot):
    started = time.monotonic()
    tg = await FakeTelegram(TOKEN, scale=1.0, staff_chat=STAFF).start()  # Telegram's own limits, in real time
    try:
        server = redis_server(persist=True)
        bot = spawn_bot(server, tg)  # `python -m bots run`, nothing shrunk
        await until(lambda: any(m == "getUpdates" for m, _ in tg.calls), 30, "the bot to poll", [bot])
        traffic = Traffic(tg, 960_000, relay_every=4, handoff_every=None)  # within 20 group messages a minute
        await traffic.open_cases(2, [bot])
        flow = asyncio.create_task(traffic.run(11.0, interval=0.5))
        await asyncio.sleep(0.5)
        tg.fail_until = time.monotonic() + 10.0
        await flow
        await until(traffic.all_arrived, 60, "every message delivered after the outage", [bot], 0.05,
                    lambda: f"missing: {traffic.verdict()['lost']}")  # fmt: skip
        verdict = traffic.verdict()
        print(
            f"\n[500s for 10 s] {verdict['messages']} messages, {tg.server_errors} sends answered 500, "
            f"{len(verdict['lost'])} lost, {len(verdict['doubled'])} doubled; {time.monotonic() - started:.1f}s"
        )
        assert tg.server_errors > 0, "the outage hit no send"
        assert not verdict["doubled"], verdict["doubled"]
        assert not doubled(tg), doubled(tg)
    finally:
        await tg.close()


# ---------------------------------------------------------------------------------------------- time scaled
FAST = 0.01  # 5 minutes take 3 s


@pytest.fixture
async def fast_tg():
    fake = FakeTelegram(TOKEN, scale=FAST, staff_chat=STAFF)
    await fake.start()
    yield fake
    await fake.close()


async def fast_bot(bot_factory, tg, **kw):
    return await bot_factory(time_scale=FAST, **telegram_settings(tg), **kw)


async def test_a_5_minute_outage_is_ridden_out(fast_tg, bot_factory):
    tg = fast_tg
    bot = await fast_bot(bot_factory, tg)
    traffic = Traffic(tg, 961_000, handoff_every=3)
    await traffic.open_cases(3, [])
    assert await bot.delivery.drain(10)
    tg.fail_until = time.monotonic() + 300 * FAST
    await traffic.run(300 * FAST, interval=0.2)
    await until(traffic.all_arrived, 30, "every message delivered after the outage", (), 0.05,
                lambda: f"missing: {traffic.verdict()['lost']}")  # fmt: skip
    assert await bot.delivery.drain(10)
    verdict = traffic.verdict()
    print(
        f"\n[5-minute outage in {300 * FAST:.0f} s] {verdict['messages']} messages, {tg.server_errors} sends "
        f"answered 500, {len(verdict['lost'])} lost, {len(verdict['doubled'])} doubled"
    )
    assert tg.server_errors > 20
    assert bot.delivery.stats["failed"] == 0, "given up within the 6 hours DELIVERY_GIVE_UP_AFTER allows"
    assert not verdict["doubled"] and not doubled(tg), (verdict["doubled"], doubled(tg))


async def test_giving_up_before_the_outage_ends_tells_the_other_side_once(fast_tg, bot_factory):
    """DELIVERY_GIVE_UP_AFTER of 60 s (0.6 s here) and a 5-minute outage: of the customers' chats, then of the
    staff group. The operator learns their answer was not delivered; the customer, that their message was not."""
    tg = fast_tg
    bot = await fast_bot(bot_factory, tg, delivery_options={"give_up_after": 60.0})
    traffic = Traffic(tg, 962_000)
    await traffic.open_cases(2, [])
    assert await bot.delivery.drain(10)  # nothing else on its way
    (anna, topic_a), (boris, _) = sorted(traffic.cases.items())
    # the customers' chats fail: the operator's answer is given up, and the operator is told in the topic
    tg.fail_chats = lambda chat: chat > 0
    tg.fail_until = time.monotonic() + 300 * FAST
    tg.operator_says(topic_a, "ответ, который не дойдёт")
    await tg.wait_for(
        lambda: [m for m in tg.topic_messages(topic_a) if "не дойдёт" in (m.text or "")], 10, what="the notice"
    )
    await until(lambda: time.monotonic() > tg.fail_until, 5, "the outage to end")
    # the staff group fails: the customer's message is given up, and the customer is told
    tg.fail_chats = lambda chat: chat < 0
    tg.fail_until = time.monotonic() + 300 * FAST
    tg.customer_says(boris, "сообщение, которое не дойдёт")
    await tg.wait_for(lambda: [t for t in tg.texts_to(boris) if "Не удалось передать" in t], 10, what="the notice")
    await until(lambda: time.monotonic() > tg.fail_until, 5, "the outage to end")
    assert await bot.delivery.drain(10)
    notices = [m.text or "" for m in tg.topic_messages(topic_a) if "Not delivered" in (m.text or "")]
    assert len([n for n in notices if "ответ, который не дойдёт" in n]) == 1, notices
    assert len([t for t in tg.texts_to(boris) if "Не удалось передать" in t]) == 1
    assert "ответ, который не дойдёт" not in tg.texts_to(anna)
    assert bot.delivery.stats["failed"] >= 2  # the answer, the customer's message (and a status line, if any)
    assert not doubled(tg), doubled(tg)


async def test_429_with_retry_after_is_waited_out(fast_tg, bot_factory):
    tg = fast_tg
    bot = await fast_bot(bot_factory, tg)
    tg.force_429 = [1, 1]
    for uid in (963_001, 963_002):
        tg.customer_says(uid, FAQ_QUESTION)
    await tg.wait_for(lambda: tg.sent_to(963_001) and tg.sent_to(963_002), 15, what="both answers")
    assert await bot.delivery.drain(10)
    assert len(tg.forced_429_at) == 2 and tg.early_retries == 0, "retried before retry_after"
    assert bot.delivery.stats["rate_limited"] == 2
    assert [len(tg.sent_to(u)) for u in (963_001, 963_002)] == [1, 1]


async def test_a_send_that_times_out_is_cut_off_and_retried(fast_tg, bot_factory):
    tg = fast_tg
    bot = await fast_bot(bot_factory, tg, delivery_options={"lease_seconds": 2.0})  # a send may take 1.6 s
    tg.hang_next, tg.hang_seconds = 1, 4.0  # the first send is not made, and answered only after 4 s
    t0 = time.monotonic()
    tg.customer_says(964_001, FAQ_QUESTION)
    await tg.wait_for(lambda: tg.sent_to(964_001), 10, what="the answer")
    assert await bot.delivery.drain(10)
    assert tg.hung == 1 and time.monotonic() - t0 < 6
    assert bot.delivery.stats["retried"] == 1
    assert len(tg.sent_to(964_001)) == 1


async def test_a_dropped_connection_is_retried(fast_tg, bot_factory):
    tg = fast_tg
    bot = await fast_bot(bot_factory, tg)
    tg.drop_next = 2
    tg.customer_says(965_001, FAQ_QUESTION)
    await tg.wait_for(lambda: tg.sent_to(965_001), 10, what="the answer")
    assert await bot.delivery.drain(10)
    assert tg.dropped == 2 and bot.delivery.stats["retried"] == 2
    assert len(tg.sent_to(965_001)) == 1


async def test_a_lost_reply_costs_telegram_at_most_one_duplicate(fast_tg, bot_factory):
    tg = fast_tg
    bot = await fast_bot(bot_factory, tg)
    tg.lose_reply_next = 3  # sent, but the bot never hears so
    customers = [966_001, 966_002, 966_003]
    for uid in customers:
        tg.customer_says(uid, FAQ_QUESTION)
    await tg.wait_for(lambda: all(tg.sent_to(u) for u in customers), 10, what="the answers")
    assert await bot.delivery.drain(10)
    duplicates = sum(len(tg.sent_to(u)) - 1 for u in customers)
    print(f"\n[lost replies, Telegram] {tg.lost_replies} replies lost, {duplicates} duplicates")
    assert tg.lost_replies == 3
    assert all(len(tg.sent_to(u)) >= 1 for u in customers)
    assert duplicates <= tg.lost_replies


async def test_a_lost_reply_costs_vk_no_duplicate(fast_tg, bot_factory):
    """The send is retried with the same random_id: VK drops the repeat."""
    tg = fast_tg
    vk = await FakeVk().start()
    try:
        vk_settings = {"VK_GROUP_TOKEN": vk.token, "VK_GROUP_ID": vk.group_id, "VK_API_URL": vk.url}
        bot = await fast_bot(bot_factory, tg, **vk_settings, channel_options={"vk": {"longpoll_wait": 1}})
        await vk.wait_polling()
        vk.fail("messages.send", deliver=True, drop=True, times=3)  # delivered, then the connection drops
        customers = [967_001, 967_002, 967_003]
        for uid in customers:
            vk.user_writes(uid, FAQ_QUESTION)
        for uid in customers:
            await vk.wait_sent(uid, lambda m: FAQ_ANSWER in m.text)
        assert await bot.delivery.drain(10)
        sends = sum(1 for name, _ in vk.calls if name == "messages.send")
        duplicates = sum(len(vk.to(u)) - 1 for u in customers)
        print(f"\n[lost replies, VK] {sends} messages.send calls for 3 answers, {duplicates} duplicates")
        assert not vk.failures, "the lost replies did not happen"
        assert sends >= 6 and bot.delivery.stats["retried"] >= 3
        assert duplicates == 0, [(m.peer_id, m.text[:40]) for m in vk.sent]
    finally:
        await vk.stop()
