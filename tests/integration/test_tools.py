"""Operators' tools through the desk: /faq (canned answers from the FAQ), /assign, /cases."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bots.reload import swap_matcher
from core.cases import CaseStatus
from core.events import OperatorCommand, StaffPlace
from core.faq import FaqMatcher
from core.messages import Operator, StaffKind, UserRef
from tests.harness import Conversation, open_case

ANNA = UserRef("telegram", "42")
OLGA = Operator("7", "Olga")
PETR = Operator("8", "Petr")
staff = Conversation.staff_msgs
customer_texts = Conversation.customer_texts


@pytest.fixture
async def conv(conversation):
    return await conversation(user=ANNA, channels=("console", "telegram", "vk"), operator=OLGA)


def pressed(conv: Conversation, case_id: int, entry: str, operator: Operator = OLGA) -> OperatorCommand:
    """The operator pressed a /faq choice (``faqsend:<case>:<entry>``, as the staff front end hands it over)."""
    return OperatorCommand(operator, case_id, "faqsend", StaffPlace(), conv.next_id(), argument=entry)


# ---------------------------------------------------------------------------------------------- /faq
async def test_faq_by_id_sends_the_answer_in_the_customers_language(conv):
    case_id = await open_case(conv, lang="ru")
    outs = await conv.operator("/faq reset_password", case_id)
    assert "Нажмите «Забыли пароль?» на странице входа и следуйте письму." in customer_texts(outs)
    (sent,) = [o for o in conv.customer_msgs(outs) if o.text.startswith("Нажмите")]
    assert sent.meta["operator"] == "Olga" and sent.case_id == case_id
    (shown,) = staff(outs, StaffKind.INFO)
    assert 'Olga sent the customer the FAQ answer "reset_password"' in shown.text and "Забыли пароль" in shown.text
    case = await conv.store.get_case(case_id)
    assert case.status is CaseStatus.IN_PROGRESS and case.operator == "Olga" and case.first_reply_at is not None
    assert (await conv.store.transcript(case_id))[-1]["text"].startswith("Нажмите «Забыли пароль?»")
    (event,) = await conv.events("faq_sent")
    assert event["entry"] == "reset_password" and event["operator"] == "Olga"

    other = await open_case(conv, user="vk:5", lang="en")
    outs = await conv.operator("/faq how do I get my money back", other)  # the matcher is sure: sent at once
    assert 'Request a refund in your account, under "Orders".' in customer_texts(outs)


async def test_unsure_words_offer_the_top_three_and_a_press_sends_one(conv):
    case_id = await open_case(conv)
    outs = await conv.operator("/faq заказ", case_id, reply={"thread": 9, "reply_to": 99})
    assert not conv.customer_msgs(outs)
    (choices,) = staff(outs, StaffKind.REPLY)
    assert "Which FAQ answer" in choices.text and choices.meta["reply_to"] == 99  # where /faq was typed
    payloads = [b.payload for b in choices.buttons]
    assert len(payloads) == 3 and f"faqsend:{case_id}:delivery_time" in payloads
    assert all(b.label.split(" · ")[0] in ("delivery_time", "refund", "reset_password") for b in choices.buttons)
    outs = await conv.send(pressed(conv, case_id, "refund"))
    assert "Возврат оформляется в личном кабинете, в разделе «Заказы»." in customer_texts(outs)


async def test_faq_refusals(conv):
    case_id = await open_case(conv)
    (usage,) = await conv.operator("/faq", case_id)
    assert usage.kind == StaffKind.REPLY and "Usage: /faq" in usage.text
    (none,) = await conv.operator("/faq qqqzzz", case_id)
    assert "Nothing in the FAQ matches" in none.text
    (where,) = await conv.operator("/faq refund", None)
    assert "use it in a case's topic" in where.text
    (gone,) = await conv.send(pressed(conv, case_id, "no_such_entry"))
    assert "is gone" in gone.text
    await conv.button(case_id, "resolve")
    outs = await conv.operator("/faq refund", case_id)
    assert not conv.customer_msgs(outs) and "NOT sent" in staff(outs)[0].text


async def test_canned_answers_follow_the_faq_when_it_is_reloaded(conv):
    case_id = await open_case(conv)
    desk = conv.core.desk
    entry = desk.entries["refund"]
    changed = replace(entry, answers={**entry.answers, "ru": "Возврат теперь за один день."})
    swap_matcher(desk, FaqMatcher([changed if e.id == "refund" else e for e in desk.matcher.entries]))
    outs = await conv.operator("/faq refund", case_id)
    assert "Возврат теперь за один день." in customer_texts(outs)


# ---------------------------------------------------------------------------------------------- /assign
async def test_assign_by_username_and_as_a_reply(conv):
    case_id = await open_case(conv)
    (line,) = await conv.operator("/assign @petr_ivanov", case_id)
    assert line.kind == StaffKind.STATUS and "assigned to @petr_ivanov (by Olga)" in line.text
    case = await conv.store.get_case(case_id)
    assert case.operator == "@petr_ivanov" and case.extra["assignee"] == "@petr_ivanov" and case.is_open
    (event,) = await conv.events("assigned")
    assert event["assignee"] == "@petr_ivanov" and event["by"] == "Olga" and event["case"] == str(case_id)
    (again,) = await conv.operator("/assign petr_ivanov", case_id)
    assert "assigned to @petr_ivanov already" in again.text

    (line,) = await conv.operator("/assign", case_id, reply_to="555", reply_author="Petr Sidorov")
    assert "assigned to Petr Sidorov" in line.text
    assert (await conv.store.get_case(case_id)).operator == "Petr Sidorov"
    card = (await conv.operator(f"/case {case_id}", None))[0].text
    assert "Operator: Petr Sidorov" in card


async def test_assign_refusals(conv):
    case_id = await open_case(conv)
    (usage,) = await conv.operator("/assign", case_id)
    assert "Usage: /assign" in usage.text
    (usage,) = await conv.operator("/assign", case_id, reply_to="1", reply_author="Support bot", replies_to_bot=True)
    assert "Usage: /assign" in usage.text  # a reply to the bot names nobody
    (usage,) = await conv.operator("/assign !!!", case_id)
    assert "Usage: /assign" in usage.text
    await conv.say("/cancel")
    (closed,) = await conv.operator("/assign @petr", case_id)
    assert "does not apply" in closed.text


# ---------------------------------------------------------------------------------------------- /cases
async def test_cases_lists_open_cases_oldest_first_with_age_and_owner(conv, clock):
    first = await open_case(conv, user="vk:1", name="Vera")
    clock.advance(3 * 3600 + 5 * 60)
    second = await open_case(conv, user="vk:2", name="Boris")
    await conv.operator("/assign @petr", second)
    clock.advance(10 * 60)
    third = await open_case(conv, user="vk:3", name="Gleb")
    await conv.operator("Здравствуйте!", third, operator=PETR)
    closed = await open_case(conv, user="vk:4", name="Dina")
    await conv.say("/cancel", user="vk:4")
    clock.advance(2 * 24 * 3600)

    (listing,) = await conv.operator("/cases", None, reply={"thread": None, "reply_to": 42})
    assert listing.kind == StaffKind.REPLY and listing.meta["reply_to"] == 42
    lines = listing.text.splitlines()
    assert lines[0] == "Open cases (3), oldest first:"
    assert lines[1] == f"🆕 #{first} · VK · Vera · 2 d 3 h · unassigned"
    assert lines[2] == f"🆕 #{second} · VK · Boris · 2 d 0 h · @petr"
    assert lines[3] == f"🔧 #{third} · VK · Gleb · 2 d 0 h · Petr"
    assert f"#{closed}" not in listing.text
    (in_topic,) = await conv.operator("/cases", first)  # in a topic too
    assert in_topic.text == listing.text


async def test_cases_when_there_are_none_and_the_new_commands_in_the_hint(conv):
    (listing,) = await conv.operator("/cases", None)
    assert listing.text == "No open cases."
    case_id = await open_case(conv)
    (hint,) = await conv.operator("/fqa refund", case_id)
    assert "/faq" in hint.text and "/assign" in hint.text and "/cases" in hint.text
