"""Webhook mode and /healthz, end to end over HTTP."""

from __future__ import annotations

import aiohttp
import redis.asyncio as aioredis

from bots.web import make_app, start
from core.store import Store
from tests.e2e.conftest import telegram_settings
from tests.fakes.telegram_api import free_port

ANNA = 7301
SECRET = "s3cret-token"


async def webhook_bot(bot_factory, fake, **kw):
    bot = await bot_factory(
        **telegram_settings(fake), TELEGRAM_WEBHOOK_URL="{base}/webhooks/telegram", TELEGRAM_WEBHOOK_SECRET=SECRET, **kw
    )
    await fake.wait_for(lambda: fake.webhook, what="setWebhook")
    return bot


async def test_set_webhook_with_secret_and_reject_a_wrong_secret(telegram_fake, bot_factory):
    fake = telegram_fake
    bot = await webhook_bot(bot_factory, fake)
    assert fake.webhook == {"url": f"{bot.base}/webhooks/telegram", "secret_token": SECRET}
    update = fake.customer_says(ANNA, "Как сбросить пароль?")
    assert await fake.deliver(update, secret="wrong") in (401, 403)
    async with aiohttp.ClientSession() as s, s.post(f"{bot.base}/webhooks/telegram", json=update) as r:
        assert r.status in (401, 403)  # no secret at all
    assert await bot.delivery.drain(5)  # the refusals were answered after nothing had been queued
    assert not fake.sent_to(ANNA)
    assert await fake.deliver(update) == 200
    await fake.wait_for(lambda: fake.sent_to(ANNA))


async def test_update_is_in_the_outbox_before_200_and_a_duplicate_is_handled_once(telegram_fake, bot_factory):
    fake = telegram_fake
    bot = await webhook_bot(bot_factory, fake, run_delivery=False)
    update = fake.customer_says(ANNA, "Как сбросить пароль?")
    assert await fake.deliver(update) == 200
    assert await bot.core.outbox.pending() == 1  # stored before the webhook answered
    assert await fake.deliver(update) == 200  # Telegram re-delivers
    assert await bot.core.outbox.pending() == 1
    assert await bot.delivery.drain(10)
    assert len(fake.sent_to(ANNA)) == 1


async def test_duplicate_staff_callback_is_handled_once(telegram_fake, bot_factory):
    fake = telegram_fake
    bot = await webhook_bot(bot_factory, fake)
    assert await fake.deliver(fake.customer_says(ANNA, "/operator")) == 200
    topic = await fake.wait_for(lambda: fake.topic_named("Anna"))
    card = (await fake.wait_for(lambda: fake.topic_messages(topic.thread_id)))[0]
    press = fake.operator_press(card, "case:take:1")
    assert await fake.deliver(press) == 200
    assert await fake.deliver(press) == 200
    await fake.wait_for(lambda: [m for m in fake.sent_to(ANNA) if "взял" in (m.text or "")])
    await bot.delivery.drain(5)
    lines = [m for m in fake.topic_messages(topic.thread_id) if "In progress" in (m.text or "")]
    assert len(lines) == 1
    assert len(fake.callback_answers) == 1


async def test_healthz_ok(tg_bot):
    async with aiohttp.ClientSession() as s, s.get(f"{tg_bot.base}/healthz") as r:
        assert r.status == 200
        assert (await r.json())["redis"] == "ok"


async def test_healthz_503_when_redis_does_not_answer():
    dead = aioredis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.5)
    store = Store(dead, "test:dead:")
    port = free_port()
    runner = await start(make_app(store), "127.0.0.1", port)
    try:
        async with aiohttp.ClientSession() as s, s.get(f"http://127.0.0.1:{port}/healthz") as r:
            assert r.status == 503
    finally:
        await runner.cleanup()
        await dead.aclose()


async def test_without_a_secret_the_webhook_refuses_everything(telegram_fake, bot_factory):
    """runner.check refuses TELEGRAM_WEBHOOK_URL without TELEGRAM_WEBHOOK_SECRET; should it run anyway, nothing
    can prove an update comes from Telegram, so every request is refused."""
    fake = telegram_fake
    bot = await bot_factory(**telegram_settings(fake), TELEGRAM_WEBHOOK_URL="{base}/webhooks/telegram")
    await fake.wait_for(lambda: fake.webhook, what="setWebhook")
    update = fake.customer_says(ANNA, "Как сбросить пароль?")
    assert await fake.deliver(update) == 403
    assert await fake.deliver(update, secret="anything") == 403
    await bot.delivery.drain(5)
    assert not fake.sent_to(ANNA)
