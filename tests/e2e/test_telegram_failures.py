"""What goes wrong on Telegram's side, end to end: blocked bot, deleted/closed topics, no topics, 429, 5xx."""

from __future__ import annotations

import re

from core.cases import CaseStatus
from tests.e2e.conftest import open_case, telegram_settings, with_text

ANNA = 7201


async def test_blocked_bot_is_reported_in_the_topic(tg_bot, telegram_fake):
    fake = telegram_fake
    topic = await open_case(fake, ANNA)
    await fake.wait_for(lambda: with_text(fake.sent_to(ANNA), "подробнее"))  # the handoff notice and its questions
    fake.blocked.add(ANNA)
    fake.operator_says(topic.thread_id, "Добрый день, уточните номер заказа")
    notice = await fake.wait_for(
        lambda: with_text(fake.topic_messages(topic.thread_id), "customer blocked the bot"), what="the notice"
    )
    assert "Not delivered" in notice[0].text and "уточните номер заказа" in notice[0].text
    assert tg_bot.delivery.stats["retried"] == 0  # a permanent error is not retried


async def test_deleted_topic_is_recreated_with_its_card(tg_bot, telegram_fake):
    fake = telegram_fake
    topic = await open_case(fake, ANNA)
    fake.delete_topic(topic.thread_id)
    fake.customer_says(ANNA, "Вы тут?")
    new = await fake.wait_for(
        lambda: [t for t in fake.live_topics() if "Anna" in t.name and t.thread_id != topic.thread_id]
    )
    thread = new[0].thread_id
    msgs = await fake.wait_for(lambda: (m := fake.topic_messages(thread)) and len(m) >= 2 and m)
    assert "Case #1" in msgs[0].text and msgs[0].buttons  # the card again
    assert msgs[1].kind == "copy" and msgs[1].text == "Вы тут?"
    # operators now answer in the new topic
    fake.operator_says(thread, "Да, слушаю")
    await fake.wait_for(lambda: [m for m in fake.sent_to(ANNA) if m.text == "Да, слушаю"])


async def test_closed_topic_is_reopened(tg_bot, telegram_fake):
    fake = telegram_fake
    topic = await open_case(fake, ANNA)
    fake.close_topic(topic.thread_id)
    fake.customer_says(ANNA, "Есть новости?")
    await fake.wait_for(lambda: with_text(fake.topic_messages(topic.thread_id), "Есть новости?"))
    assert not fake.topics[topic.thread_id].closed
    assert len(fake.live_topics()) == 1


async def test_without_topics_operators_reply_to_messages(tg_bot, telegram_fake):
    fake = telegram_fake
    fake.forum = False
    fake.customer_says(ANNA, "/operator", name="Anna")
    card = (await fake.wait_for(lambda: with_text(fake.staff_messages(), "Case #1")))[0]
    assert card.thread_id is None and card.buttons
    said = fake.customer_says(ANNA, "Где мой заказ?")
    relayed = (await fake.wait_for(lambda: with_text(fake.staff_messages(), "Где мой заказ?")))[0]
    assert relayed.copy_of == (ANNA, said["message"]["message_id"]) and relayed.reply_to == card.message_id
    header = next(m for m in fake.staff_messages() if m.message_id == relayed.message_id - 1)
    assert header.text == "[#1] 👤 Anna:" and header.reply_to == card.message_id
    assert await tg_bot.delivery.drain(5)  # the links to the case are recorded when the send is done
    # an operator replies to the relayed message: the customer gets it
    op = fake.operator_says(None, "Заказ в пути", reply_to=relayed.message_id)
    back = await fake.wait_for(lambda: [m for m in fake.sent_to(ANNA) if m.copy_of])
    assert back[0].copy_of == (fake.staff_chat, op["message"]["message_id"])
    # a command as a reply to the card
    fake.operator_says(None, "/resolve", reply_to=card.message_id)
    await fake.wait_for(lambda: with_text(fake.sent_to(ANNA), "решено"))
    assert (await tg_bot.store.get_case(1)).status is CaseStatus.RESOLVED
    # a message that replies to nothing of a case goes nowhere
    coffee = fake.operator_says(None, "coffee anyone?")
    await fake.wait_for(lambda: fake.polled_past(coffee), what="the message handled")
    await tg_bot.delivery.drain(5)
    assert not with_text(fake.sent_to(ANNA), "coffee")
    assert not fake.topics


async def test_429_waits_retry_after_and_delivers_once(tg_bot, telegram_fake):
    fake = telegram_fake
    fake.force_429 = [1]
    fake.customer_says(ANNA, "Как сбросить пароль?")
    await fake.wait_for(lambda: fake.sent_to(ANNA), timeout=15)
    await tg_bot.delivery.drain(5)
    assert len(fake.forced_429_at) == 1
    assert fake.early_retries == 0, "retried before retry_after"
    assert len(fake.sent_to(ANNA)) == 1
    assert tg_bot.delivery.stats["rate_limited"] == 1


async def test_500_then_200_delivers_once(tg_bot, telegram_fake):
    fake = telegram_fake
    fake.fail_next = 1
    fake.customer_says(ANNA, "Как сбросить пароль?")
    await fake.wait_for(lambda: fake.sent_to(ANNA))
    await tg_bot.delivery.drain(5)
    assert fake.server_errors == 1
    assert len(fake.sent_to(ANNA)) == 1
    assert tg_bot.delivery.stats["retried"] == 1


async def test_staff_group_failing_every_attempt_tells_the_customer(bot_factory, telegram_fake):
    fake = telegram_fake
    bot = await bot_factory(**telegram_settings(fake), delivery_options={"max_attempts": 5})
    await open_case(fake, ANNA)
    await bot.delivery.drain(5)
    fake.fail_next = bot.delivery.options.max_attempts
    fake.customer_says(ANNA, "Алло?")
    told = await fake.wait_for(lambda: with_text(fake.sent_to(ANNA), "Не удалось передать"), timeout=15)
    assert len(told) == 1
    assert fake.server_errors == bot.delivery.options.max_attempts


async def test_no_429_under_a_burst_and_merging_when_the_group_budget_is_spent(tg_bot, telegram_fake):
    fake = telegram_fake
    topic = await open_case(fake, ANNA)
    for i in range(30):
        fake.customer_says(ANNA, f"сообщение {i}")
    texts = lambda: " ".join(m.text or "" for m in fake.topic_messages(topic.thread_id))  # noqa: E731
    await fake.wait_for(lambda: "сообщение 29" in texts(), timeout=20, what="every message relayed")
    await tg_bot.delivery.drain(10)
    assert not fake.too_many, f"429 provoked: {fake.too_many}"
    found = re.findall(r"сообщение (\d+)", texts())
    assert found == [str(i) for i in range(30)], "lost, duplicated or reordered"
    relays = [m for m in fake.topic_messages(topic.thread_id) if m.kind in ("copy", "text")][1:]
    assert len(relays) < 30, "nothing was merged although the group budget (20 per window) was exceeded"
    assert tg_bot.delivery.stats["merged"] > 0


async def test_without_topics_a_location_is_copied_under_a_header(tg_bot, telegram_fake):
    fake = telegram_fake
    fake.forum = False
    fake.customer_says(ANNA, "/operator", name="Anna")
    card = (await fake.wait_for(lambda: with_text(fake.staff_messages(), "Case #1")))[0]
    fake.customer_says(ANNA, None, location={"latitude": 55.75, "longitude": 37.62})
    copy = (await fake.wait_for(lambda: [m for m in fake.staff_messages() if m.kind == "copy:location"]))[0]
    assert copy.reply_to == card.message_id
    header = next(m for m in fake.staff_messages() if m.message_id == copy.message_id - 1)
    assert header.text == "[#1] 👤 Anna:" and header.reply_to == card.message_id
    assert await tg_bot.delivery.drain(5)  # the links to the case are recorded when the send is done
    # both belong to the case: an operator may answer either
    for i, target in enumerate((header, copy)):
        fake.operator_says(None, f"Вижу, спасибо {i}", reply_to=target.message_id)
        await fake.wait_for(lambda i=i: with_text(fake.sent_to(ANNA), f"спасибо {i}"))


async def test_a_file_too_large_for_telegram_is_not_retried_and_is_reported(tg_bot, telegram_fake):
    fake = telegram_fake
    topic = await open_case(fake, ANNA)
    fake.operator_says(topic.thread_id, "/take")
    await fake.wait_for(lambda: with_text(fake.sent_to(ANNA), "взял"))
    await tg_bot.delivery.drain(5)
    fake.too_large = 1
    fake.operator_sends_photo(topic.thread_id, b"a huge photo")
    notice = await fake.wait_for(
        lambda: with_text(fake.topic_messages(topic.thread_id), "file too large for Telegram"), what="the notice"
    )
    assert "Not delivered" in notice[0].text
    assert tg_bot.delivery.stats["retried"] == 0


async def test_a_topic_recreated_by_another_process_is_found_not_created_again(bot_factory, telegram_fake):
    """Where a case is shown is cached per process: a stale entry (the topic was deleted and recreated by
    another process) fails with "thread not found" and is read again; no third topic is made."""
    fake = telegram_fake
    first = await bot_factory(**telegram_settings(fake), run_delivery=False)
    second = await bot_factory(**telegram_settings(fake), run_channels=False, run_delivery=False)

    async def say(text: str, bot) -> None:
        said = fake.customer_says(ANNA, text)
        await fake.wait_for(lambda: fake.polled_past(said), what=f"{text!r} handled")
        assert await bot.delivery.drain(10)

    await say("/operator", first)
    old = fake.topic_named("Anna").thread_id
    await say("раз", second)  # the second process now knows the topic too
    fake.delete_topic(old)
    await say("два", first)  # recreated by the first process, card and all
    new = fake.topic_named("Anna").thread_id
    assert new != old
    await say("три", second)  # the second process still had the old topic in its cache
    assert len(fake.topics) == 2
    texts = [m.text or "" for m in fake.topic_messages(new)]
    assert texts[0].startswith("Case #1") and texts[1:] == ["два", "три"]
