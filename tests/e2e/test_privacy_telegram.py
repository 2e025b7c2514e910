"""Privacy, flood and operators' tools end to end through the Telegram stand-in: masked relays are never copies of
the original, /forget closes the case with a note in its topic, a flood reaches the topic merged, and /faq,
/assign, /cases work from the staff group (the /faq choices are buttons there)."""

from __future__ import annotations

import asyncio
import re
import time

from tests.e2e.conftest import open_case, telegram_settings, with_text

ANNA = 7201
BORIS = 7202


async def test_masked_messages_are_relayed_as_text_and_never_copied(tg_bot, telegram_fake):
    fake = telegram_fake
    thread = (await open_case(fake, ANNA)).thread_id
    fake.customer_says(ANNA, "Списали дважды с карты 4111 1111 1111 1111")
    relay = (await fake.wait_for(lambda: with_text(fake.topic_messages(thread), "•••• 1111"), what="the relay"))[0]
    assert relay.kind == "text" and relay.copy_of is None
    notice = await fake.wait_for(lambda: with_text(fake.sent_to(ANNA), "Я скрыл номер карты"), what="the notice")
    assert len(notice) == 1

    fake.customer_sends_photo(ANNA, b"screenshot bytes", caption="вот скрин, пароль: qwerty123")
    photo = (await fake.wait_for(lambda: [m for m in fake.topic_messages(thread) if m.kind == "photo"]))[0]
    assert photo.text.endswith("вот скрин, пароль: [скрыто]") and photo.data == b"screenshot bytes"
    fake.customer_says(ANNA, "Спасибо")  # nothing to hide: copied as it is
    await fake.wait_for(lambda: [m for m in fake.topic_messages(thread) if m.kind == "copy" and m.text == "Спасибо"])
    assert await tg_bot.delivery.drain(5)
    group = " ".join(m.text or "" for m in fake.staff_messages())
    assert "4111" not in group and "qwerty123" not in group
    assert not [m for m in fake.topic_messages(thread) if m.kind == "copy:photo"]
    assert len(with_text(fake.sent_to(ANNA), "Я скрыл")) == 1, "told once"


async def test_forget_closes_the_case_with_a_note_in_its_topic(tg_bot, telegram_fake):
    fake = telegram_fake
    thread = (await open_case(fake, ANNA)).thread_id
    fake.customer_says(ANNA, "Я Анна, мой адрес Ленина 5")
    await fake.wait_for(lambda: with_text(fake.topic_messages(thread), "Ленина 5"))
    fake.customer_says(ANNA, "/forget")
    ask = (await fake.wait_for(lambda: with_text(fake.sent_to(ANNA), "Удалить ваши данные?")))[0]
    assert ask.buttons == [("Да, удалить", "forget:yes"), ("Не удалять", "forget:no")]
    fake.press(ANNA, "forget:yes")
    await fake.wait_for(lambda: with_text(fake.sent_to(ANNA), "данные удалены"), what="done")
    note = await fake.wait_for(lambda: with_text(fake.topic_messages(thread), "/forget"), what="the note")
    assert "Case #1" in note[0].text
    await fake.wait_for(lambda: "🚫" in fake.topics[thread].name and "(data deleted)" in fake.topics[thread].name)
    log = await tg_bot.store.transcript(1)
    assert not [e for e in log if "Ленина" in e["text"]]


async def test_a_flood_reaches_the_topic_merged_with_one_notice(bot_factory, telegram_fake):
    fake = telegram_fake
    bot = await bot_factory(**telegram_settings(fake), FLOOD_LIMIT=3)
    if time.time() % 60 > 50:  # the limit counts per minute: start in a fresh one
        await asyncio.sleep(60 - time.time() % 60)
    thread = (await open_case(fake, ANNA)).thread_id
    for i in range(10):
        fake.customer_says(ANNA, f"сообщение {i}")
    texts = lambda: " ".join(m.text or "" for m in fake.topic_messages(thread))  # noqa: E731
    await fake.wait_for(lambda: "сообщение 9" in texts(), timeout=20, what="every message relayed")
    assert await bot.delivery.drain(10)
    assert re.findall(r"сообщение (\d+)", texts()) == [str(i) for i in range(10)], "lost, duplicated or reordered"
    relays = [m for m in fake.topic_messages(thread) if "сообщение" in (m.text or "")]
    assert len(relays) < 10 and bot.delivery.stats["merged"] > 0
    assert len(with_text(fake.sent_to(ANNA), "больше 3 сообщений")) == 1


async def test_faq_assign_and_cases_from_the_staff_group(tg_bot, telegram_fake):
    fake = telegram_fake
    thread = (await open_case(fake, ANNA)).thread_id
    fake.operator_says(thread, "/faq заказ")
    choices = (await fake.wait_for(lambda: with_text(fake.topic_messages(thread), "Which FAQ answer")))[0]
    assert len(choices.buttons) == 3 and ("faqsend:1:refund" in [data for _, data in choices.buttons])
    fake.operator_press(choices, "faqsend:1:refund")
    await fake.wait_for(lambda: with_text(fake.sent_to(ANNA), "Возврат оформляется"), what="the answer sent")
    await fake.wait_for(lambda: with_text(fake.topic_messages(thread), "📤"), what="shown in the topic")

    fake.operator_says(thread, "/faq reset_password")  # an id: sent at once
    await fake.wait_for(lambda: with_text(fake.sent_to(ANNA), "Забыли пароль"))

    said = fake.operator_says(thread, "I'll take the next one", user_id=502, name="Petr Ivanov")
    fake.operator_says(thread, "/assign", reply_to=said["message"]["message_id"])
    await fake.wait_for(lambda: with_text(fake.topic_messages(thread), "assigned to Petr Ivanov (by Olga Petrova)"))
    assert (await tg_bot.store.get_case(1)).operator == "Petr Ivanov"

    await open_case(fake, BORIS, "Boris")
    fake.operator_says(None, "/cases")  # in the General topic: answered there
    listing = await fake.wait_for(lambda: with_text(fake.sent_to(fake.staff_chat, None), "Open cases (2)"))
    assert "#1 · Telegram · Anna" in listing[0].text and "Petr Ivanov" in listing[0].text
    assert "#2 · Telegram · Boris" in listing[0].text and "unassigned" in listing[0].text
