"""One person on several messengers: every channel has its own case, topic and replies (the whole bot with
Telegram, VK and WhatsApp stand-ins at once)."""

from __future__ import annotations

import json

from tests.e2e.conftest import telegram_settings
from tests.e2e.test_vk import VK_OPTIONS, vk_fake, vk_settings  # noqa: F401 - fixture
from tests.e2e.test_whatsapp import wa_fake, wa_settings  # noqa: F401 - fixture

ANNA_TG = 7301
ANNA_VK = 7301  # the same number on purpose: ids are only unique within a channel
ANNA_WA = "79990007301"


async def test_telegram_vk_and_whatsapp_cases_are_separate(telegram_fake, vk_fake, wa_fake, bot_factory):  # noqa: F811
    tg = telegram_fake
    bot = await bot_factory(
        **telegram_settings(tg), **vk_settings(vk_fake), **wa_settings(wa_fake), channel_options=VK_OPTIONS
    )
    wa_fake.webhook_url = bot.base + "/webhooks/whatsapp"
    await vk_fake.wait_polling()
    vk_fake.users[ANNA_VK] = ("Anna", "VK")

    tg.customer_says(ANNA_TG, "/operator", name="Anna TG")
    tg_topic = await tg.wait_for(lambda: tg.topic_named("Anna TG"), what="the Telegram case's topic")
    vk_fake.user_writes(ANNA_VK, "оператор")
    vk_topic = await tg.wait_for(lambda: tg.topic_named("Anna VK"), what="the VK case's topic")
    await wa_fake.customer_writes(ANNA_WA, "оператор", name="Anna WA")
    wa_topic = await tg.wait_for(lambda: tg.topic_named("Anna WA"), what="the WhatsApp case's topic")

    assert len({tg_topic.thread_id, vk_topic.thread_id, wa_topic.thread_id}) == 3
    assert "Telegram" in tg_topic.name and "VK" in vk_topic.name and "WhatsApp" in wa_topic.name
    numbers = {tg_topic.name.split("·")[0], vk_topic.name.split("·")[0], wa_topic.name.split("·")[0]}
    assert len(numbers) == 3  # three case numbers

    # each operator reply reaches the customer on that case's own channel only
    tg.operator_says(vk_topic.thread_id, "ответ в VK")
    tg.operator_says(tg_topic.thread_id, "ответ в Telegram")
    tg.operator_says(wa_topic.thread_id, "ответ в WhatsApp")
    await vk_fake.wait_sent(ANNA_VK, lambda m: m.text == "ответ в VK")
    await tg.wait_for(lambda: [m for m in tg.sent_to(ANNA_TG) if m.text == "ответ в Telegram"], what="Telegram reply")
    await wa_fake.wait_sent(ANNA_WA, lambda m: m.get("text", {}).get("body") == "ответ в WhatsApp")
    assert await bot.delivery.drain(10)
    assert not [m for m in vk_fake.to(ANNA_VK) if "Telegram" in m.text or "WhatsApp" in m.text]
    assert not [m for m in tg.sent_to(ANNA_TG) if "в VK" in (m.text or "") or "WhatsApp" in (m.text or "")]
    assert not [m for m in wa_fake.to(ANNA_WA) if "в VK" in json.dumps(m, ensure_ascii=False)]

    # and what each customer writes goes to their own topic
    vk_fake.user_writes(ANNA_VK, "спасибо из VK")
    await tg.wait_for(
        lambda: [m for m in tg.topic_messages(vk_topic.thread_id) if "спасибо из VK" in (m.text or "")],
        what="the VK message in the VK topic",
    )
    assert not [m for m in tg.topic_messages(tg_topic.thread_id) if "спасибо из VK" in (m.text or "")]
    cases = sorted([c.customer.channel for c in [await bot.store.get_case(i) for i in (1, 2, 3)]])
    assert cases == ["telegram", "vk", "whatsapp"]
