"""Operators in the staff supergroup, end to end: topics, relays both ways, notes, commands, card buttons."""

from __future__ import annotations

import asyncio

from core.cases import CaseStatus
from core.messages import Inbound, UserRef

ANNA = 7101
BORIS = 7102


async def open_case(fake, user_id: int, name: str = "Anna"):
    fake.customer_says(user_id, "/operator", name=name)
    topic = await fake.wait_for(lambda: fake.topic_named(name), what=f"the topic of {name}")
    await fake.wait_for(lambda: fake.topic_messages(topic.thread_id), what="the card")
    return topic


def to_customer(fake, user_id: int, needle: str):
    return [m for m in fake.sent_to(user_id) if needle in (m.text or "")]


async def test_relay_both_ways_text_and_photo(tg_bot, telegram_fake):
    fake = telegram_fake
    topic = await open_case(fake, ANNA)
    thread = topic.thread_id
    # customer -> topic: copy_message of the original
    said = fake.customer_says(ANNA, "Мой заказ 123 не пришёл")
    relayed = await fake.wait_for(lambda: [m for m in fake.topic_messages(thread) if m.kind == "copy"])
    assert relayed[0].copy_of == (ANNA, said["message"]["message_id"])
    assert relayed[0].text == "Мой заказ 123 не пришёл"
    fake.customer_sends_photo(ANNA, b"customer photo bytes", caption="вот скрин")
    photo = await fake.wait_for(lambda: [m for m in fake.topic_messages(thread) if m.kind == "copy:photo"])
    assert photo[0].text == "вот скрин"
    # operator -> customer: copy_message from the topic
    op = fake.operator_says(thread, "Проверяю, минуту")
    back = await fake.wait_for(lambda: [m for m in fake.sent_to(ANNA) if m.copy_of])
    assert back[0].copy_of == (fake.staff_chat, op["message"]["message_id"])
    assert back[0].text == "Проверяю, минуту"
    fake.operator_sends_photo(thread, b"operator photo bytes")
    back_photo = await fake.wait_for(lambda: [m for m in fake.sent_to(ANNA) if m.kind == "copy:photo"])
    assert fake.files[back_photo[0].file][0] == b"operator photo bytes"
    # the first reply moved the case to "in progress": shown in the topic and its name
    await fake.wait_for(lambda: "🔧" in fake.topics[thread].name, what="the topic renamed")
    case = await tg_bot.store.get_case(1)
    assert case.status is CaseStatus.IN_PROGRESS and case.operator == "Olga Petrova"
    redis = tg_bot.store.redis
    assert await redis.ttl(tg_bot.store.k("ref", "tgtopic", thread)) == -1  # topics stay linked for good
    assert await redis.ttl(tg_bot.store.k("ref", "tgmsg", relayed[0].message_id)) > 0  # messages expire


async def test_notes_are_not_relayed(tg_bot, telegram_fake):
    fake = telegram_fake
    topic = await open_case(fake, ANNA)
    fake.operator_says(topic.thread_id, "! she called twice already")
    fake.operator_says(topic.thread_id, "Hello!")
    await fake.wait_for(lambda: [m for m in fake.sent_to(ANNA) if m.copy_of], what="the reply")
    await tg_bot.delivery.drain(5)
    assert not [m for m in fake.sent_to(ANNA) if "called twice" in (m.text or "")]
    log = await tg_bot.store.transcript(1)
    assert any(e["who"] == "note" and "called twice" in e["text"] for e in log)


async def test_staff_commands(tg_bot, telegram_fake):
    fake = telegram_fake
    topic = await open_case(fake, ANNA)
    thread = topic.thread_id

    fake.operator_says(thread, "/take")
    await fake.wait_for(lambda: to_customer(fake, ANNA, "взял"), what="the customer told: taken")
    await fake.wait_for(lambda: "🔧" in fake.topics[thread].name)
    assert [m for m in fake.topic_messages(thread) if "in progress (Olga Petrova)" in (m.text or "")]

    fake.operator_says(thread, "/needinfo")
    await fake.wait_for(lambda: to_customer(fake, ANNA, "дополнительная информация"))
    await fake.wait_for(lambda: "❓" in fake.topics[thread].name)

    fake.operator_says(thread, "/escalate")
    await fake.wait_for(lambda: to_customer(fake, ANNA, "старшему специалисту"))
    await fake.wait_for(lambda: "⚠️" in fake.topics[thread].name)

    fake.operator_says(None, "/case 1")  # from the General topic: the card is answered there
    card = await fake.wait_for(lambda: [m for m in fake.sent_to(fake.staff_chat, None) if "Case #1" in (m.text or "")])
    assert "escalated" in card[0].text

    fake.operator_says(thread, "/resolve")
    await fake.wait_for(lambda: to_customer(fake, ANNA, "решено"))
    rate = await fake.wait_for(lambda: [m for m in fake.sent_to(ANNA) if m.buttons and "rate:" in m.buttons[0][1]])
    assert len(rate[0].buttons) == 5
    await fake.wait_for(lambda: "✅" in fake.topics[thread].name)

    fake.press(ANNA, "rate:1:5")
    await fake.wait_for(lambda: to_customer(fake, ANNA, "5 из 5"))

    fake.operator_says(thread, "/ban")
    await fake.wait_for(lambda: [m for m in fake.topic_messages(thread) if "is banned" in (m.text or "")])
    before = len(fake.sent)
    fake.customer_says(ANNA, "Как сбросить пароль?")
    await asyncio.sleep(0.3)
    await tg_bot.delivery.drain(5)
    assert len(fake.sent) == before, "a banned customer was answered"
    assert await tg_bot.store.dropped(UserRef("telegram", str(ANNA))) == 1
    fake.operator_says(thread, "/unban")
    await fake.wait_for(lambda: [m for m in fake.topic_messages(thread) if "is unbanned" in (m.text or "")])
    fake.customer_says(ANNA, "Как сбросить пароль?")
    await fake.wait_for(lambda: to_customer(fake, ANNA, "Забыли пароль"))


async def test_commands_outside_the_staff_group_are_not_commands(tg_bot, telegram_fake):
    fake = telegram_fake
    topic = await open_case(fake, ANNA)
    fake.customer_says(ANNA, "/resolve")  # in an open case: a message for the operator like any other
    await fake.wait_for(
        lambda: [m for m in fake.topic_messages(topic.thread_id) if m.text == "/resolve"], what="relayed"
    )
    case = await tg_bot.store.get_case(1)
    assert case.status is CaseStatus.ACCEPTED


async def test_card_buttons_act_like_commands(tg_bot, telegram_fake):
    fake = telegram_fake
    topic = await open_case(fake, ANNA)
    card = fake.topic_messages(topic.thread_id)[0]
    fake.operator_press(card, "case:take:1")
    await fake.wait_for(lambda: to_customer(fake, ANNA, "взял"))
    fake.operator_press(card, "case:resolve:1")
    await fake.wait_for(lambda: to_customer(fake, ANNA, "решено"))
    assert (await tg_bot.store.get_case(1)).status is CaseStatus.RESOLVED
    assert len(fake.callback_answers) >= 2


async def test_concurrent_first_messages_make_one_topic(tg_bot, telegram_fake):
    fake = telegram_fake
    for _ in range(5):
        fake.customer_says(BORIS, "оператор", name="Boris")
    topic = await fake.wait_for(lambda: fake.topic_named("Boris"))
    await tg_bot.delivery.drain(10)
    await asyncio.sleep(0.2)
    await tg_bot.delivery.drain(10)
    assert len([t for t in fake.topics.values() if "Boris" in t.name]) == 1
    # the extra messages were relayed into the one topic
    assert len([m for m in fake.topic_messages(topic.thread_id) if m.kind == "copy"]) >= 1


async def test_simultaneous_handoffs_of_one_customer_via_two_updates_batches(tg_bot, telegram_fake):
    """Two bots (two processes) handling the same customer's first messages: still one case and one topic."""
    fake = telegram_fake
    user = UserRef("telegram", str(BORIS))
    events = [Inbound(user, "/operator", f"{BORIS}:{900 + i}", name="Boris") for i in range(4)]
    await asyncio.gather(*(tg_bot.hub.customer(e) for e in events))
    await fake.wait_for(lambda: fake.topic_named("Boris"))
    await tg_bot.delivery.drain(10)
    assert len([t for t in fake.topics.values() if "Boris" in t.name]) == 1


async def test_an_anonymous_administrator_is_an_operator(tg_bot, telegram_fake):
    fake = telegram_fake
    topic = await open_case(fake, ANNA)
    fake.operator_says(topic.thread_id, "/take", anonymous=True)  # no signature: "Operator"
    await fake.wait_for(lambda: to_customer(fake, ANNA, "взял"))
    assert (await tg_bot.store.get_case(1)).operator == "Operator"
    fake.operator_says(topic.thread_id, "Здравствуйте, смотрю", anonymous=True, signature="Lead")
    await fake.wait_for(lambda: [m for m in fake.sent_to(ANNA) if m.text == "Здравствуйте, смотрю"])
    log = await tg_bot.store.transcript(1)
    assert any(e["who"] == "operator" and "смотрю" in e["text"] for e in log)


async def test_only_staff_commands_are_commands_in_a_topic(tg_bot, telegram_fake):
    fake = telegram_fake
    topic = await open_case(fake, ANNA)
    fake.operator_says(topic.thread_id, "/take")
    await fake.wait_for(lambda: to_customer(fake, ANNA, "взял"))
    fake.operator_says(topic.thread_id, "/etc/hosts is the file to check")
    await fake.wait_for(lambda: [m for m in fake.sent_to(ANNA) if m.text == "/etc/hosts is the file to check"])
    await tg_bot.delivery.drain(5)
    assert not [m for m in fake.topic_messages(topic.thread_id) if "Unknown command" in (m.text or "")]
    assert not to_customer(fake, ANNA, "/take")


async def test_a_reply_to_a_message_of_no_known_case_asks_for_case_n(tg_bot, telegram_fake, redis):
    fake = telegram_fake
    fake.forum = False
    fake.customer_says(ANNA, "/operator", name="Anna")
    card = (await fake.wait_for(lambda: [m for m in fake.staff_messages() if "Case #1" in (m.text or "")]))[0]
    link = tg_bot.store.k("ref", "tgmsg", card.message_id)
    assert 0 < await redis.ttl(link) <= 90 * 24 * 3600  # per-message links expire
    assert await redis.ttl(tg_bot.store.k("ref", "tgmsg", "nope")) == -2
    await redis.delete(link)  # as after 90 days
    op = fake.operator_says(None, "Заказ в пути", reply_to=card.message_id)
    told = await fake.wait_for(lambda: [m for m in fake.staff_messages() if "use /case N" in (m.text or "")])
    assert told[0].text.startswith("I don't know which case") and told[0].reply_to == op["message"]["message_id"]
    # a reply to a colleague is just a conversation between operators
    fake.operator_says(None, "coffee?", reply_to=op["message"]["message_id"], user_id=502, name="Ivan")
    await asyncio.sleep(0.3)
    await tg_bot.delivery.drain(5)
    assert len([m for m in fake.staff_messages() if "use /case N" in (m.text or "")]) == 1
    assert not [m for m in fake.sent_to(ANNA) if m.copy_of or "Заказ" in (m.text or "")]


async def test_edits_are_relayed_both_ways(tg_bot, telegram_fake):
    fake = telegram_fake
    topic = await open_case(fake, ANNA)
    said = fake.customer_says(ANNA, "Заказ 123")
    await fake.wait_for(lambda: [m for m in fake.topic_messages(topic.thread_id) if m.text == "Заказ 123"])
    fake.customer_edits(said, "Заказ 124")
    await fake.wait_for(
        lambda: [m for m in fake.topic_messages(topic.thread_id) if m.text == "✏️ edited: Заказ 124"],
        what="the customer's edit in the topic",
    )
    op = fake.operator_says(topic.thread_id, "Смотрю 123")
    await fake.wait_for(lambda: [m for m in fake.sent_to(ANNA) if m.text == "Смотрю 123"])
    fake.operator_edits(op, "Смотрю 124")
    await fake.wait_for(
        lambda: [m for m in fake.sent_to(ANNA) if m.text == "✏️ Смотрю 124"],
        what="the operator's edit sent to the customer",
    )
