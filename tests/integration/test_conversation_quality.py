"""Conversation quality through the desk: the language that sticks, "a person, please", menus and ratings that
don't trip, bad text, the operators' language, the card. Every test runs the real intake -> desk -> outbox path."""

from __future__ import annotations

from core.cases import CaseStatus, HandoffReason
from core.desk.language import asks_for_human
from core.messages import Audience, StaffKind, UserRef

ANNA = UserRef("console", "u1")


def texts(outs, audience=Audience.CUSTOMER):
    return [o.text for o in outs if o.audience == audience]


def staff(outs, kind=None):
    return [o for o in outs if o.audience == Audience.STAFF and (kind is None or o.kind == kind)]


# ---------------------------------------------------------------- the language sticks
async def test_codes_emails_and_numbers_never_switch_a_russian_conversation(conv):
    outs = await conv.say("мой email ivan.petrov@example.com, номер заказа AB-12345-XYZ")
    assert (await conv.store.get_user(ANNA))["lang"] == "ru"
    assert all(any("а" <= ch <= "я" for ch in t.lower()) for t in texts(outs))  # answered in Russian
    await conv.say("iPhone 15 Pro")  # Latin product names inside a Russian conversation
    await conv.say("ok")
    assert (await conv.store.get_user(ANNA))["lang"] == "ru"
    (out,) = await conv.say("/status")
    assert "обращений" in out.text


async def test_a_clear_message_in_the_other_language_switches_it(conv):
    await conv.say("Как сбросить пароль?")
    outs = await conv.say("How do I reset my password?")
    assert (await conv.store.get_user(ANNA))["lang"] == "en"
    assert "Forgot password" in texts(outs)[0]


async def test_wrong_layout_counts_as_the_language_it_was_fixed_to(conv):
    outs = await conv.say("ghbdtn")  # привет typed on an English layout
    assert (await conv.store.get_user(ANNA))["lang"] == "ru"
    assert "Здравствуйте" in texts(outs)[0]
    outs = await conv.say("rfr cr,hjcbnm gfhjkm")  # как сбросить пароль
    assert "Забыли пароль" in texts(outs)[0]


async def test_the_first_greeting_follows_the_platform_language(conv):
    (out,) = await conv.say("/start", lang="en")
    assert out.text.startswith("Hello")
    (out,) = await conv.say("/start", user="u2", lang="ru")
    assert out.text.startswith("Здравствуйте")


# ---------------------------------------------------------------- a person, please
async def test_plain_requests_for_a_person_open_a_case(conv):
    for i, text in enumerate(
        [
            "can I speak to a real human please",
            "agent",
            "I need help from a real person",
            "позовите менеджера",
            "jgthfnjh",
            "соедините с живым человеком",
        ]
    ):
        user = f"h{i}"
        outs = await conv.say(text, user=user)
        assert staff(outs, StaffKind.CASE_OPENED), text
        case = await conv.store.open_case_of(UserRef("console", user))
        assert case is not None and case.reason == HandoffReason.REQUESTED, text


def test_questions_that_mention_a_person_are_not_requests():
    for text in ["what is an agent fee for transfers", "сколько человек в команде", "how do I get a refund"]:
        assert not asks_for_human(text), text


async def test_a_complaint_opens_an_escalated_case_with_its_reason(conv):
    outs = await conv.say("У меня жалоба на курьера")
    assert staff(outs, StaffKind.CASE_OPENED)
    case = await conv.store.open_case_of(ANNA)
    assert case.reason == HandoffReason.COMPLAINT and case.escalated
    assert any(e["reason"] == "complaint" for e in await conv.events("handoff"))


# ---------------------------------------------------------------- menus and ratings
async def resolved_case(conv) -> int:
    outs = await conv.say("/operator")
    case_id = staff(outs, StaffKind.CASE_OPENED)[0].case_id
    await conv.operator("Готово", case_id=case_id)
    await conv.button(case_id, "resolve")
    return case_id


async def test_a_digit_after_the_rating_prompt_is_the_rating_and_the_next_text_its_comment(conv):
    case_id = await resolved_case(conv)
    outs = await conv.say("4")
    assert "4 из 5" in texts(outs)[0]
    outs = await conv.say("всё отлично, очень быстро")
    assert "комментарий" in texts(outs)[0].lower()
    (note,) = staff(outs, StaffKind.INFO)
    assert "всё отлично, очень быстро" in note.text and note.case_id == case_id
    case = await conv.store.get_case(case_id)
    assert case.rating == 4 and case.extra["comment"] == "всё отлично, очень быстро"
    assert await conv.events("rating_comment")


async def test_a_question_after_a_rating_is_answered_not_taken_as_a_comment(conv):
    case_id = await resolved_case(conv)
    await conv.say("5")
    outs = await conv.say("Как сбросить пароль?")
    assert "Забыли пароль" in texts(outs)[0]
    assert "comment" not in (await conv.store.get_case(case_id)).extra


async def test_typing_a_buttons_label_presses_it(conv):
    await conv.say("Как сбросить пароль?")  # answered, with "Не помогло" / "Позвать оператора"
    outs = await conv.say("не помогло")
    assert "Жаль, что ответ не помог" in texts(outs)[0]
    assert await conv.events("faq_not_helped")
    await conv.say("Позвать оператора!")  # after a failed FAQ the details are asked for first...
    outs = await conv.say("пропустить")  # ...and "Skip", typed, presses that button
    assert staff(outs, StaffKind.CASE_OPENED)


# ---------------------------------------------------------------- bad text never hurts
async def test_invalid_unicode_and_terminal_escapes_are_cleaned_before_the_staff_side(conv):
    await conv.say("/operator")
    outs = await conv.say("привет\udc80 \x1b[31mкрасный\x1b[0m\x07 текст")
    (relay,) = staff(outs, StaffKind.CUSTOMER_MESSAGE)
    assert relay.text == "привет\ufffd красный текст"


async def test_hostile_names_cannot_add_lines_to_the_card(conv):
    outs = await conv.say("/operator", name="Anna\nCustomer: Admin, id 1\u202e\u200b")
    (card,) = staff(outs, StaffKind.CASE_OPENED)
    lines = card.text.splitlines()
    assert not [line for line in lines if line.startswith("Customer: Admin")]
    assert "Anna Customer: Admin, id 1" in card.text and "\u202e" not in card.text
    assert "\u202e" not in card.meta["title"] and "\n" not in card.meta["title"]


async def test_an_empty_operator_message_is_refused_with_a_hint(conv):
    outs = await conv.say("/operator")
    case_id = staff(outs)[0].case_id
    outs = await conv.operator("   ", case_id=case_id)
    assert not [o for o in outs if o.audience == Audience.CUSTOMER]
    assert "Empty message" in staff(outs, StaffKind.REPLY)[0].text


# ---------------------------------------------------------------- the operators' side in their language
async def test_operators_read_russian_when_staff_language_is_ru(conversation):
    conv = await conversation(STAFF_LANGUAGE="ru", TIMEZONE="Europe/Moscow")
    outs = await conv.say("/operator")
    (card,) = staff(outs, StaffKind.CASE_OPENED)
    assert card.text.startswith("Обращение #1 · Console · Принято")
    assert "(Europe/Moscow)" in card.text and "клиент попросил оператора" in card.text
    assert [b.label for b in card.buttons] == ["Взять", "Уточнить", "Решено", "Эскалировать"]
    outs = await conv.button(card.case_id, "needinfo")
    assert "Обращение #1 → Требует уточнений (Olga)" in staff(outs, StaffKind.STATUS)[0].text
    assert "требуется" in texts(outs)[0] or "информация" in texts(outs)[0]  # the customer is told too


async def test_a_cancelled_case_shows_as_cancelled(conv):
    outs = await conv.say("/operator")
    case_id = staff(outs)[0].case_id
    outs = await conv.say("/cancel")
    assert "cancelled it" in staff(outs, StaffKind.STATUS)[0].text
    assert (await conv.store.get_case(case_id)).status is CaseStatus.CANCELLED
    assert "🚫" in staff(outs, StaffKind.STATUS)[0].meta["title"]
    (out,) = await conv.say("/status")
    assert "отменено" in out.text


# ---------------------------------------------------------------- a card worth reading
async def test_the_card_shows_the_last_five_messages_of_this_conversation_whole(conv):
    long_question = "Очень длинный вопрос " + "про заказ и доставку " * 40  # over 300 characters
    for i in range(7):
        await conv.say(f"вопрос номер {i} про погоду на марсе")
    await conv.say(long_question)
    outs = await conv.say("/operator")
    (card,) = staff(outs, StaffKind.CASE_OPENED)
    shown = [line for line in card.text.splitlines() if line.startswith("👤")]
    assert len(shown) == 5
    assert "вопрос номер 0" not in card.text and "вопрос номер 6" in card.text
    assert long_question.strip() in card.text  # whole, never cut
