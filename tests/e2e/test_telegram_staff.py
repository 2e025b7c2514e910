"""Operators in the staff supergroup, end to end: topics, relays both ways, notes, commands, card buttons."""

from __future__ import annotations

import asyncio

from core.cases import CaseStatus
from core.messages import Inbound, UserRef
from tests.e2e.conftest import open_case, telegram_settings

ANNA = 7101
BORIS = 7102


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
    assert await redis.ttl(tg_bot.store.keys.ref("tgtopic", thread)) == -1  # topics stay linked for good
    assert await redis.ttl(tg_bot.store.keys.ref("tgmsg", relayed[0].message_id)) > 0  # messages expire


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
    assert [m for m in fake.topic_messages(thread) if "In progress (Olga Petrova)" in (m.text or "")]

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
    said = fake.customer_says(ANNA, "Как сбросить пароль?")
    await fake.wait_for(lambda: fake.polled_past(said), what="the message handled")
    await tg_bot.delivery.drain(5)
    assert len(fake.sent) == before, "a banned customer was answered"
    store = tg_bot.store
    assert int(await store.redis.hget(store.keys.banned_dropped, UserRef("telegram", str(ANNA)).key) or 0) == 1
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
    said = [fake.customer_says(BORIS, "оператор", name="Boris") for _ in range(5)]
    topic = await fake.wait_for(lambda: fake.topic_named("Boris"))
    await fake.wait_for(lambda: fake.polled_past(said[-1]), what="every message handled")
    await tg_bot.delivery.drain(10)
    assert len([t for t in fake.topics.values() if "Boris" in t.name]) == 1
    # the extra messages were relayed into the one topic (copied, or inside the card when they were early)
    shown = fake.topic_messages(topic.thread_id)
    folded = shown[0].text.count("👤 Boris: оператор")
    assert len([m for m in shown if m.kind == "copy"]) + folded == 4


async def test_simultaneous_handoffs_of_one_customer_via_two_updates_batches(tg_bot, telegram_fake):
    """Two bots (two processes) handling the same customer's first messages: still one case and one topic."""
    fake = telegram_fake
    user = UserRef("telegram", str(BORIS))
    events = [Inbound(user, "/operator", f"{BORIS}:{900 + i}", name="Boris") for i in range(4)]
    await asyncio.gather(*(tg_bot.intake(e) for e in events))
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
    link = tg_bot.store.keys.ref("tgmsg", card.message_id)
    assert 0 < await redis.ttl(link) <= 90 * 24 * 3600  # per-message links expire
    assert await redis.ttl(tg_bot.store.keys.ref("tgmsg", "nope")) == -2
    await redis.delete(link)  # as after 90 days
    op = fake.operator_says(None, "Заказ в пути", reply_to=card.message_id)
    told = await fake.wait_for(lambda: [m for m in fake.staff_messages() if "use /case N" in (m.text or "")])
    assert told[0].text.startswith("I don't know which case") and told[0].reply_to == op["message"]["message_id"]
    # a reply to a colleague is just a conversation between operators
    coffee = fake.operator_says(None, "coffee?", reply_to=op["message"]["message_id"], user_id=502, name="Ivan")
    await fake.wait_for(lambda: fake.polled_past(coffee), what="the message handled")
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


async def test_a_new_case_costs_the_group_two_messages(bot_factory, telegram_fake):
    """The customer's messages queued behind the card ride inside it: the topic and the card, nothing more."""
    fake = telegram_fake
    bot = await bot_factory(**telegram_settings(fake), run_delivery=False)
    fake.customer_says(ANNA, "/operator")
    fake.customer_says(ANNA, "Заказ 123 не пришёл")
    last = fake.customer_says(ANNA, "Жду с понедельника")
    await fake.wait_for(lambda: fake.polled_past(last), what="every message handled")
    assert await bot.delivery.drain(10)
    assert fake.group_sends() == ["createForumTopic", "sendMessage"]
    topic = fake.topic_named("Anna")
    (card,) = fake.topic_messages(topic.thread_id)
    assert card.text.startswith("Case #1") and card.buttons
    assert "Заказ 123 не пришёл" in card.text and "Жду с понедельника" in card.text
    assert card.text.index("Заказ 123") < card.text.index("Жду с понедельника")
    assert to_customer(fake, ANNA, "#1")  # the customer was told the number
    # an operator's reply to the card reaches the customer
    said = fake.operator_says(topic.thread_id, "Смотрю", reply_to=card.message_id)
    await fake.wait_for(lambda: fake.polled_past(said), what="the reply handled")
    assert await bot.delivery.drain(10)
    assert [m for m in fake.sent_to(ANNA) if m.text == "Смотрю"]


async def test_early_files_are_copied_after_the_card_in_one_call(bot_factory, telegram_fake):
    fake = telegram_fake
    bot = await bot_factory(**telegram_settings(fake), run_delivery=False)
    fake.customer_says(ANNA, "/operator")
    photo = fake.customer_sends_photo(ANNA, b"early photo", caption="скрин")
    fake.customer_says(ANNA, "и ещё")
    last = fake.customer_says(ANNA, None, location={"latitude": 55.75, "longitude": 37.62})
    await fake.wait_for(lambda: fake.polled_past(last), what="every message handled")
    assert await bot.delivery.drain(10)
    assert fake.group_sends() == ["createForumTopic", "sendMessage", "copyMessages"]
    card, *copies = fake.topic_messages(fake.topic_named("Anna").thread_id)
    assert card.buttons and "и ещё" in card.text
    assert [c.kind for c in copies] == ["copy:photo", "copy:location"]
    assert copies[0].copy_of == (ANNA, photo["message"]["message_id"]) and copies[0].text == "скрин"
    # every copy belongs to the case: an operator may answer any of them
    redis = bot.store.redis
    assert [await redis.get(bot.store.keys.ref("tgmsg", c.message_id)) for c in copies] == ["1", "1"]


async def test_an_album_is_relayed_with_one_copy_messages(bot_factory, telegram_fake):
    fake = telegram_fake
    bot = await bot_factory(**telegram_settings(fake), run_delivery=False)
    opened = fake.customer_says(ANNA, "/operator")
    await fake.wait_for(lambda: fake.polled_past(opened))
    assert await bot.delivery.drain(10)
    thread = fake.topic_named("Anna").thread_id
    album = [fake.customer_sends_photo(ANNA, f"photo {i}".encode(), media_group_id="album-1") for i in range(3)]
    await fake.wait_for(lambda: fake.polled_past(album[-1]), what="the album handled")
    assert await bot.delivery.drain(10)
    assert fake.group_sends()[2:] == ["copyMessages"]
    copies = [m for m in fake.topic_messages(thread) if m.kind == "copy:photo"]
    assert [c.copy_of for c in copies] == [(ANNA, a["message"]["message_id"]) for a in album]


async def test_an_unknown_command_is_refused_and_not_sent(tg_bot, telegram_fake):
    fake = telegram_fake
    topic = await open_case(fake, ANNA)
    typo = fake.operator_says(topic.thread_id, "/resovle")
    refusal = await fake.wait_for(
        lambda: [m for m in fake.topic_messages(topic.thread_id) if "Unknown command /resovle" in (m.text or "")],
        what="the refusal",
    )
    assert "nothing was sent" in refusal[0].text and "//" in refusal[0].text
    assert refusal[0].reply_to == typo["message"]["message_id"]
    await tg_bot.delivery.drain(5)
    assert not to_customer(fake, ANNA, "resovle")
    assert (await tg_bot.store.get_case(1)).status is CaseStatus.ACCEPTED


async def test_a_double_slash_sends_one_slash(tg_bot, telegram_fake):
    fake = telegram_fake
    topic = await open_case(fake, ANNA)
    fake.operator_says(topic.thread_id, "//start restarts the bot")
    sent = await fake.wait_for(lambda: to_customer(fake, ANNA, "start restarts"), what="the text")
    assert sent[0].text == "/start restarts the bot" and sent[0].copy_of is None


async def test_commands_for_another_bot_are_ignored_and_ours_are_taken(tg_bot, telegram_fake):
    fake = telegram_fake
    topic = await open_case(fake, ANNA)
    other = fake.operator_says(topic.thread_id, "/take@some_other_bot")
    await fake.wait_for(lambda: fake.polled_past(other), what="the command handled")
    await tg_bot.delivery.drain(5)
    assert (await tg_bot.store.get_case(1)).status is CaseStatus.ACCEPTED
    assert not [m for m in fake.topic_messages(topic.thread_id) if "Unknown command" in (m.text or "")]
    fake.operator_says(topic.thread_id, f"/take@{fake.bot_username}")
    await fake.wait_for(lambda: to_customer(fake, ANNA, "взял"), what="the customer told: taken")
    assert (await tg_bot.store.get_case(1)).status is CaseStatus.IN_PROGRESS
