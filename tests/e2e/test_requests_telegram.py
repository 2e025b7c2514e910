"""The playbook's requests end to end through the Telegram stand-in: status and follow-ups, preparing the
request, callbacks with a shared contact and ``/called`` in the topic, the follow-up card's link to the old topic."""

from __future__ import annotations

from tests.e2e.conftest import open_case, telegram_settings

ANNA = 7301


def to_customer(fake, needle: str):
    return [m for m in fake.sent_to(ANNA) if needle in (m.text or "")]


def in_topic(fake, topic, needle: str):
    return [m for m in fake.topic_messages(topic.thread_id) if needle in (m.text or "")]


async def test_status_first_reply_and_a_reopened_topic(tg_bot, telegram_fake):
    fake = telegram_fake
    topic = await open_case(fake, ANNA)
    await fake.wait_for(lambda: to_customer(fake, "подробнее"), what="the questions after the handoff")
    fake.operator_says(topic.thread_id, "Смотрю")
    await fake.wait_for(lambda: to_customer(fake, "подключился"), what="told: in progress")
    fake.customer_says(ANNA, "/status 1")
    status = await fake.wait_for(lambda: to_customer(fake, "Обращение #1: в работе"), what="the status")
    assert "Последнее действие" in status[0].text
    fake.operator_says(topic.thread_id, "/resolve")
    await fake.wait_for(lambda: "✅" in fake.topics[topic.thread_id].name, what="the topic resolved")
    fake.customer_says(ANNA, "Холодильник снова поёт по ночам")  # soon after: the same case, reopened
    await fake.wait_for(lambda: to_customer(fake, "снова открыто"), what="told: reopened")
    await fake.wait_for(lambda: in_topic(fake, topic, "reopened"), what="the status line")
    await fake.wait_for(lambda: fake.topics[topic.thread_id].name.startswith("🔁🔧"), what="the title")
    await fake.wait_for(lambda: in_topic(fake, topic, "Холодильник снова поёт"), what="the message, relayed")
    assert len(fake.live_topics()) == 1


async def test_the_details_before_a_handoff_after_a_failed_faq(tg_bot, telegram_fake):
    fake = telegram_fake
    fake.customer_says(ANNA, "Мой холодильник поёт по ночам")
    offer = await fake.wait_for(lambda: [m for m in fake.sent_to(ANNA) if m.buttons])
    fake.press(ANNA, offer[0].buttons[0][1])  # "Talk to a person" after no match
    ask = await fake.wait_for(lambda: to_customer(fake, "опишите"), what="the question")
    assert ask[0].buttons == [("Пропустить", "prep:skip")] and "коды из SMS" in ask[0].text
    assert not fake.topic_named("Anna")
    fake.customer_sends_photo(ANNA, b"fridge photo", caption="Поёт с понедельника")
    topic = await fake.wait_for(lambda: fake.topic_named("Anna"), what="the topic")
    card = await fake.wait_for(lambda: in_topic(fake, topic, "Case #1"), what="the card")
    assert "The customer's description: Поёт с понедельника" in card[0].text and "холодильник" in card[0].text
    await fake.wait_for(
        lambda: [m for m in fake.topic_messages(topic.thread_id) if m.kind == "copy:photo"], what="the photo"
    )


async def test_a_callback_with_a_shared_contact_and_called(tg_bot, telegram_fake):
    fake = telegram_fake
    fake.customer_says(ANNA, "/callback")
    ask = await fake.wait_for(lambda: to_customer(fake, "перезвонить"), what="the question for the number")
    (row,) = ask[0].reply_markup["keyboard"]
    assert row == [{"text": "📱 Отправить мой номер", "request_contact": True}]
    contact = {"phone_number": "79001234567", "first_name": "Anna", "user_id": ANNA}
    fake.customer_says(ANNA, None, contact=contact)  # the "share my number" button
    when = await fake.wait_for(lambda: to_customer(fake, "Номер: +7 900 123-45-67"), what="the question: when")
    assert when[0].reply_markup == {"remove_keyboard": True}
    fake.customer_says(ANNA, "сегодня после 18:00")
    topic = await fake.wait_for(lambda: fake.topic_named("Anna"), what="the topic")
    assert topic.name.startswith("📞")
    card = await fake.wait_for(lambda: in_topic(fake, topic, "Case #1"), what="the card")
    assert "📞 Callback: +7 900 123-45-67 · a good time: сегодня после 18:00" in card[0].text
    await fake.wait_for(lambda: to_customer(fake, "Мы перезвоним на +7 900 123-45-67"), what="the confirmation")
    fake.operator_says(topic.thread_id, "/called")
    await fake.wait_for(lambda: in_topic(fake, topic, "called back (Olga Petrova)"), what="the call recorded")
    case = await tg_bot.store.get_case(1)
    assert case.reason == "callback" and case.extra["called_by"] == "Olga Petrova"


async def test_a_follow_up_card_links_the_old_topic(telegram_fake, bot_factory):
    fake = telegram_fake
    await bot_factory(**telegram_settings(fake), REOPEN_DAYS=0)  # never reopened: every return is a new case
    old = await open_case(fake, ANNA)
    fake.operator_says(old.thread_id, "/resolve")
    await fake.wait_for(lambda: "✅" in fake.topics[old.thread_id].name, what="the old topic resolved")
    fake.customer_says(ANNA, "По обращению #1: деньги так и не вернули")
    new = await fake.wait_for(lambda: fake.topic_named("#2"), what="the follow-up's topic")
    card = await fake.wait_for(lambda: in_topic(fake, new, "Case #2"), what="its card")
    chat = str(fake.staff_chat).removeprefix("-100")
    assert f"↩️ Follow-up to #1 https://t.me/c/{chat}/{old.thread_id}" in card[0].text
    assert "деньги так и не вернули" in card[0].text
