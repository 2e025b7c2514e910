"""The playbook's requests through the real desk (``core.desk.requests``, ``core.desk.callbacks``): status at
hand, follow-ups, preparing the request, ratings against the operator, callbacks."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.cases import CaseStatus, HandoffReason
from core.faq import FaqError, load_faq
from core.messages import Attachment, Audience, Operator, StaffKind, UserRef
from tests.harness import open_case

ANNA = UserRef("telegram", "42")
BORIS = UserRef("telegram", "43")
OLGA = Operator("7", "Olga")
PETR = Operator("8", "Petr")
DAY = 24 * 3600
FAQ = Path(__file__).resolve().parents[1] / "data" / "faq_desk.yaml"
ASKING = """
  ask:
    ru: [номер заказа]
    en: [order number]
"""  # the delivery entry of the desk's FAQ, asking for the order number


@pytest.fixture
async def conv(conversation):
    return await conversation(user=ANNA, channels=("telegram", "vk"), operator=OLGA, name="Anna")


def texts(outs) -> list[str]:
    return [o.text for o in outs if o.audience is Audience.CUSTOMER]


def staff(outs, kind: StaffKind | None = None):
    return [o for o in outs if o.audience is Audience.STAFF and (kind is None or o.kind == kind)]


async def resolved_case(conv, **kw) -> int:
    case_id = await open_case(conv, **kw)
    await conv.operator("Готово", case_id=case_id)
    await conv.button(case_id, "resolve")
    return case_id


# ---------------------------------------------------------------- status at hand
async def test_status_lists_cases_with_their_last_activity(conv, clock):
    first = await resolved_case(conv, lang="en")
    clock.advance(8 * DAY)
    second = await open_case(conv, lang="en")
    clock.advance(3600)
    await conv.say("one more detail", lang="en")
    (out,) = await conv.say("/status", lang="en")
    lines = out.text.splitlines()
    assert lines[0] == "Your cases:"
    assert lines[1].startswith(f"#{second} — accepted, opened 09.01.2026 00:00, last activity 09.01.2026 01:00")
    assert lines[2].startswith(f"#{first} — resolved, opened 01.01.2026 00:00")
    assert f"/status {second}" in lines[-1]


@pytest.mark.parametrize(
    "ask",
    ["/status {n}", "/status #{n}", "статус {n}", "что с обращением {n}?", "what about #{n}", "Статус обращения №{n}"],
)
async def test_one_case_by_its_number_and_nothing_about_others(conv, ask):
    mine = await open_case(conv)
    other = await open_case(conv, user=BORIS, name="Boris")
    (out,) = texts(await conv.say(ask.format(n=mine)))  # (with a case open, also relayed to its operator)
    assert f"#{mine}" in out and ("принято" in out or "accepted" in out)  # ("what about": in English)
    (theirs,) = texts(await conv.say(ask.format(n=other)))
    (missing,) = texts(await conv.say(ask.format(n=999)))
    assert theirs == missing.replace("#999", f"#{other}")  # the same answer as for no case at all
    assert "Boris" not in theirs and "принято" not in theirs and "accepted" not in theirs


async def test_a_status_question_in_an_open_case_also_reaches_the_operator(conv):
    case_id = await open_case(conv)
    outs = await conv.say(f"что с обращением {case_id}?")
    assert staff(outs, StaffKind.CUSTOMER_MESSAGE)[0].text == f"что с обращением {case_id}?"
    assert "принято" in texts(outs)[0]


async def test_the_first_reply_and_the_answer_to_needs_info_are_told(conv):
    case_id = await open_case(conv)
    outs = await conv.operator("Смотрю", case_id=case_id)
    assert texts(outs) == ["Смотрю", "Оператор Olga подключился: обращение #1 в работе."]
    assert (await conv.store.get_case(case_id)).status is CaseStatus.IN_PROGRESS
    assert texts(await conv.operator("Ещё минуту", case_id=case_id)) == ["Ещё минуту"]  # told once
    await conv.button(case_id, "needinfo")
    outs = await conv.say("Заказ 555")
    assert texts(outs) == ["Спасибо! Обращение #1 снова у оператора (в работе)."]
    assert staff(outs, StaffKind.STATUS) and staff(outs, StaffKind.CUSTOMER_MESSAGE)
    assert (await conv.store.get_case(case_id)).status is CaseStatus.IN_PROGRESS


async def test_a_case_taken_with_the_button_is_not_told_again_on_the_first_reply(conv):
    case_id = await open_case(conv)
    await conv.button(case_id, "take")
    assert texts(await conv.operator("Смотрю", case_id=case_id)) == ["Смотрю"]


# ---------------------------------------------------------------- follow-ups
async def test_a_message_soon_after_resolution_reopens_the_case(conv, clock):
    case_id = await resolved_case(conv)
    clock.advance(2 * DAY)
    outs = await conv.say("Холодильник всё равно поёт по ночам")
    assert "снова открыто" in texts(outs)[0]
    (line,) = staff(outs, StaffKind.STATUS)
    assert "reopened" in line.text and line.meta["title"].startswith("🔁")
    (relay,) = staff(outs, StaffKind.CUSTOMER_MESSAGE)
    assert relay.case_id == case_id and relay.text == "Холодильник всё равно поёт по ночам"
    case = await conv.store.get_case(case_id)
    assert case.status is CaseStatus.IN_PROGRESS and case.extra["reopened"] == "1" and case.rating is None
    assert (await conv.store.open_case_of(ANNA)).id == case_id
    assert [e["case"] for e in await conv.events("reopened")] == [str(case_id)]


async def test_thanks_ratings_and_faq_questions_after_resolution_reopen_nothing(conv, clock):
    case_id = await resolved_case(conv)
    clock.advance(3600)
    for text in ("спасибо", "ок, понятно", "👍", "Как сбросить пароль?"):
        outs = await conv.say(text)
        assert not staff(outs), text
    await conv.say("5")  # the rating asked for
    case = await conv.store.get_case(case_id)
    assert case.status is CaseStatus.RESOLVED and case.rating == 5


async def test_asking_for_a_person_soon_after_resolution_reopens_the_same_number(conv, clock):
    case_id = await resolved_case(conv)
    clock.advance(DAY)
    outs = await conv.say("/operator")
    assert not staff(outs, StaffKind.CASE_OPENED)
    assert f"#{case_id}" in texts(outs)[0] and "снова открыто" in texts(outs)[0]
    assert await conv.store.last_case_id() == case_id


async def test_after_reopen_days_a_new_case_follows_up_the_old_one(conversation, clock):
    conv = await conversation(user=ANNA, channels=("telegram",), REOPEN_DAYS=2)
    old = await resolved_case(conv)
    clock.advance(3 * DAY)
    outs = await conv.say("/operator")
    (card,) = staff(outs, StaffKind.CASE_OPENED)
    assert card.case_id == old + 1 and f"Follow-up to #{old}" in card.text
    assert card.meta["follows"] == str(old) and card.meta["follows_line"] in card.text
    assert (await conv.store.get_case(card.case_id)).extra["follows"] == str(old)


async def test_a_quoted_case_number_of_theirs_attaches_the_message(conv, clock):
    old = await resolved_case(conv)
    clock.advance(10 * DAY)
    newer = await resolved_case(conv)  # the last case, resolved just now
    outs = await conv.say(f"По обращению {old}: деньги так и не вернули")
    (card,) = staff(outs, StaffKind.CASE_OPENED)  # #old is too old to reopen: a follow-up of it, not of #newer
    assert f"Follow-up to #{old}" in card.text and "деньги так и не вернули" in card.text
    assert (await conv.store.get_case(newer)).status is CaseStatus.RESOLVED
    await conv.button(card.case_id, "resolve")
    outs = await conv.say(f"case #{card.case_id} again, please")  # within REOPEN_DAYS: that case reopens
    assert staff(outs, StaffKind.STATUS) and staff(outs, StaffKind.CUSTOMER_MESSAGE)[0].case_id == card.case_id


async def test_someone_elses_case_number_is_ignored(conv, clock):
    theirs = await resolved_case(conv, user=BORIS, name="Boris")
    outs = await conv.say(f"по обращению #{theirs} что-то непонятное с холодильником")
    assert not staff(outs)  # no case of Boris's reopened, nothing attached: an ordinary message
    assert (await conv.store.get_case(theirs)).status is CaseStatus.RESOLVED
    assert "не нашёл" in texts(outs)[0]


# ---------------------------------------------------------------- preparing the request
async def test_after_a_failed_faq_the_details_come_first_then_the_case(conv):
    await conv.say("Мой холодильник поёт по ночам")
    (ask,) = await conv.press("op:no_match")
    assert "опишите" in ask.text and "пароль и коды из SMS" in ask.text
    assert [b.label for b in ask.buttons] == ["Пропустить"]
    assert await conv.store.open_case_of(ANNA) is None
    shot = Attachment("photo", "file-1", "telegram")
    outs = await conv.say("Поёт с понедельника, модель X1", attachments=(shot,))
    (card,) = staff(outs, StaffKind.CASE_OPENED)
    assert "The customer's description: Поёт с понедельника, модель X1" in card.text
    assert "холодильник" in card.text  # what came before is there too
    assert [o.attachments for o in staff(outs) if o.attachments] == [(shot,)]  # the file itself, with the card
    assert len(texts(outs)) == 1 and "#1" in texts(outs)[0]  # the handoff notice, no second question
    case = await conv.store.get_case(card.case_id)
    assert case.reason == HandoffReason.NO_MATCH and case.extra["details"] == "Поёт с понедельника, модель X1"


async def test_the_faq_entrys_ask_list_is_asked_for_and_shown(conversation, tmp_path):
    faq = tmp_path / "faq.yaml"
    delivery = "    en: Delivery takes 2 to 5 business days.\n"
    faq.write_text(FAQ.read_text(encoding="utf-8").replace(delivery, delivery + ASKING.lstrip("\n")), encoding="utf-8")
    conv = await conversation(user=ANNA, channels=("telegram",), FAQ_PATH=str(faq))
    await conv.say("Сколько идёт доставка?")
    await conv.press("nohelp:delivery_time")
    (ask,) = await conv.press("op:not_helped")
    assert "укажите: номер заказа" in ask.text
    outs = await conv.press("prep:skip")
    (card,) = staff(outs, StaffKind.CASE_OPENED)
    assert "The bot asked for: номер заказа" in card.text and "skipped" in card.text


async def test_a_person_asked_for_outright_gets_the_case_at_once_and_the_questions_after(conv):
    outs = await conv.say("позовите оператора")
    assert staff(outs, StaffKind.CASE_OPENED)
    notice, questions = texts(outs)
    assert "#1" in notice and "подробнее" in questions and "пароль" in questions
    outs = await conv.say("Не приходит заказ 555")
    assert texts(outs) == [] and staff(outs, StaffKind.CUSTOMER_MESSAGE)  # relayed as it is...
    assert (await conv.store.get_case(1)).extra["details"] == "Не приходит заказ 555"  # ...and kept as details
    await conv.say("и ещё одно")
    assert (await conv.store.get_case(1)).extra["details"] == "Не приходит заказ 555"
    card = staff(await conv.operator("/case 1", case_id=1))[0]
    assert "The customer's description: Не приходит заказ 555" in card.text


async def test_asked_once_a_second_request_opens_at_once(conv):
    await conv.say("Мой холодильник поёт по ночам")
    await conv.press("op:no_match")
    outs = await conv.say("/operator")  # does not wait: the case opens, no second question
    assert staff(outs, StaffKind.CASE_OPENED) and len(texts(outs)) == 1


async def test_cancel_and_expiry_drop_the_question(conv, clock):
    await conv.say("Мой холодильник поёт по ночам")
    await conv.press("op:no_match")
    (out,) = await conv.say("/cancel")
    assert "отменено" in out.text
    assert not staff(await conv.say("Поёт громко"))
    await conv.say("Мой холодильник поёт по ночам")
    await conv.press("op:no_match")
    clock.advance(2 * 3600)
    outs = await conv.say("Мой холодильник поёт по ночам")  # too late for an answer: an ordinary message
    assert not staff(outs) and "не нашёл" in texts(outs)[0]
    await conv.press("op:no_match")
    clock.advance(2 * 3600)
    (out,) = await conv.press("prep:skip")  # too late for "Skip" too
    assert "неактуален" in out.text and await conv.store.open_case_of(ANNA) is None


def test_ask_lists_are_validated(tmp_path):
    def load(ask: str):
        path = tmp_path / "f.yaml"
        path.write_text(f"- id: x\n  questions: [q]\n  answer: a\n  ask: {ask}\n", encoding="utf-8")
        return load_faq(path)

    (entry,) = load("[order number, login]")
    assert entry.ask == ("order number", "login") and entry.asks("ru") == ("order number", "login")
    (entry,) = load("{ru: [номер заказа], en: [order number]}")
    assert entry.asks("ru") == ("номер заказа",) and entry.asks("de") == ("order number",)
    for bad in ("order number", "[]", "[1]", "{ru: x}", "[a, b, c, d, e, f]"):
        with pytest.raises(FaqError, match="ask"):
            load(bad)


def test_shipped_faq_asks_for_order_numbers_and_logins(shipped_faq):
    by_id = {e.id: e for e in shipped_faq}
    assert "номер заказа" in by_id["order_status"].asks("ru")
    assert "order number" in by_id["order_status"].asks("en")
    assert any("login" in item for item in by_id["login_problems"].asks("en"))


# ---------------------------------------------------------------- ratings
async def test_the_rating_belongs_to_the_operator_who_resolved(conv):
    case_id = await open_case(conv)
    await conv.operator("Смотрю", case_id=case_id)
    await conv.button(case_id, "resolve", operator=PETR)
    assert (await conv.store.get_case(case_id)).resolved_by == "Petr"
    await conv.say("4")
    await conv.say("быстро и по делу")
    (rated,) = await conv.events("rated")
    assert rated["operator"] == "Petr" and rated["stars"] == "4" and rated["case"] == str(case_id)
    (comment,) = await conv.events("rating_comment")
    assert comment["operator"] == "Petr"
    await conv.operator("/reopen", case_id=case_id)
    assert (await conv.store.get_case(case_id)).resolved_by == ""


# ---------------------------------------------------------------- callbacks
async def test_a_callback_request_opens_a_callback_case(conv):
    outs = await conv.say("Перезвоните мне, пожалуйста")
    (ask,) = outs
    assert "номер" in ask.text and ask.meta["request_contact"] == "📱 Отправить мой номер"
    (bad,) = await conv.say("12345")
    assert "Не похоже на номер" in bad.text
    (when,) = await conv.say("8 (900) 123-45-67")
    assert "+7 900 123-45-67" in when.text and when.meta.get("remove_keyboard")
    outs = await conv.say("сегодня после 18:00")
    (card,) = staff(outs, StaffKind.CASE_OPENED)
    assert "📞 Callback: +7 900 123-45-67 · a good time: сегодня после 18:00" in card.text
    assert "reason: callback" in card.text and card.meta["title"].startswith("📞")
    assert "Перезвоните мне" in card.text  # the request itself is in the conversation
    notice, booked = texts(outs)
    assert "#1" in notice and "+7 900 123-45-67" in booked and "после 18:00" in booked
    case = await conv.store.get_case(card.case_id)
    assert case.reason == HandoffReason.CALLBACK and case.extra["phone_e164"] == "+79001234567"


async def test_callback_command_with_an_open_case_adds_to_it(conv):
    case_id = await open_case(conv)
    (ask,) = await conv.say("/callback")
    assert ask.meta["request_contact"]
    await conv.say("+7 900 123 45 67")  # the number, shared or typed (an open case: not relayed)
    outs = await conv.say("завтра утром")
    assert "Добавлено к обращению #1" in texts(outs)[0]
    (info,) = staff(outs, StaffKind.INFO)
    assert "+7 900 123-45-67" in info.text and "завтра утром" in info.text and info.case_id == case_id
    (card,) = staff(await conv.operator(f"/case {case_id}"))
    assert "📞 Callback: +7 900 123-45-67" in card.text


async def test_called_records_the_call(conv):
    await conv.say("/callback")
    await conv.say("89001234567")
    outs = await conv.say("в любое время")
    case_id = staff(outs, StaffKind.CASE_OPENED)[0].case_id
    (line,) = await conv.operator("/called", case_id=case_id)
    assert line.kind == StaffKind.STATUS and "called back (Olga)" in line.text
    assert [e["operator"] for e in await conv.events("called")] == ["Olga"]
    assert (await conv.store.transcript(case_id))[-1]["text"] == "Called back by Olga"
    (card,) = staff(await conv.operator(f"/case {case_id}"))
    assert "Called back: " in card.text and "(Olga)" in card.text


async def test_a_callback_request_gives_way_to_other_messages(conv):
    await conv.say("call me back", lang="en")
    outs = await conv.say("How do I reset my password?")  # no digit: not a number, an ordinary question
    assert "Forgot password" in texts(outs)[0]
    await conv.say("/callback")
    for _ in range(2):
        (out,) = await conv.say("12")
        assert "doesn't look like a phone number" in out.text
    (out,) = await conv.say("34")
    assert "/callback" in out.text and out.meta.get("remove_keyboard")
    (out,) = await conv.say("/cancel")
    assert "Nothing to cancel" in out.text


async def test_phone_region_setting(conversation):
    conv = await conversation(user=ANNA, channels=("telegram",), PHONE_REGION="gb")
    assert conv.core.settings.phone_region == "GB"
    await conv.say("/callback", lang="en")
    (out,) = await conv.say("020 7946 0958")
    assert "+44 20 7946 0958" in out.text
