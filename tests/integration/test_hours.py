"""Working hours, the first-response SLA and escalation, through the desk (``core.desk.sla``) and the scheduler
(``bots.sla``) on real Redis. The clock is the test's ``FakeClock`` (2026-01-01 00:00 UTC, a Thursday); the
scheduler's ``tick()`` is called instead of waiting for it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import pytest

from bots.sla import SlaOptions, SlaScheduler
from core.config import DEFAULT_FAQ_PATH
from core.events import Reminder
from core.messages import Operator, StaffKind, UserRef
from tests.harness import Conversation, open_case

ANNA = UserRef("telegram", "42")
OLGA = Operator("7", "Olga")
HOUR = 3600.0
MINUTE = 60.0
OFFICE = {"WORKING_HOURS": "mon-fri 09:00-18:00; sat 10:00-16:00", "TIMEZONE": "Europe/Moscow"}
ESCALATION_CHAT = "-1002000000002"
staff = Conversation.staff_msgs
customer_texts = Conversation.customer_texts


@pytest.fixture
def start(conversation):
    """``await start(**settings)``: a conversation of Anna's (Telegram; VK too) with Olga at the desk."""

    async def factory(**settings: Any) -> Conversation:
        settings.setdefault("ONDUTY_USERNAMES", "@olga,@boris")
        return await conversation(user=ANNA, channels=("telegram", "vk"), operator=OLGA, **settings)

    return factory


@pytest.fixture
async def conv(start):
    return await start()


async def due(conv: Conversation) -> dict[str, float]:
    return dict(await conv.store.redis.zrange(conv.store.keys.sla_due, 0, -1, withscores=True))


# ---------------------------------------------------------------------------------------------- working hours
def outside(outs) -> list[str]:
    """The outside-hours notices among what was sent."""
    return [text for text in customer_texts(outs) if "нерабочее время" in text or "outside working hours" in text]


async def test_outside_hours_the_case_opens_and_the_customer_is_told_when_operators_are_back(start, clock):
    conv = await start(**OFFICE)  # Thursday 03:00 in Moscow: closed
    outs = await conv.say("/operator")
    case_id = staff(outs, StaffKind.CASE_OPENED)[0].case_id
    assert "#1" in customer_texts(outs)[0] and (await conv.store.get_case(case_id)).is_open
    (notice,) = outside(outs)
    assert "чт, 01.01.2026 09:00 (Europe/Moscow)" in notice
    assert "пн–пт 09:00–18:00; сб 10:00–16:00 (Europe/Moscow)" in notice
    assert [e["case"] for e in await conv.events("outside_hours")] == [str(case_id)]
    # once a day per customer: another case the same night says nothing more
    await conv.say("/cancel")
    outs = await conv.say("/operator")
    assert staff(outs, StaffKind.CASE_OPENED) and outside(outs) == []
    # the next evening (Friday 19:00 in Moscow) it is said again; in English to an English customer
    clock.advance(40 * HOUR)
    await conv.say("/cancel")
    (notice,) = outside(await conv.say("/operator"))
    assert "сб, 03.01.2026 10:00 (Europe/Moscow)" in notice
    (notice,) = outside(await conv.say("/operator", lang="en", user="7"))
    assert "Sat, 2026-01-03 10:00 (Europe/Moscow)" in notice
    assert "Mon–Fri 09:00–18:00; Sat 10:00–16:00 (Europe/Moscow)" in notice


async def test_holidays_push_the_next_opening(start):
    conv = await start(HOLIDAYS="2026-01-01..2026-01-08", **OFFICE)
    (notice,) = outside(await conv.say("/operator"))
    assert "пт, 09.01.2026 09:00 (Europe/Moscow)" in notice


async def test_within_hours_nothing_more_is_said(start, clock):
    conv = await start(**OFFICE)
    clock.advance(7 * HOUR)  # Thursday 10:00 in Moscow
    outs = await conv.say("/operator")
    assert staff(outs, StaffKind.CASE_OPENED) and outside(outs) == []
    assert not await conv.events("outside_hours")


async def test_round_the_clock_never_says_it(conv):
    outs = await conv.say("/operator")
    assert staff(outs, StaffKind.CASE_OPENED) and outside(outs) == []


async def test_help_and_faq_answers_show_the_real_hours(start):
    conv = await start(FAQ_PATH=str(DEFAULT_FAQ_PATH), **OFFICE)
    (help_ru,) = await conv.say("/help")
    assert "Операторы работают: пн–пт 09:00–18:00; сб 10:00–16:00 (Europe/Moscow)." in help_ru.text
    (help_en,) = await conv.say("/help", user="5", lang="en")
    assert "Operators are available: Mon–Fri 09:00–18:00; Sat 10:00–16:00 (Europe/Moscow)." in help_en.text
    (answer,) = await conv.say("Какие часы работы поддержки?")
    assert "{working_hours}" not in answer.text
    assert "Часы работы операторов: пн–пт 09:00–18:00; сб 10:00–16:00 (Europe/Moscow)." in answer.text
    (answer,) = await conv.say("What are your working hours?", user="5")
    assert "Operators' working hours: Mon–Fri 09:00–18:00; Sat 10:00–16:00 (Europe/Moscow)." in answer.text
    (chosen,) = await conv.press("faq:working_hours")  # an entry chosen from suggestions is filled in too
    assert "{working_hours}" not in chosen.text and "пн–пт 09:00–18:00" in chosen.text
    default = await start(FAQ_PATH=str(DEFAULT_FAQ_PATH))
    (answer,) = await default.say("Какие часы работы поддержки?")
    assert "Часы работы операторов: круглосуточно." in answer.text
    (answer,) = await default.say("when is support available", user="vk:10")
    assert "Operators' working hours: 24/7." in answer.text


# ---------------------------------------------------------------------------------------------- the SLA
async def test_an_unanswered_case_is_reminded_at_the_sla_and_at_twice_it(conv, clock):
    case_id = await open_case(conv)
    assert await due(conv) == {f"{case_id}:1": clock.now + 15 * MINUTE, f"{case_id}:2": clock.now + 30 * MINUTE}
    sla = SlaScheduler(conv.core)
    clock.advance(14 * MINUTE)
    assert await sla.tick() == 0
    clock.advance(1 * MINUTE)
    assert await sla.tick() == 1
    (reminder,) = await conv.deliver()
    assert reminder.kind == StaffKind.STATUS and reminder.case_id == case_id
    assert f"Case #{case_id}: no operator reply for 15 working minutes" in reminder.text
    assert reminder.text.endswith("@olga @boris")
    assert "⏰" in reminder.meta["title"] and "⏰" in (await conv.store.get_case(case_id)).topic_title()
    assert await sla.tick() == 0 and await conv.deliver() == []  # sent once
    clock.advance(15 * MINUTE)
    assert await sla.tick() == 1
    (second,) = await conv.deliver()
    assert "still no operator reply after 30 working minutes" in second.text and "@olga @boris" in second.text
    assert [e["number"] for e in await conv.events("sla_reminder")] == ["1", "2"]
    assert await due(conv) == {}
    # the first reply takes the flag off the topic's name (with the status line that renames it)
    outs = await conv.operator("Здравствуйте, смотрю", case_id=case_id)
    (line,) = staff(outs, StaffKind.STATUS)
    assert "⏰" not in line.meta["title"] and "🔧" in line.meta["title"]


async def test_the_first_reply_cancels_the_reminders(conv, clock):
    case_id = await open_case(conv)
    clock.advance(5 * MINUTE)
    await conv.operator("Добрый день!", case_id=case_id)
    assert await due(conv) == {}
    clock.advance(2 * HOUR)
    assert await SlaScheduler(conv.core).tick() == 0
    assert await conv.deliver() == []


async def test_a_closed_case_is_not_reminded(conv, clock):
    case_id = await open_case(conv)
    await conv.say("/cancel")
    clock.advance(HOUR)
    assert await SlaScheduler(conv.core).tick() == 2  # both handled: nothing to say
    assert await conv.deliver() == [] and await due(conv) == {}
    assert (await conv.store.get_case(case_id)).status == "cancelled"


async def test_an_overdue_case_answered_without_a_status_change_is_renamed(conv, clock):
    case_id = await open_case(conv)
    await conv.button(case_id, "needinfo")  # the customer hears from the desk, not from a person yet
    clock.advance(16 * MINUTE)
    assert await SlaScheduler(conv.core).tick() == 1
    (reminder,) = await conv.deliver()
    assert "⏰" in reminder.meta["title"] and "❓" in reminder.meta["title"]
    outs = await conv.operator("Пришлите, пожалуйста, номер заказа", case_id=case_id)
    (line,) = staff(outs, StaffKind.STATUS)
    assert f"Case #{case_id}: first reply after 16 working minutes (target: 15 min)." == line.text
    assert "⏰" not in line.meta["title"] and "❓" in line.meta["title"]
    assert "⏰" not in (await conv.store.get_case(case_id)).topic_title()


async def test_the_sla_counts_working_time_only(start, clock):
    conv = await start(FIRST_RESPONSE_SLA_MINUTES="20", **OFFICE)
    clock.advance(14 * HOUR + 50 * MINUTE)  # Thursday 17:50 in Moscow
    case_id = await open_case(conv)
    sla = SlaScheduler(conv.core)
    clock.advance(HOUR)  # 18:50: 10 working minutes so far
    assert await sla.tick() == 0
    clock.advance(14 * HOUR + 20 * MINUTE)  # Friday 09:10: 20 working minutes
    assert await sla.tick() == 1
    (reminder,) = await conv.deliver()
    assert (
        f"Case #{case_id}: no operator reply for 20 working minutes (first-response target: 20 min)." in reminder.text
    )


async def test_no_sla_no_reminders(start, clock):
    conv = await start(FIRST_RESPONSE_SLA_MINUTES="0")
    await open_case(conv)
    assert await due(conv) == {}


async def test_reminders_survive_a_restart_and_are_sent_once_by_several_processes(start, clock):
    first = await start()
    case_id = await open_case(first)
    await first.close()  # the process that opened the case is gone
    a, b = await start(), await start()
    clock.advance(15 * MINUTE)
    handled = await asyncio.gather(SlaScheduler(a.core).tick(), SlaScheduler(b.core).tick())
    assert sorted(handled) == [0, 1]
    delivered = await a.deliver() + await b.deliver()
    assert [o.case_id for o in delivered] == [case_id]


@dataclass
class Crashing:
    """A process that claims due reminders and dies before handling them (its intake fails)."""

    store: Any

    async def intake(self, event: Any) -> None:
        raise ConnectionError("the process died")


async def test_a_claim_whose_process_died_comes_due_again(conv, clock):
    case_id = await open_case(conv)
    clock.advance(15 * MINUTE)
    crashing = SlaScheduler(Crashing(conv.store), SlaOptions(claim_ttl=60))  # type: ignore[arg-type]
    assert await crashing.tick() == 0
    assert await SlaScheduler(conv.core).tick() == 0  # claimed: not due for anyone else yet
    clock.advance(61)
    assert await SlaScheduler(conv.core).tick() == 1
    (reminder,) = await conv.deliver()
    assert reminder.case_id == case_id


async def test_a_repeated_reminder_is_handled_once(conv, clock):
    case_id = await open_case(conv)
    clock.advance(15 * MINUTE)
    outs = await conv.send(Reminder(case_id, 1, f"{case_id}:1"), Reminder(case_id, 1, f"{case_id}:1"))
    assert len(outs) == 1


# ---------------------------------------------------------------------------------------------- escalation
async def test_escalation_is_posted_to_the_escalation_chat(start):
    conv = await start(TELEGRAM_ESCALATION_CHAT_ID=ESCALATION_CHAT)
    case_id = await open_case(conv, "/operator", lang="en")
    await conv.say("My order 123 never came")
    outs = await conv.button(case_id, "escalate")
    (post,) = staff(outs, StaffKind.ESCALATION)
    assert post.case_id == case_id and post.text.startswith("⚠️ Escalated (Olga)")
    assert f"Case #{case_id} · Telegram · Accepted · escalated" in post.text and "My order 123 never came" in post.text
    assert "senior specialist" in customer_texts(outs)[0]
    assert "⚠️" in staff(outs, StaffKind.STATUS)[0].meta["title"]
    outs = await conv.operator("/escalate", case_id=case_id)  # once is enough
    assert staff(outs, StaffKind.ESCALATION) == [] and "already escalated" in staff(outs)[0].text


async def test_a_complaint_starts_escalated_and_is_posted_too(start):
    conv = await start(TELEGRAM_ESCALATION_CHAT_ID=ESCALATION_CHAT, STAFF_LANGUAGE="ru")
    outs = await conv.say("У меня жалоба на курьера")
    (post,) = staff(outs, StaffKind.ESCALATION)
    assert post.text.startswith("⚠️ Эскалация (жалоба клиента)") and "жалоба на курьера" in post.text
    assert staff(outs)[0].kind == StaffKind.CASE_OPENED  # the topic first, then the post that links to it


async def test_without_an_escalation_chat_nothing_is_posted(conv):
    case_id = await open_case(conv)
    outs = await conv.button(case_id, "escalate")
    assert staff(outs, StaffKind.ESCALATION) == [] and (await conv.store.get_case(case_id)).escalated
    outs = await conv.say("жалоба!", user="77")
    assert staff(outs, StaffKind.ESCALATION) == []
