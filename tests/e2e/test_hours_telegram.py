"""Working hours, SLA reminders and the escalation chat, end to end through the Telegram stand-in."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from bots.sla import SlaScheduler
from tests.e2e.conftest import open_case, telegram_settings

ANNA = 7201
BORIS = 7202
ESCALATION = -1002000000002


def said_to(fake, user_id: int, needle: str):
    return [m for m in fake.sent_to(user_id) if needle in (m.text or "")]


async def test_outside_hours_the_customer_learns_when_operators_are_back(telegram_fake, bot_factory):
    fake = telegram_fake
    today = datetime.now(UTC).date()
    days_off = ",".join((today + timedelta(days=d)).isoformat() for d in (-1, 0, 1))  # closed whenever this runs
    await bot_factory(**telegram_settings(fake), WORKING_HOURS="daily 00:00-24:00", HOLIDAYS=days_off)
    topic = await open_case(fake, ANNA, "Anna")
    opens = (today + timedelta(days=2)).strftime("%d.%m.%Y")
    notice = await fake.wait_for(lambda: said_to(fake, ANNA, "нерабочее время"), what="the outside-hours notice")
    assert f"{opens} 00:00 (UTC)" in notice[0].text and "пн–вс 00:00–24:00 (UTC)" in notice[0].text
    assert said_to(fake, ANNA, "#1")  # the case is open all the same, its topic too
    assert topic.thread_id in fake.topics
    fake.customer_says(ANNA, "/help")
    await fake.wait_for(lambda: said_to(fake, ANNA, "Операторы работают: пн–вс 00:00–24:00 (UTC)"), what="/help")


async def test_an_overdue_case_is_reminded_in_its_topic_and_flagged(telegram_fake, bot_factory):
    fake = telegram_fake
    bot = await bot_factory(**telegram_settings(fake), ONDUTY_USERNAMES="@olga_duty,@boris_duty")
    assert "sla" in {task.get_name() for task in bot.runtime.tasks}  # every process runs the scheduler
    topic = await open_case(fake, ANNA, "Anna")
    thread = topic.thread_id
    later = SlaScheduler(bot.core, clock=lambda: time.time() + 16 * 60)  # a scheduler a quarter of an hour on
    assert await later.tick() == 1
    reminder = await fake.wait_for(
        lambda: [m for m in fake.topic_messages(thread) if "@olga_duty @boris_duty" in (m.text or "")],
        what="the reminder in the topic",
    )
    assert "Case #1: no operator reply for 15 working minutes" in reminder[0].text
    await fake.wait_for(lambda: "⏰" in fake.topics[thread].name, what="the topic flagged")
    assert await later.tick() == 0  # once
    fake.operator_says(thread, "Здравствуйте! Смотрю ваш вопрос")
    await fake.wait_for(lambda: said_to(fake, ANNA, "Смотрю ваш вопрос"), what="the reply")
    await fake.wait_for(lambda: "⏰" not in fake.topics[thread].name and "🔧" in fake.topics[thread].name)
    assert await SlaScheduler(bot.core, clock=lambda: time.time() + 3600).tick() == 0  # the second is off too
    assert len([m for m in fake.topic_messages(thread) if "@olga_duty" in (m.text or "")]) == 1


async def test_escalated_cases_are_posted_to_the_escalation_chat_with_a_link(telegram_fake, bot_factory):
    fake = telegram_fake
    fake.groups.add(ESCALATION)
    await bot_factory(**telegram_settings(fake), TELEGRAM_ESCALATION_CHAT_ID=ESCALATION)
    topic = await open_case(fake, ANNA, "Anna")
    fake.customer_says(ANNA, "Заказ 123 так и не пришёл", name="Anna")
    card = fake.topic_messages(topic.thread_id)[0]
    fake.operator_press(card, "case:escalate:1")
    await fake.wait_for(lambda: said_to(fake, ANNA, "старшему специалисту"), what="the customer told")
    (post,) = await fake.wait_for(lambda: fake.sent_to(ESCALATION), what="the post in the escalation chat")
    link = f"https://t.me/c/{str(fake.staff_chat)[4:]}/{topic.thread_id}"
    assert post.text.splitlines()[:2] == ["⚠️ Escalated (Olga Petrova)", link]
    assert "Case #1 · Telegram" in post.text and "escalated" in post.text and "Заказ 123" in post.text
    await fake.wait_for(lambda: "⚠️" in fake.topics[topic.thread_id].name, what="the topic flagged")
    # a complaint starts escalated: posted at once, linking to its own topic
    complaint = await open_case(fake, BORIS, "Boris", text="У меня жалоба на курьера")
    posts = await fake.wait_for(lambda: fake.sent_to(ESCALATION)[1:], what="the complaint's post")
    assert posts[0].text.splitlines()[:2] == [
        "⚠️ Escalated (the customer's complaint)",
        f"https://t.me/c/{str(fake.staff_chat)[4:]}/{complaint.thread_id}",
    ]
    assert "жалоба на курьера" in posts[0].text
