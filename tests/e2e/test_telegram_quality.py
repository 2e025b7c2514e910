"""Conversation quality through the Telegram stand-in: the language that sticks, "a person, please" in any
wording, and bad text that never reaches the staff group as it came."""

from __future__ import annotations

ANNA = 7101
BORIS = 7102


async def test_codes_do_not_switch_a_russian_customer_to_english(tg_bot, telegram_fake):
    fake = telegram_fake
    fake.customer_says(ANNA, "мой email ivan.petrov@example.com, номер заказа AB-12345-XYZ", lang="en")
    (answer,) = await fake.wait_for(lambda: fake.sent_to(ANNA), what="an answer")
    assert any("а" <= ch <= "я" for ch in answer.text.lower()), answer.text  # answered in Russian
    fake.customer_says(ANNA, "/status", lang="en")
    await fake.wait_for(lambda: [m for m in fake.sent_to(ANNA) if "обращений" in (m.text or "")])


async def test_a_request_for_a_person_in_the_wrong_layout_opens_a_case(tg_bot, telegram_fake):
    fake = telegram_fake
    fake.customer_says(ANNA, "jgthfnjh")  # "оператор" typed on an English layout
    topic = await fake.wait_for(lambda: fake.topic_named("Anna"), what="a topic")
    assert "#1" in topic.name
    fake.customer_says(BORIS, "can I speak to a real human please", name="Boris", lang="en")
    await fake.wait_for(lambda: fake.topic_named("Boris"), what="a second topic")
    notice = await fake.wait_for(lambda: [m for m in fake.sent_to(BORIS) if "#2" in (m.text or "")])
    assert "Case #2" in notice[0].text  # in English: his words were English


async def test_broken_unicode_and_escapes_are_cleaned_before_the_topic(tg_bot, telegram_fake):
    fake = telegram_fake
    fake.customer_says(ANNA, "/operator")
    topic = await fake.wait_for(lambda: fake.topic_named("Anna"), what="a topic")
    fake.customer_says(ANNA, "строка\udc80 \x1b[31mкрасным\x1b[0m\x07 конец")
    shown = await fake.wait_for(
        lambda: [m for m in fake.topic_messages(topic.thread_id) if "конец" in (m.text or "")], what="the relay"
    )
    assert "\x1b" not in shown[0].text and "\x07" not in shown[0].text
    assert "строка\ufffd красным конец" in shown[0].text
    assert shown[0].parse_mode is None and not shown[0].entities  # customer text never becomes formatting


async def test_markup_in_a_customers_text_stays_text_in_the_topic(tg_bot, telegram_fake):
    fake = telegram_fake
    fake.customer_says(ANNA, "/operator")
    topic = await fake.wait_for(lambda: fake.topic_named("Anna"), what="a topic")
    fake.customer_says(ANNA, "<b>жирный</b> *звёзды* [ссылка](http://evil.example) конец\u200b")
    shown = await fake.wait_for(
        lambda: [m for m in fake.topic_messages(topic.thread_id) if "конец" in (m.text or "")], what="the relay"
    )
    assert "<b>жирный</b> *звёзды* [ссылка](http://evil.example)" in shown[0].text
    assert shown[0].parse_mode is None and not shown[0].entities and not shown[0].buttons
