"""The conversation core end to end: events through the intake, the desk and the outbox, on a real Redis server.

Every call of the harness (``tests.harness.Conversation``) returns what was delivered, both sides, once the
outbox is empty.
"""

from pathlib import Path

import pytest

from core.cases import CaseStatus
from core.faq import FaqMatcher, load_faq
from core.messages import Audience, Operator, StaffKind, UserRef
from tests.harness import Conversation, open_case

FAQ = Path(__file__).resolve().parents[1] / "data" / "faq_desk.yaml"
ANNA = UserRef("telegram", "42")
OLGA = Operator("7", "Olga")
PETR = Operator("8", "Petr")
CHANNELS = ("console", "telegram", "vk")
customer_texts = Conversation.customer_texts
staff = Conversation.staff_msgs


@pytest.fixture(scope="module")
def entries():
    return load_faq(FAQ)


@pytest.fixture
async def conv(conversation):
    return await conversation(user=ANNA, channels=CHANNELS, operator=OLGA, name="Anna")


async def test_greeting_in_platform_language(conv):
    (out,) = await conv.say("/start", lang="en")
    assert out.text.startswith("Hello!")
    (out,) = await conv.say("/start", user=UserRef("vk", "1"), lang="ru")
    assert out.text.startswith("Здравствуйте") and out.to == UserRef("vk", "1")


async def test_help_lists_the_commands_in_both_languages(conv):
    (ru,) = await conv.say("/help")
    (en,) = await conv.say("/help", user="vk:2", lang="en")
    for out in (ru, en):
        for command in ("/operator", "/status", "/cancel", "/start"):
            assert command in out.text
    assert "пароль" in ru.text and "password" in en.text  # support never asks for it


async def test_faq_answer_in_the_customers_language(conv):
    (out,) = await conv.say("Как сбросить пароль?")
    assert "Забыли пароль" in out.text
    assert [b.payload for b in out.buttons] == ["nohelp:reset_password", "op:requested"]
    (out,) = await conv.say("how do i reset my password")
    assert "Forgot password" in out.text
    events = await conv.events("faq_answered")
    assert [e["entry"] for e in events] == ["reset_password", "reset_password"]
    assert float(events[0]["score"]) > 0


async def test_adapter_notes_and_links_do_not_change_the_language(conv):
    await conv.say("/operator", lang="ru")
    await conv.say("[sticker] https://vk.com/sticker/1-2-3")
    outs = await conv.say("/cancel")
    assert any("закрыто" in o.text for o in outs)  # still Russian


async def test_wrong_keyboard_layout_still_answers(conv):
    # "Как сбросить пароль" typed with the English layout on
    (out,) = await conv.say("Rfr C,hjcbnm gfhjkm")
    assert out.buttons and out.buttons[0].payload == "nohelp:reset_password"


async def test_suggest_band_offers_choices_and_a_digit_picks_one(conversation, entries):
    conv = await conversation(user=ANNA, channels=CHANNELS, matcher=FaqMatcher(entries, 1.01, 0.0))
    (out,) = await conv.say("пароль доставка")
    assert out.text.startswith("Не уверен")
    payloads = [b.payload for b in out.buttons]
    assert 2 <= len(payloads) <= 4 and payloads[-1] == "op:no_match"  # "none of these" hands off
    assert all(p.startswith("faq:") for p in payloads[:-1])
    chosen = payloads[0].removeprefix("faq:")
    (answer,) = await conv.say("1")  # a channel without buttons: the customer types the number
    assert answer.text == entries[[e.id for e in entries].index(chosen)].answer("ru")
    assert any(e["entry"] == chosen for e in await conv.events("faq_chosen"))


async def test_no_match_offers_an_operator_then_hands_off(conv):
    (offer,) = await conv.say("Мой холодильник поёт по ночам песни")
    assert "не нашёл" in offer.text
    assert offer.buttons[0].payload == "op:no_match"
    (ask,) = await conv.press("op:no_match")  # after a failed FAQ: the details first (core.desk.requests)
    assert "опишите" in ask.text and [b.payload for b in ask.buttons] == ["prep:skip"]
    outs = await conv.say("Поёт каждую ночь, модель X1")
    (told,) = customer_texts(outs)
    assert "#1" in told
    (card,) = staff(outs, StaffKind.CASE_OPENED)
    assert card.case_id == 1
    assert "холодильник" in card.text and "модель X1" in card.text  # the conversation so far is on the card
    case = await conv.store.get_case(1)
    assert case.reason == "no_match" and case.status is CaseStatus.ACCEPTED
    handoffs = await conv.events("handoff")
    assert handoffs == [{**handoffs[0], "case": "1", "reason": "no_match"}]


async def test_not_helped_offers_operator_and_card_shows_what_was_tried(conv):
    await conv.say("Сколько идёт доставка?")
    (offer,) = await conv.press("nohelp:delivery_time")
    assert offer.buttons[0].payload == "op:not_helped"
    await conv.press(offer.buttons[0].payload)  # the details are asked for first: skipped
    outs = await conv.press("prep:skip")
    case = await conv.store.get_case(staff(outs)[0].case_id)
    assert case.reason == "not_helped"
    assert [e for e, _ in case.tried] == ["delivery_time"]
    assert "delivery_time" in staff(outs)[0].text


async def test_full_case_lifecycle(conv, clock):
    store = conv.store
    outs = await conv.say("/operator", lang="ru")
    case_id = staff(outs)[0].case_id
    # the customer writes more: it joins the case and goes to the staff side only
    outs = await conv.say("Заказ 555 не пришёл")
    assert customer_texts(outs) == []
    (relay,) = staff(outs, StaffKind.CUSTOMER_MESSAGE)
    assert relay.text == "Заказ 555 не пришёл" and relay.case_id == case_id
    # the operator answers: relayed to the customer's own channel, first response time recorded
    clock.advance(90)
    outs = await conv.operator("Проверяю", case_id=case_id)
    reply, taken = conv.customer_msgs(outs)  # the first reply, then "in progress" (told once)
    assert "в работе" in taken.text
    assert reply.to == ANNA and reply.text == "Проверяю" and reply.meta["operator"] == "Olga"
    case = await store.get_case(case_id)
    assert case.first_reply_at - case.created_at == 90
    assert case.status is CaseStatus.IN_PROGRESS and case.operator == "Olga"
    # needs info -> the customer is told; their answer moves the case back to in progress
    outs = await conv.button(case_id, "needinfo")
    assert any("нужна дополнительная информация" in t for t in customer_texts(outs))
    assert staff(outs, StaffKind.STATUS)
    outs = await conv.say("Вот номер: 555")
    assert (await store.get_case(case_id)).status is CaseStatus.IN_PROGRESS
    assert staff(outs, StaffKind.STATUS)
    # resolve -> the customer is told and asked for a rating
    clock.advance(600)
    outs = await conv.button(case_id, "resolve")
    told = customer_texts(outs)
    assert any("решено" in t for t in told) and any("от 1 до 5" in t for t in told)
    rating_prompt = next(o for o in outs if o.buttons)
    assert [b.payload for b in rating_prompt.buttons] == [f"rate:{case_id}:{n}" for n in range(1, 6)]
    case = await store.get_case(case_id)
    assert case.status is CaseStatus.RESOLVED and case.resolved_at - case.created_at == 690
    assert await store.open_case_of(ANNA) is None
    outs = await conv.say("5")  # the rating, typed as a number
    assert any("5 из 5" in t for t in customer_texts(outs))
    assert (await store.get_case(case_id)).rating == 5
    # a second rating of the same case is refused
    outs = await conv.press(f"rate:{case_id}:1")
    assert (await store.get_case(case_id)).rating == 5
    types = [e["type"] for e in await conv.events()]
    for expected in ("handoff", "customer_message", "first_response", "operator_reply", "status", "resolved", "rated"):
        assert expected in types
    # after REOPEN_DAYS a message is a fresh conversation, and a new handoff gets a new number (a follow-up)
    clock.advance(8 * 24 * 3600)
    outs = await conv.say("/operator")
    assert staff(outs)[0].case_id == case_id + 1


async def test_staff_commands_and_their_errors(conv):
    case_id = await open_case(conv, lang="en")
    outs = await conv.button(case_id, "take")
    assert "Operator Olga is now working on your case" in customer_texts(outs)[0]
    outs = await conv.button(case_id, "take", operator=PETR)
    assert "took it over" in staff(outs)[0].text
    outs = await conv.button(case_id, "escalate")
    assert "senior specialist" in customer_texts(outs)[0]
    assert (await conv.store.get_case(case_id)).escalated
    outs = await conv.button(case_id, "escalate")
    assert "already escalated" in staff(outs, StaffKind.REPLY)[0].text
    (card,) = await conv.button(case_id, "case")
    assert card.kind == StaffKind.REPLY and f"#{case_id}" in card.text and "escalated" in card.text
    await conv.button(case_id, "resolve")
    (err,) = await conv.button(case_id, "needinfo")
    assert "does not apply" in err.text
    # an unknown command-shaped word is refused with a hint and NOT sent to the customer
    (err,) = await conv.operator("/frobnicate", case_id=case_id)
    assert err.audience is Audience.STAFF and "Unknown command" in err.text and "//" in err.text
    (err,) = await conv.button(case_id, "frobnicate")
    assert err.audience is Audience.STAFF and "Unknown" in err.text
    (err,) = await conv.button(999, "take")
    assert "no case #999" in err.text


async def test_operator_lines_are_read_by_the_desk(conv):
    """A staff line is a command, a note or a message; "//" escapes a slash; a path is not a command."""
    case_id = await open_case(conv)
    outs = await conv.operator("//start is the button at the bottom", case_id=case_id)
    out, _taken = conv.customer_msgs(outs)  # (and the status line: the first reply takes the case)
    assert out.to == ANNA and out.text == "/start is the button at the bottom"
    (out,) = await conv.operator("/etc/hosts is the file to check", case_id=case_id)
    assert out.to == ANNA and out.text == "/etc/hosts is the file to check"
    outs = await conv.operator(f"/case {case_id}")  # anywhere, even with no case at hand
    assert staff(outs, StaffKind.REPLY) and f"#{case_id}" in outs[0].text
    (hint,) = await conv.operator("/take")  # with no case at hand
    assert "/case N" in hint.text
    assert await conv.operator("general chat between operators") == []
    (edited,) = await conv.operator_edit("Исправлено", case_id)
    assert edited.to == ANNA and edited.text == "✏️ Исправлено"
    (edit,) = await conv.edit("заказ 556, не 555")
    assert edit.audience is Audience.STAFF and "заказ 556" in edit.text


async def test_private_note_is_not_relayed(conv):
    case_id = await open_case(conv)
    assert await conv.operator("!customer seems upset", case_id=case_id) == []
    log = await conv.store.transcript(case_id)
    assert log[-1]["who"] == "note"


async def test_ban_drops_and_counts_messages(conv):
    store = conv.store
    case_id = await open_case(conv)
    (info,) = await conv.button(case_id, "ban")
    assert "banned" in info.text
    assert await conv.say("spam") == []
    assert await conv.say("spam") == []
    assert await store.redis.hget(store.keys.banned_dropped, ANNA.key) == "2"
    assert len(await conv.events("banned_dropped")) == 2
    (info,) = await conv.button(case_id, "unban")
    assert "2 message(s) dropped" in info.text
    assert await conv.say("hello again")


async def test_status_and_cancel(conv):
    (out,) = await conv.say("/status", lang="en")
    assert "no cases" in out.text
    (out,) = await conv.say("/cancel", lang="en")
    assert "Nothing to cancel" in out.text
    case_id = await open_case(conv, lang="en")
    (out,) = await conv.say("/status", lang="en")
    assert f"#{case_id} — accepted" in out.text
    outs = await conv.say("/cancel", lang="en")
    assert f"Case #{case_id} is closed" in customer_texts(outs)[0]
    assert staff(outs, StaffKind.STATUS)
    case = await conv.store.get_case(case_id)
    assert case.status is CaseStatus.CANCELLED and case.closed_by == "customer"  # shown as cancelled


async def test_russian_command_aliases_and_unknown_command(conv):
    (out,) = await conv.say("/frobnicate")
    assert "/frobnicate" in out.text and "/operator" in out.text
    outs = await conv.say("/оператор")
    assert staff(outs, StaffKind.CASE_OPENED)
    # with a case open, text that merely starts with "/" is the customer's message, for the operator
    (relay,) = await conv.say("/home is full, nothing saves")
    assert relay.kind == StaffKind.CUSTOMER_MESSAGE and relay.text == "/home is full, nothing saves"


async def test_operator_message_to_a_resolved_case_is_refused_until_reopened(conv):
    case_id = await open_case(conv)
    await conv.button(case_id, "resolve")
    (refused,) = await conv.operator("one more thing", case_id=case_id)
    assert refused.audience is Audience.STAFF and "NOT sent" in refused.text and "/reopen" in refused.text
    outs = await conv.operator("/reopen", case_id=case_id)
    assert any("снова открыто" in t for t in customer_texts(outs))
    case = await conv.store.get_case(case_id)
    assert case.status is CaseStatus.IN_PROGRESS and case.resolved_at is None
    assert (await conv.store.open_case_of(ANNA)).id == case_id
    outs = await conv.operator("one more thing", case_id=case_id)
    assert customer_texts(outs) == ["one more thing"]
    (again,) = await conv.button(case_id, "reopen")
    assert "open already" in again.text


async def test_reopen_refused_when_the_customer_has_another_open_case(conv, clock):
    first = await open_case(conv)
    await conv.button(first, "resolve")
    clock.advance(8 * 24 * 3600)  # past REOPEN_DAYS: a new case, not the first one reopened
    second = await open_case(conv)
    (refused,) = await conv.button(first, "reopen")
    assert f"#{second}" in refused.text


async def test_a_typed_number_does_not_press_a_stale_button(conv, clock):
    await conv.say("Мой холодильник поёт по ночам")  # offers an operator as button 1
    clock.advance(25 * 3600)
    outs = await conv.say("1")
    assert not staff(outs)  # a day later "1" is just text, not the old button
    assert await conv.store.open_case_of(ANNA) is None


async def test_failed_staff_lines_that_the_customer_did_not_send_are_not_reported_to_them(conv):
    outs = await conv.say("/operator")
    case_id = staff(outs)[0].case_id
    status = staff(await conv.button(case_id, "take"), StaffKind.STATUS)[0]
    assert await conv.report(status, "Bad Request: chat not found") == []
    card = staff(outs, StaffKind.CASE_OPENED)[0]
    (told,) = await conv.report(card, "Bad Request: chat not found")
    assert told.to == ANNA
    assert len(await conv.events("delivery_failed")) == 2


async def test_asking_for_a_person_in_words(conv):
    outs = await conv.say("позовите оператора пожалуйста")
    assert staff(outs, StaffKind.CASE_OPENED)
    outs = await conv.say("I need a human", user="vk:5")
    assert staff(outs, StaffKind.CASE_OPENED)


async def test_second_handoff_request_joins_the_open_case(conv):
    case_id = await open_case(conv)
    (out,) = await conv.press("op:requested")
    assert f"#{case_id}" in out.text and "уже есть" in out.text


async def test_greetings_and_thanks_get_small_talk_not_an_faq_guess(conv):
    (out,) = await conv.say("Привет!")
    assert out.text.startswith("Здравствуйте! Напишите") and not out.buttons
    (out,) = await conv.say("thanks", user="vk:3")
    assert out.text.startswith("You're welcome")
    assert not [e for e in await conv.events() if e["type"].startswith("faq_")]
    # a greeting with a question is a question
    (out,) = await conv.say("привет, как сбросить пароль?")
    assert out.buttons[0].payload == "nohelp:reset_password"


async def test_did_not_help_says_so(conv):
    await conv.say("Сколько идёт доставка?")
    (offer,) = await conv.press("nohelp:delivery_time")
    assert offer.text.startswith("Жаль, что ответ не помог")


async def test_the_rating_is_still_taken_after_another_message(conv):
    case_id = await open_case(conv)
    await conv.button(case_id, "resolve")
    await conv.say("спасибо")
    await conv.say("Как сбросить пароль?")  # two buttons offered meanwhile
    await conv.say("4")  # not one of them: the rating it was asked for
    assert (await conv.store.get_case(case_id)).rating == 4


async def test_bare_slash_emoji_and_common_words(conv):
    (out,) = await conv.say("/")
    assert "/operator" in out.text
    (out,) = await conv.say("👍🙏")
    assert "словами" in out.text
    outs = await conv.say("сколько человек в команде")
    assert not staff(outs) and await conv.store.open_case_of(ANNA) is None  # "человек" alone is not a handoff
