"""WhatsApp customers end to end: the whole bot (``bots.runner.build``) with its web server receiving signed
webhooks, the Graph API stand-in for sending and media, and the Telegram stand-in for the staff group."""

from __future__ import annotations

import json

import pytest

from bots.whatsapp import WINDOW
from core.messages import customer
from tests.e2e.conftest import telegram_settings
from tests.e2e.test_whatsapp_adapter import LaterClock
from tests.fakes.graph_api import FakeGraph

MARIA = "79161234567"
PHOTO = b"\x89PNG customer png"


@pytest.fixture
async def wa_fake():
    fake = await FakeGraph().start()
    yield fake
    await fake.stop()


def wa_settings(fake: FakeGraph, **extra) -> dict:
    return {
        "WHATSAPP_TOKEN": fake.token,
        "WHATSAPP_PHONE_NUMBER_ID": fake.phone_number_id,
        "WHATSAPP_APP_SECRET": fake.app_secret,
        "WHATSAPP_VERIFY_TOKEN": "verify-me",
        "WHATSAPP_API_URL": fake.url,
        **extra,
    }


@pytest.fixture
def wa_clock():
    """The WhatsApp channel's clock: a test moves it on to close the 24-hour window."""
    return LaterClock()


@pytest.fixture
async def wa_bot(telegram_fake, wa_fake, bot_factory, wa_clock):
    options = {"whatsapp": {"clock": wa_clock}}
    bot = await bot_factory(**telegram_settings(telegram_fake), **wa_settings(wa_fake), channel_options=options)
    wa_fake.webhook_url = bot.base + "/webhooks/whatsapp"
    return bot


def body(m: dict) -> str:
    return json.dumps(m, ensure_ascii=False)


async def handoff(wa_fake, tg, wa_id=MARIA):
    await wa_fake.customer_writes(wa_id, "оператор")
    await wa_fake.wait_sent(wa_id, lambda m: "создано" in body(m))
    await wa_fake.wait_sent(wa_id, lambda m: "подробнее" in body(m))  # the questions after the handoff notice
    return await tg.wait_for(lambda: tg.topic_named("Maria"), what="the WhatsApp case's topic")


def topic_texts(tg, topic, needle):
    return [m for m in tg.topic_messages(topic.thread_id) if needle in (m.text or "")]


async def test_faq_answer(wa_bot, wa_fake):
    await wa_fake.customer_writes(MARIA, "Как сбросить пароль?")
    answer = await wa_fake.wait_sent(MARIA)
    assert answer["interactive"]["type"] == "button"
    assert "Забыли пароль" in answer["interactive"]["body"]["text"]


async def test_handoff_topic_window_note_and_operator_text_and_photo_back(wa_bot, wa_fake, telegram_fake):
    tg = telegram_fake
    await wa_fake.customer_writes(MARIA, "Как сбросить пароль?")
    answer = await wa_fake.wait_sent(MARIA)
    await wa_fake.customer_presses(MARIA, answer, "оператор")
    await wa_fake.wait_sent(MARIA, lambda m: "создано" in body(m))
    topic = await tg.wait_for(lambda: tg.topic_named("Maria"), what="the topic")
    assert "#1 · WhatsApp · +79161234567 · Maria" in topic.name
    card = await tg.wait_for(lambda: topic_texts(tg, topic, "+79161234567"), what="the card with the number")
    assert "WhatsApp" in card[0].text
    await tg.wait_for(
        lambda: topic_texts(tg, topic, "free-form replies are possible until"), what="when the 24-hour window closes"
    )
    tg.operator_says(topic.thread_id, "Здравствуйте, проверяю")
    await wa_fake.wait_sent(MARIA, lambda m: m["type"] == "text" and m["text"]["body"] == "Здравствуйте, проверяю")
    tg.operator_sends_photo(topic.thread_id, b"operator jpeg bytes", caption="вот инструкция")
    image = await wa_fake.wait_sent(MARIA, lambda m: m["type"] == "image")
    assert wa_fake.media_bytes(image) == b"operator jpeg bytes"
    assert any(m["type"] == "text" and m["text"]["body"] == "вот инструкция" for m in wa_fake.to(MARIA))


async def test_customer_photo_into_the_topic(wa_bot, wa_fake, telegram_fake):
    tg = telegram_fake
    topic = await handoff(wa_fake, tg)
    await wa_fake.customer_sends_media(MARIA, "image", PHOTO, "image/png", caption="вот скрин")
    photos = await tg.wait_for(
        lambda: [m for m in tg.topic_messages(topic.thread_id) if m.kind == "photo"],
        what="the customer's photo in the topic",
    )
    assert photos[0].data == PHOTO and "вот скрин" in (photos[0].text or "")


async def test_rating(wa_bot, wa_fake, telegram_fake):
    tg = telegram_fake
    topic = await handoff(wa_fake, tg)
    tg.operator_says(topic.thread_id, "/resolve")
    prompt = await wa_fake.wait_sent(MARIA, lambda m: m.get("interactive", {}).get("type") == "list")
    await wa_fake.customer_presses(MARIA, prompt, "⭐⭐⭐⭐⭐")
    await tg.wait_for(lambda: topic_texts(tg, topic, "rated the help 5/5"), what="the rating in the topic")
    assert (await wa_bot.store.get_case(1)).rating == 5


async def test_duplicate_delivery_is_handled_once(wa_bot, wa_fake):
    payload = wa_fake.payload(MARIA, "Maria", {"type": "text", "text": {"body": "Как сбросить пароль?"}})
    assert (await wa_fake.post_webhook(payload))[0] == 200
    assert (await wa_fake.post_webhook(payload))[0] == 200
    await wa_fake.customer_writes(MARIA, "Какие часы работы поддержки?")
    await wa_fake.wait_sent(MARIA, lambda m: "24/7" in body(m))
    assert await wa_bot.delivery.drain(10)
    assert len(wa_fake.to(MARIA)) == 2


async def test_bad_signature_is_rejected(wa_bot, wa_fake):
    payload = wa_fake.payload(MARIA, "Maria", {"type": "text", "text": {"body": "Как сбросить пароль?"}})
    assert (await wa_fake.post_webhook(payload, signature=wa_fake.sign(b"x", "wrong-secret")))[0] == 403
    assert (await wa_fake.post_webhook(payload, signature=None))[0] == 403
    assert await wa_bot.delivery.drain(5)
    assert not wa_fake.sent
    assert not await wa_bot.store.get_user(customer("whatsapp", MARIA))


async def test_closed_24_hour_window_is_reported_not_lost(wa_bot, wa_fake, telegram_fake, wa_clock):
    tg = telegram_fake
    topic = await handoff(wa_fake, tg)
    wa_clock.shift = WINDOW + 60  # a day later
    tg.operator_says(topic.thread_id, "Ответ через сутки")
    notice = await tg.wait_for(lambda: topic_texts(tg, topic, "Not delivered"), what="the closed-window notice")
    assert "24-hour window closed at" in notice[0].text and "Ответ через сутки" in notice[0].text
    assert not [m for m in wa_fake.to(MARIA) if "через сутки" in body(m)]


async def test_closed_window_with_a_reopen_template(telegram_fake, wa_fake, bot_factory):
    tg = telegram_fake
    bot = await bot_factory(**telegram_settings(tg), **wa_settings(wa_fake, WHATSAPP_REOPEN_TEMPLATE="case_reply"))
    wa_fake.webhook_url = bot.base + "/webhooks/whatsapp"
    topic = await handoff(wa_fake, tg)
    wa_fake.window_closed.add(MARIA)  # WhatsApp itself answers 131047 to free-form messages
    tg.operator_says(topic.thread_id, "Ответ через сутки")
    sent = await wa_fake.wait_sent(MARIA, lambda m: m["type"] == "template")
    assert sent["template"]["name"] == "case_reply"
    assert sent["template"]["components"][0]["parameters"][0]["text"] == "Ответ через сутки"
    assert not topic_texts(tg, topic, "Not delivered")


async def test_500_then_200_delivered_once(wa_bot, wa_fake, telegram_fake):
    tg = telegram_fake
    topic = await handoff(wa_fake, tg)
    wa_fake.fail(500)
    tg.operator_says(topic.thread_id, "Один раз")
    await wa_fake.wait_sent(MARIA, lambda m: m.get("text", {}).get("body") == "Один раз")
    assert await wa_bot.delivery.drain(10)
    assert [m.get("text", {}).get("body") for m in wa_fake.to(MARIA)].count("Один раз") == 1
    assert not topic_texts(tg, topic, "Not delivered")


async def test_failed_delivery_status_is_shown_to_the_operator(wa_bot, wa_fake, telegram_fake):
    tg = telegram_fake
    topic = await handoff(wa_fake, tg)
    tg.operator_says(topic.thread_id, "Вам письмо")
    sent = await wa_fake.wait_sent(MARIA, lambda m: m.get("text", {}).get("body") == "Вам письмо")
    await wa_fake.status(sent["id"], MARIA, "failed", 131026, "Message undeliverable.")
    notice = await tg.wait_for(lambda: topic_texts(tg, topic, "Not delivered"), what="the failed status")
    assert "undeliverable" in notice[0].text and "Вам письмо" in notice[0].text
