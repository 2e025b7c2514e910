"""The conversation core end to end through the desk, on a real Redis server."""

import asyncio
import itertools
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from core.cases import CaseStatus
from core.desk import SupportDesk
from core.faq import FaqMatcher, load_faq
from core.messages import Attachment, Audience, Inbound, Operator, StaffKind, UserRef
from core.store import Store

FAQ = Path(__file__).resolve().parents[1] / "data" / "faq_desk.yaml"
ANNA = UserRef("telegram", "42")
OLGA = Operator("7", "Olga")
_ids = itertools.count(1)


@pytest.fixture(scope="module")
def entries():
    return load_faq(FAQ)


@pytest.fixture
def desk(store, entries, clock):
    return SupportDesk(store, FaqMatcher(entries), clock=clock)


def msg(text="", user=ANNA, payload=None, lang=None, **kw) -> Inbound:
    return Inbound(
        sender=user, text=text, message_id=str(next(_ids)), payload=payload, language=lang, name="Anna", **kw
    )


def customer_texts(outs):
    return [o.text for o in outs if o.audience is Audience.CUSTOMER]


def staff(outs, kind=None):
    return [o for o in outs if o.audience is Audience.STAFF and (kind is None or o.kind == kind)]


async def test_greeting_in_platform_language(desk):
    (out,) = await desk.handle(msg("/start", lang="en"))
    assert out.text.startswith("Hello!")
    (out,) = await desk.handle(msg("/start", user=UserRef("vk", "1"), lang="ru"))
    assert out.text.startswith("Здравствуйте")


async def test_help_lists_the_commands_in_both_languages(desk):
    (ru,) = await desk.handle(msg("/help"))
    (en,) = await desk.handle(msg("/help", user=UserRef("vk", "2"), lang="en"))
    for out in (ru, en):
        for command in ("/operator", "/status", "/cancel", "/start"):
            assert command in out.text
    assert "пароль" in ru.text and "password" in en.text  # support never asks for it


async def test_faq_answer_in_the_customers_language(desk, store):
    (out,) = await desk.handle(msg("Как сбросить пароль?"))
    assert "Забыли пароль" in out.text
    assert [b.payload for b in out.buttons] == ["nohelp:reset_password", "op:requested"]
    (out,) = await desk.handle(msg("how do i reset my password"))
    assert "Forgot password" in out.text
    events = [e for e in await store.events() if e["type"] == "faq_answered"]
    assert [e["entry"] for e in events] == ["reset_password", "reset_password"]
    assert float(events[0]["score"]) > 0


async def test_adapter_notes_and_links_do_not_change_the_language(desk):
    await desk.handle(msg("/operator", lang="ru"))
    await desk.handle(msg("[sticker] https://vk.com/sticker/1-2-3"))
    outs = await desk.handle(msg("/cancel"))
    assert any("закрыто" in o.text for o in outs)  # still Russian


async def test_wrong_keyboard_layout_still_answers(desk):
    # "Как сбросить пароль" typed with the English layout on
    (out,) = await desk.handle(msg("Rfr C,hjcbnm gfhjkm"))
    assert out.buttons and out.buttons[0].payload == "nohelp:reset_password"


async def test_suggest_band_offers_choices_and_a_digit_picks_one(store, entries, clock):
    desk = SupportDesk(store, FaqMatcher(entries, answer_threshold=1.01, suggest_threshold=0.0), clock=clock)
    (out,) = await desk.handle(msg("пароль доставка"))
    assert out.text.startswith("Не уверен")
    payloads = [b.payload for b in out.buttons]
    assert 2 <= len(payloads) <= 4 and payloads[-1] == "op:no_match"  # "none of these" hands off
    assert all(p.startswith("faq:") for p in payloads[:-1])
    chosen = payloads[0].removeprefix("faq:")
    (answer,) = await desk.handle(msg("1"))  # a channel without buttons: the customer types the number
    assert answer.text == entries[[e.id for e in entries].index(chosen)].answer("ru")
    assert any(e["type"] == "faq_chosen" and e["entry"] == chosen for e in await store.events())


async def test_no_match_offers_an_operator_then_hands_off(desk, store):
    (offer,) = await desk.handle(msg("Мой холодильник поёт по ночам песни"))
    assert "не нашёл" in offer.text
    assert offer.buttons[0].payload == "op:no_match"
    outs = await desk.handle(msg(payload="op:no_match"))
    (told,) = customer_texts(outs)
    assert "#1" in told
    (card,) = staff(outs, StaffKind.CASE_OPENED)
    assert card.case_id == 1
    assert "холодильник" in card.text  # the conversation so far is on the card
    case = await store.get_case(1)
    assert case.reason == "no_match" and case.status is CaseStatus.ACCEPTED
    handoffs = [e for e in await store.events() if e["type"] == "handoff"]
    assert handoffs == [{**handoffs[0], "case": "1", "reason": "no_match"}]


async def test_not_helped_offers_operator_and_card_shows_what_was_tried(desk, store):
    await desk.handle(msg("Сколько идёт доставка?"))
    (offer,) = await desk.handle(msg(payload="nohelp:delivery_time"))
    assert offer.buttons[0].payload == "op:not_helped"
    outs = await desk.handle(msg(payload=offer.buttons[0].payload))
    case = await store.get_case(staff(outs)[0].case_id)
    assert case.reason == "not_helped"
    assert [e for e, _ in case.tried] == ["delivery_time"]
    assert "delivery_time" in staff(outs)[0].text


async def test_full_case_lifecycle(desk, store, clock):
    outs = await desk.handle(msg("/operator", lang="ru"))
    case_id = staff(outs)[0].case_id
    # the customer writes more: it joins the case and goes to the staff side only
    outs = await desk.handle(msg("Заказ 555 не пришёл"))
    assert customer_texts(outs) == []
    (relay,) = staff(outs, StaffKind.CUSTOMER_MESSAGE)
    assert relay.text == "Заказ 555 не пришёл" and relay.case_id == case_id
    # the operator answers: relayed to the customer's own channel, first response time recorded
    clock.advance(90)
    outs = await desk.operator_message(case_id, OLGA, "Проверяю")
    (reply,) = [o for o in outs if o.audience is Audience.CUSTOMER]
    assert reply.to == ANNA and reply.text == "Проверяю"
    case = await store.get_case(case_id)
    assert case.first_reply_at - case.created_at == 90
    assert case.status is CaseStatus.IN_PROGRESS and case.operator == "Olga"
    # needs info -> the customer is told; their answer moves the case back to in progress
    outs = await desk.operator_command(case_id, "needinfo", OLGA)
    assert any("нужна дополнительная информация" in t for t in customer_texts(outs))
    assert staff(outs, StaffKind.STATUS)
    outs = await desk.handle(msg("Вот номер: 555"))
    assert (await store.get_case(case_id)).status is CaseStatus.IN_PROGRESS
    assert staff(outs, StaffKind.STATUS)
    # resolve -> the customer is told and asked for a rating
    clock.advance(600)
    outs = await desk.operator_command(case_id, "resolve", OLGA)
    told = customer_texts(outs)
    assert any("решено" in t for t in told) and any("от 1 до 5" in t for t in told)
    rating_prompt = next(o for o in outs if o.buttons)
    assert [b.payload for b in rating_prompt.buttons] == [f"rate:{case_id}:{n}" for n in range(1, 6)]
    case = await store.get_case(case_id)
    assert case.status is CaseStatus.RESOLVED and case.resolved_at - case.created_at == 690
    assert await store.open_case_of(ANNA) is None
    outs = await desk.handle(msg("5"))  # the rating, typed as a number
    assert any("5 из 5" in t for t in customer_texts(outs))
    assert (await store.get_case(case_id)).rating == 5
    # a second rating of the same case is refused
    outs = await desk.handle(msg(payload=f"rate:{case_id}:1"))
    assert (await store.get_case(case_id)).rating == 5
    types = [e["type"] for e in await store.events()]
    for expected in ("handoff", "customer_message", "first_response", "operator_reply", "status", "resolved", "rated"):
        assert expected in types
    # the next message after resolution is a fresh conversation, and a new handoff gets a new number
    outs = await desk.handle(msg("/operator"))
    assert staff(outs)[0].case_id == case_id + 1


async def test_staff_commands_and_their_errors(desk, store):
    outs = await desk.handle(msg("/operator", lang="en"))
    case_id = staff(outs)[0].case_id
    outs = await desk.operator_command(case_id, "take", OLGA)
    assert "Operator Olga is now working on your case" in customer_texts(outs)[0]
    outs = await desk.operator_command(case_id, "take", Operator("8", "Petr"))
    assert "took it over" in staff(outs)[0].text
    outs = await desk.operator_command(case_id, "escalate", OLGA)
    assert "senior specialist" in customer_texts(outs)[0]
    assert (await store.get_case(case_id)).escalated
    outs = await desk.operator_command(case_id, "escalate", OLGA)
    assert "already escalated" in staff(outs, StaffKind.REPLY)[0].text
    (card,) = await desk.operator_command(case_id, "case", OLGA)
    assert card.kind == StaffKind.REPLY and f"#{case_id}" in card.text and "escalated" in card.text
    await desk.operator_command(case_id, "resolve", OLGA)
    (err,) = await desk.operator_command(case_id, "needinfo", OLGA)
    assert "does not apply" in err.text
    (err,) = await desk.operator_command(case_id, "frobnicate", OLGA)
    assert "Unknown command" in err.text
    (err,) = await desk.operator_command(999, "take", OLGA)
    assert "no case #999" in err.text


async def test_private_note_is_not_relayed(desk, store):
    outs = await desk.handle(msg("/operator"))
    case_id = staff(outs)[0].case_id
    assert await desk.operator_note(case_id, OLGA, "customer seems upset") == []
    log = await store.transcript(case_id)
    assert log[-1]["who"] == "note"


async def test_ban_drops_and_counts_messages(desk, store):
    outs = await desk.handle(msg("/operator"))
    case_id = staff(outs)[0].case_id
    (info,) = await desk.operator_command(case_id, "ban", OLGA)
    assert "banned" in info.text
    assert await desk.handle(msg("spam")) == []
    assert await desk.handle(msg("spam")) == []
    assert await store.dropped(ANNA) == 2
    (info,) = await desk.operator_command(case_id, "unban", OLGA)
    assert "2 message(s) dropped" in info.text
    assert await desk.handle(msg("hello again"))


async def test_status_and_cancel(desk, store):
    (out,) = await desk.handle(msg("/status", lang="en"))
    assert "no cases" in out.text
    (out,) = await desk.handle(msg("/cancel", lang="en"))
    assert "Nothing to cancel" in out.text
    outs = await desk.handle(msg("/operator", lang="en"))
    case_id = staff(outs)[0].case_id
    (out,) = await desk.handle(msg("/status", lang="en"))
    assert f"#{case_id} — accepted" in out.text
    outs = await desk.handle(msg("/cancel", lang="en"))
    assert f"Case #{case_id} is closed" in customer_texts(outs)[0]
    assert staff(outs, StaffKind.STATUS)
    case = await store.get_case(case_id)
    assert case.status is CaseStatus.RESOLVED and case.closed_by == "customer"


async def test_russian_command_aliases_and_unknown_command(desk):
    (out,) = await desk.handle(msg("/frobnicate"))
    assert "/frobnicate" in out.text and "/operator" in out.text
    outs = await desk.handle(msg("/оператор"))
    assert staff(outs, StaffKind.CASE_OPENED)
    # with a case open, text that merely starts with "/" is the customer's message, for the operator
    (relay,) = await desk.handle(msg("/home is full, nothing saves"))
    assert relay.kind == StaffKind.CUSTOMER_MESSAGE and relay.text == "/home is full, nothing saves"


async def test_operator_message_to_a_resolved_case_is_refused_until_reopened(desk, store):
    outs = await desk.handle(msg("/operator"))
    case_id = staff(outs)[0].case_id
    await desk.operator_command(case_id, "resolve", OLGA)
    (refused,) = await desk.operator_message(case_id, OLGA, "one more thing")
    assert refused.audience is Audience.STAFF and "NOT sent" in refused.text and "/reopen" in refused.text
    outs = await desk.operator_command(case_id, "reopen", OLGA)
    assert any("снова открыто" in t for t in customer_texts(outs))
    case = await store.get_case(case_id)
    assert case.status is CaseStatus.IN_PROGRESS and case.resolved_at is None
    assert (await store.open_case_of(ANNA)).id == case_id
    outs = await desk.operator_message(case_id, OLGA, "one more thing")
    assert customer_texts(outs) == ["one more thing"]
    (again,) = await desk.operator_command(case_id, "reopen", OLGA)
    assert "open already" in again.text


async def test_reopen_refused_when_the_customer_has_another_open_case(desk):
    first = staff(await desk.handle(msg("/operator")))[0].case_id
    await desk.operator_command(first, "resolve", OLGA)
    second = staff(await desk.handle(msg("/operator")))[0].case_id
    (refused,) = await desk.operator_command(first, "reopen", OLGA)
    assert f"#{second}" in refused.text


async def test_a_typed_number_does_not_press_a_stale_button(desk, store, clock):
    await desk.handle(msg("Мой холодильник поёт по ночам"))  # offers an operator as button 1
    clock.advance(25 * 3600)
    outs = await desk.handle(msg("1"))
    assert not staff(outs)  # a day later "1" is just text, not the old button
    assert await store.open_case_of(ANNA) is None


async def test_failed_staff_lines_that_the_customer_did_not_send_are_not_reported_to_them(desk):
    outs = await desk.handle(msg("/operator"))
    case_id = staff(outs)[0].case_id
    status = staff(await desk.operator_command(case_id, "take", OLGA), StaffKind.STATUS)[0]
    assert await desk.delivery_failed(status, "Bad Request: chat not found") == []
    card = staff(outs, StaffKind.CASE_OPENED)[0]
    (told,) = await desk.delivery_failed(card, "Bad Request: chat not found")
    assert told.to == ANNA


async def test_asking_for_a_person_in_words(desk):
    outs = await desk.handle(msg("позовите оператора пожалуйста"))
    assert staff(outs, StaffKind.CASE_OPENED)
    outs = await desk.handle(msg("I need a human", user=UserRef("vk", "5")))
    assert staff(outs, StaffKind.CASE_OPENED)


async def test_second_handoff_request_joins_the_open_case(desk):
    outs = await desk.handle(msg("/operator"))
    case_id = staff(outs)[0].case_id
    (out,) = await desk.handle(msg(payload="op:requested"))
    assert f"#{case_id}" in out.text and "уже есть" in out.text


async def test_concurrent_first_messages_make_one_case(desk, store):
    results = await asyncio.gather(*[desk.handle(msg("/operator")) for _ in range(5)])
    opened = [o for outs in results for o in staff(outs, StaffKind.CASE_OPENED)]
    assert len(opened) == 1
    assert await store.last_case_id() == 1


async def test_concurrent_first_messages_from_two_processes(redis_url, redis, prefix, entries, clock):
    other = aioredis.from_url(redis_url, decode_responses=True)
    try:
        desks = [SupportDesk(Store(r, prefix, clock=clock), FaqMatcher(entries), clock=clock) for r in (redis, other)]
        results = await asyncio.gather(*[d.handle(msg("/operator")) for d in desks * 3])
    finally:
        await other.aclose()
    assert len([o for outs in results for o in staff(outs, StaffKind.CASE_OPENED)]) == 1


async def test_duplicate_delivery_is_handled_once(desk):
    event = msg("/operator")
    first = await desk.handle(event)
    assert staff(first, StaffKind.CASE_OPENED)
    assert await desk.handle(event) == []


async def test_state_survives_a_restart(redis_url, prefix, entries, clock):
    first = aioredis.from_url(redis_url, decode_responses=True)
    desk = SupportDesk(Store(first, prefix, clock=clock), FaqMatcher(entries), clock=clock)
    outs = await desk.handle(msg("/operator"))
    case_id = staff(outs)[0].case_id
    await first.aclose()  # the process goes away
    second = aioredis.from_url(redis_url, decode_responses=True)
    try:
        desk = SupportDesk(Store(second, prefix, clock=clock), FaqMatcher(entries), clock=clock)
        outs = await desk.handle(msg("ещё одно сообщение"))
        assert staff(outs, StaffKind.CUSTOMER_MESSAGE)[0].case_id == case_id  # joins the same case
        await desk.operator_command(case_id, "resolve", OLGA)
        outs = await desk.handle(msg("/operator"))
        assert staff(outs)[0].case_id == case_id + 1  # the counter went on
    finally:
        await second.aclose()


async def test_attachment_only_and_empty_messages(desk):
    photo = Attachment("photo", "file-1", "telegram")
    (out,) = await desk.handle(msg("", attachments=(photo,)))
    assert out.buttons[0].payload == "op:attachment"
    outs = await desk.handle(msg(payload="op:attachment"))
    assert "[photo]" in staff(outs)[0].text  # the file is on the card
    # once a case is open, files are relayed with the message
    outs = await desk.handle(msg("вот скрин", attachments=(photo,)))
    assert staff(outs)[0].attachments == (photo,)
    (out,) = await desk.handle(msg("", user=UserRef("vk", "9")))
    assert "Пустое" in out.text


async def test_huge_message_is_matched_on_its_start_and_kept_whole(desk, store):
    huge = "Как сбросить пароль? " + "очень " * 5000
    (out,) = await desk.handle(msg(huge))
    assert out.text  # answered or offered, not an error
    outs = await desk.handle(msg("/operator"))
    case_id = staff(outs)[0].case_id
    await desk.handle(msg(huge))
    assert (await store.transcript(case_id))[-1]["text"] == huge.strip()


async def test_delivery_failures_are_reported_to_the_other_side(desk):
    outs = await desk.handle(msg("/operator"))
    case_id = staff(outs)[0].case_id
    outs = await desk.operator_message(case_id, OLGA, "Ответ")
    reply = next(o for o in outs if o.audience is Audience.CUSTOMER)
    (warn,) = await desk.delivery_failed(reply, "the customer blocked the bot")
    assert warn.audience is Audience.STAFF and "blocked the bot" in warn.text and "Ответ" in warn.text
    relay = staff(await desk.handle(msg("где ответ?")))[0]
    (back,) = await desk.delivery_failed(relay, "staff group unreachable")
    assert back.to == ANNA and "повторите" in back.text


@pytest.mark.parametrize("embedded", [False, True], ids=["redis", "embedded"])
async def test_a_burst_of_customers_waits_for_connections_instead_of_failing(
    redis_url, prefix, entries, clock, embedded
):
    from core.store import REDIS_MAX_CONNECTIONS, connect_redis

    client, is_embedded = await connect_redis(None if embedded else redis_url)
    assert is_embedded is embedded
    try:
        desk = SupportDesk(Store(client, prefix, clock=clock), FaqMatcher(entries), clock=clock)
        burst = REDIS_MAX_CONNECTIONS * 4
        results = await asyncio.gather(
            *[desk.handle(msg("Как сбросить пароль?", user=UserRef("vk", str(n)))) for n in range(burst)]
        )
        assert all(len(outs) == 1 for outs in results)
    finally:
        keys = [k async for k in client.scan_iter(match=prefix + "*", count=1000)]
        if keys:
            await client.delete(*keys)
        await client.aclose()


async def test_odd_numbers_never_crash_the_desk(desk):
    await desk.handle(msg("Мой холодильник поёт по ночам"))  # buttons are offered
    for text in ("²", "٣", "9" * 5000, "0", "99"):
        outs = await desk.handle(msg(text))
        assert outs and all(o.audience is Audience.CUSTOMER for o in outs)  # an answer, not a handoff or a crash


async def test_greetings_and_thanks_get_small_talk_not_an_faq_guess(desk, store):
    (out,) = await desk.handle(msg("Привет!"))
    assert out.text.startswith("Здравствуйте! Напишите") and not out.buttons
    (out,) = await desk.handle(msg("thanks", user=UserRef("vk", "3")))
    assert out.text.startswith("You're welcome")
    assert not [e for e in await store.events() if e["type"].startswith("faq_")]
    # a greeting with a question is a question
    (out,) = await desk.handle(msg("привет, как сбросить пароль?"))
    assert out.buttons[0].payload == "nohelp:reset_password"


async def test_did_not_help_says_so(desk):
    await desk.handle(msg("Сколько идёт доставка?"))
    (offer,) = await desk.handle(msg(payload="nohelp:delivery_time"))
    assert offer.text.startswith("Жаль, что ответ не помог")


async def test_the_rating_is_still_taken_after_another_message(desk, store):
    case_id = staff(await desk.handle(msg("/operator")))[0].case_id
    await desk.operator_command(case_id, "resolve", OLGA)
    await desk.handle(msg("спасибо"))
    await desk.handle(msg("Мой холодильник поёт по ночам"))  # two buttons offered meanwhile
    await desk.handle(msg("4"))  # not one of them: the rating it was asked for
    assert (await store.get_case(case_id)).rating == 4


async def test_bare_slash_emoji_and_common_words(desk, store):
    (out,) = await desk.handle(msg("/"))
    assert "/operator" in out.text
    (out,) = await desk.handle(msg("👍🙏"))
    assert "словами" in out.text
    outs = await desk.handle(msg("сколько человек в команде"))
    assert not staff(outs) and await store.open_case_of(ANNA) is None  # "человек" alone is not a handoff
