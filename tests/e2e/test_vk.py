"""VK customers end to end: the whole bot (``bots.runner.build``) against the VK API stand-in (long poll, upload
URLs, real vk-api over HTTP) and the Telegram stand-in for the staff group."""

from __future__ import annotations

import asyncio

import pytest

from bots.runner import ConfigError
from bots.vk import VkSetupError
from tests.e2e.conftest import telegram_settings
from tests.fakes.vk_api import FakeVk

IVAN = 880001
PHOTO = b"\xff\xd8\xff\xe0 customer jpeg"


@pytest.fixture
async def vk_fake():
    fake = await FakeVk().start()
    yield fake
    await fake.stop()


VK_OPTIONS = {"vk": {"longpoll_wait": 1}}


def vk_settings(fake: FakeVk, **extra) -> dict:
    return {"VK_GROUP_TOKEN": fake.token, "VK_GROUP_ID": fake.group_id, "VK_API_URL": fake.url, **extra}


@pytest.fixture
async def vk_bot(telegram_fake, vk_fake, bot_factory):
    bot = await bot_factory(**telegram_settings(telegram_fake), **vk_settings(vk_fake), channel_options=VK_OPTIONS)
    await vk_fake.wait_polling()
    return bot


async def handoff(vk_fake, tg, user_id=IVAN, name="Ivan"):
    vk_fake.user_writes(user_id, "оператор")
    await vk_fake.wait_sent(user_id, lambda m: "создано" in m.text)
    await vk_fake.wait_sent(user_id, lambda m: "подробнее" in m.text)  # the questions after the handoff notice
    topic = await tg.wait_for(lambda: tg.topic_named(name), what="the VK case's topic")
    return topic


async def test_faq_answer(vk_bot, vk_fake):
    vk_fake.user_writes(IVAN, "Как сбросить пароль?")
    answer = await vk_fake.wait_sent(IVAN)
    assert "Забыли пароль" in answer.text
    assert {b["type"] for b in answer.buttons} == {"callback"}


async def test_handoff_topic_and_operator_text_and_photo_back(vk_bot, vk_fake, telegram_fake):
    tg = telegram_fake
    vk_fake.user_writes(IVAN, "Как сбросить пароль?")
    answer = await vk_fake.wait_sent(IVAN)
    vk_fake.press_button(answer, "оператор")
    handoff_msg = await vk_fake.wait_sent(IVAN, lambda m: "создано" in m.text)
    assert "1" in handoff_msg.text
    topic = await tg.wait_for(lambda: tg.topic_named("Ivan Petrov"), what="the topic")
    assert "VK" in topic.name and "1" in topic.name  # "#1 · VK · Ivan Petrov"
    card = await tg.wait_for(lambda: tg.topic_messages(topic.thread_id), what="the card")
    assert "VK" in (card[0].text or "")
    # operator text and photo back to the VK customer
    tg.operator_says(topic.thread_id, "Здравствуйте, проверяю")
    await vk_fake.wait_sent(IVAN, lambda m: m.text == "Здравствуйте, проверяю")
    tg.operator_sends_photo(topic.thread_id, b"operator jpeg bytes", caption="вот инструкция")
    sent = await vk_fake.wait_sent(IVAN, lambda m: m.attachments)
    assert sent.text == "вот инструкция"
    assert sent.attachments[0]["type"] == "photo" and sent.attachments[0]["data"] == b"operator jpeg bytes"


async def test_customer_photo_into_the_topic(vk_bot, vk_fake, telegram_fake):
    tg = telegram_fake
    topic = await handoff(vk_fake, tg)
    vk_fake.user_writes(IVAN, "вот скрин", attachments=[vk_fake.photo(PHOTO, IVAN)])
    photos = await tg.wait_for(
        lambda: [m for m in tg.topic_messages(topic.thread_id) if m.kind == "photo"],
        what="the customer's photo in the topic",
    )
    assert photos[0].data == PHOTO and "вот скрин" in (photos[0].text or "")


async def test_rating(vk_bot, vk_fake, telegram_fake):
    tg = telegram_fake
    topic = await handoff(vk_fake, tg)
    tg.operator_says(topic.thread_id, "/resolve")
    prompt = await vk_fake.wait_sent(IVAN, lambda m: any("rate:" in b.get("payload", "") for b in m.buttons))
    assert len(prompt.buttons) == 5
    vk_fake.press_button(prompt, "⭐⭐⭐⭐")
    await tg.wait_for(
        lambda: [m for m in tg.topic_messages(topic.thread_id) if "rated the help" in (m.text or "")],
        what="the rating in the topic",
    )
    case = await vk_bot.store.get_case(1)
    assert case.rating == 4
    assert vk_fake.event_answers  # the callback button's spinner was stopped


async def test_duplicate_delivery_is_handled_once(vk_bot, vk_fake, telegram_fake):
    vk_fake.user_writes(IVAN, "Как сбросить пароль?", message_id=4242)
    vk_fake.user_writes(IVAN, "Как сбросить пароль?", message_id=4242)
    vk_fake.user_writes(IVAN, "Какие часы работы поддержки?")
    await vk_fake.wait_sent(IVAN, lambda m: "24/7" in m.text)
    assert await vk_bot.delivery.drain(10)
    assert [("Забыли пароль" in m.text) for m in vk_fake.to(IVAN)] == [True, False]


async def test_error_901_shown_to_the_operator(vk_bot, vk_fake, telegram_fake):
    tg = telegram_fake
    topic = await handoff(vk_fake, tg)
    vk_fake.fail("messages.send", error_code=901)
    tg.operator_says(topic.thread_id, "Вы тут?")
    notice = await tg.wait_for(
        lambda: [m for m in tg.topic_messages(topic.thread_id) if "Not delivered" in (m.text or "")],
        what="the 901 notice",
    )
    assert "VK error 901" in notice[0].text and "not allowed messages" in notice[0].text
    assert not [m for m in vk_fake.to(IVAN) if m.text == "Вы тут?"]


async def test_500_then_200_delivered_once(vk_bot, vk_fake, telegram_fake):
    tg = telegram_fake
    topic = await handoff(vk_fake, tg)
    vk_fake.fail("messages.send", http_status=500, deliver=True)  # delivered, but VK answered 500
    tg.operator_says(topic.thread_id, "Один раз")
    await vk_fake.wait_sent(IVAN, lambda m: m.text == "Один раз")
    assert await vk_bot.delivery.drain(10)
    tries = [p for n, p in vk_fake.calls if n == "messages.send" and p.get("message") == "Один раз"]
    assert len(tries) == 2 and len({p["random_id"] for p in tries}) == 1
    assert [m.text for m in vk_fake.to(IVAN)].count("Один раз") == 1
    assert not [m for m in tg.topic_messages(topic.thread_id) if "Not delivered" in (m.text or "")]


async def test_callback_api_secret_confirmation_and_resent_event(telegram_fake, vk_fake, bot_factory):
    bot = await bot_factory(
        **telegram_settings(telegram_fake),
        **vk_settings(vk_fake, VK_CALLBACK_SECRET="cb-secret", VK_CONFIRMATION_CODE="c0nf1rm"),
    )
    url = bot.base + "/webhooks/vk"
    assert await vk_fake.post_callback(url, {"type": "confirmation", "group_id": vk_fake.group_id}, None) == (
        200,
        "c0nf1rm",
    )
    update = vk_fake.user_writes(IVAN, "Как сбросить пароль?")
    assert (await vk_fake.post_callback(url, update, "wrong secret"))[0] == 403
    assert (await vk_fake.post_callback(url, update, None))[0] == 403
    assert await vk_fake.post_callback(url, update, "cb-secret") == (200, "ok")
    assert await vk_fake.post_callback(url, update, "cb-secret") == (200, "ok")  # re-sent by VK
    await vk_fake.wait_sent(IVAN)
    assert await bot.delivery.drain(10)
    assert len(vk_fake.to(IVAN)) == 1
    assert not [1 for n, _ in vk_fake.calls if n == "groups.getLongPollServer"]


async def test_a_refused_vk_token_stops_the_bot(telegram_fake, vk_fake, bot_factory):
    bot = await bot_factory(**telegram_settings(telegram_fake), **vk_settings(vk_fake, VK_GROUP_TOKEN="revoked"))
    vk_task = next(task for task in bot.runtime.tasks if task.get_name() == "vk")
    await asyncio.wait([vk_task], timeout=5)
    # `supportbot run` gathers the channel tasks: it stops with "configuration error: ..." (a ConfigError)
    assert vk_task.done() and isinstance(vk_task.exception(), VkSetupError)
    assert isinstance(vk_task.exception(), ConfigError)
    assert "VK_GROUP_TOKEN was refused (VK error 5" in str(vk_task.exception())
