"""The conversation core under strain: concurrent first messages (one process and two), a duplicate delivery,
a restart, empty and attachment-only and huge messages, failed deliveries, a burst of customers, odd numbers.
Events through the intake, the desk and the outbox on a real Redis server (``tests.harness.Conversation``)."""

import asyncio
from collections import Counter
from pathlib import Path

import pytest

from core.messages import Attachment, Audience, Operator, StaffKind, UserRef
from tests.harness import Conversation, open_case

FAQ = Path(__file__).resolve().parents[1] / "data" / "faq_desk.yaml"
ANNA = UserRef("telegram", "42")
OLGA = Operator("7", "Olga")
CHANNELS = ("console", "telegram", "vk")
customer_texts = Conversation.customer_texts
staff = Conversation.staff_msgs


@pytest.fixture
async def conv(conversation):
    return await conversation(user=ANNA, channels=CHANNELS, operator=OLGA, name="Anna")


async def test_concurrent_first_messages_make_one_case(conv):
    outs = await conv.send(*[conv.inbound("/operator") for _ in range(5)], together=True)
    assert len(staff(outs, StaffKind.CASE_OPENED)) == 1
    assert await conv.store.last_case_id() == 1


async def test_concurrent_first_messages_from_two_processes(conv, conversation):
    other = await conversation(user=ANNA, channels=CHANNELS)  # another process: its own Redis connections
    events = [conv.inbound("/operator") for _ in range(6)]
    await asyncio.gather(*[c.core.intake(e) for c, e in zip([conv, other] * 3, events, strict=True)])
    outs = await conv.deliver()
    assert len(staff(outs, StaffKind.CASE_OPENED)) == 1
    assert await conv.store.last_case_id() == 1


async def test_duplicate_delivery_is_handled_once(conv):
    event = conv.inbound("/operator")
    first = await conv.send(event)
    assert staff(first, StaffKind.CASE_OPENED)
    assert await conv.send(event) == []


async def test_state_survives_a_restart(conversation, clock):
    first = await conversation(user=ANNA, channels=CHANNELS)
    case_id = await open_case(first)
    await first.close()  # the process goes away
    second = await conversation(user=ANNA, channels=CHANNELS)
    outs = await second.say("ещё одно сообщение")
    assert staff(outs, StaffKind.CUSTOMER_MESSAGE)[0].case_id == case_id  # joins the same case
    await second.button(case_id, "resolve")
    clock.advance(8 * 24 * 3600)  # past REOPEN_DAYS
    outs = await second.say("/operator")
    assert staff(outs)[0].case_id == case_id + 1  # the counter went on


async def test_attachment_only_and_empty_messages(conv):
    photo = Attachment("photo", "file-1", "telegram")
    (out,) = await conv.say("", attachments=(photo,))
    assert out.buttons[0].payload == "op:attachment"
    outs = await conv.press("op:attachment")
    assert "[photo]" in staff(outs)[0].text  # the file is on the card
    # once a case is open, files are relayed with the message
    outs = await conv.say("вот скрин", attachments=(photo,))
    assert staff(outs)[0].attachments == (photo,)
    (out,) = await conv.say("", user="vk:9")
    assert "Пустое" in out.text


async def test_huge_message_is_matched_on_its_start_and_kept_whole(conv):
    huge = "Как сбросить пароль? " + "очень " * 5000
    (out,) = await conv.say(huge)
    assert out.text  # answered or offered, not an error
    case_id = await open_case(conv)
    await conv.say(huge)
    assert (await conv.store.transcript(case_id))[-1]["text"] == huge.strip()


async def test_delivery_failures_are_reported_to_the_other_side(conv):
    case_id = await open_case(conv)
    outs = await conv.operator("Ответ", case_id=case_id)
    reply = next(o for o in outs if o.audience is Audience.CUSTOMER and o.text == "Ответ")
    (warn,) = await conv.report(reply, "the customer blocked the bot")
    assert warn.audience is Audience.STAFF and "blocked the bot" in warn.text and "Ответ" in warn.text
    assert await conv.report(warn, "staff group unreachable") == []  # a notice about a notice: no loop
    relay = staff(await conv.say("где ответ?"))[0]
    (back,) = await conv.report(relay, "staff group unreachable")
    assert back.to == ANNA and "повторите" in back.text
    assert await conv.report(back, "the customer blocked the bot") == []


@pytest.mark.parametrize("embedded", [False, True], ids=["redis", "embedded"])
async def test_a_burst_of_customers_waits_for_connections_instead_of_failing(conversation, redis_url, embedded):
    from core.store import REDIS_MAX_CONNECTIONS

    conv = await conversation(redis_url=None if embedded else redis_url, channels=("vk",))
    assert conv.core.embedded is embedded
    burst = REDIS_MAX_CONNECTIONS * 4
    events = [conv.inbound("Как сбросить пароль?", user=UserRef("vk", str(n))) for n in range(burst)]
    outs = await conv.send(*events, together=True)
    assert Counter(o.to.user_id for o in outs) == {str(n): 1 for n in range(burst)}


async def test_odd_numbers_never_crash_the_desk(conv):
    await conv.say("Мой холодильник поёт по ночам")  # buttons are offered
    for text in ("²", "٣", "9" * 5000, "0", "99"):
        outs = await conv.say(text)
        assert outs and all(o.audience is Audience.CUSTOMER for o in outs)  # an answer, not a handoff or a crash
