"""Privacy through the desk: masking of what customers write, ``/forget``, and the flood limit (FLOOD_LIMIT)."""

from __future__ import annotations

import json

import pytest

from core.cases import CaseStatus
from core.desk.privacy import FORGET_NO, FORGET_WINDOW, FORGET_YES
from core.messages import Attachment, MessageRef, Operator, StaffKind, UserRef
from tests.harness import Conversation, open_case

ANNA = UserRef("telegram", "42")
OLGA = Operator("7", "Olga")
CARD = "4111 1111 1111 1111"
staff = Conversation.staff_msgs
customer_texts = Conversation.customer_texts
DELETED = "[deleted at the customer's request]"


@pytest.fixture
async def conv(conversation):
    return await conversation(user=ANNA, channels=("console", "telegram"), operator=OLGA)


async def everything(redis, prefix: str) -> list[str]:
    """Every key under the test's prefix with each thing in it, one line each: ``key: value``."""
    lines: list[str] = []
    async for key in redis.scan_iter(match=prefix + "*", count=500):
        kind = await redis.type(key)
        if kind == "string":
            values = [await redis.get(key)]
        elif kind == "hash":
            values = [f"{k}={v}" for k, v in (await redis.hgetall(key)).items()]
        elif kind == "list":
            values = await redis.lrange(key, 0, -1)
        elif kind == "set":
            values = list(await redis.smembers(key))
        elif kind == "zset":
            values = await redis.zrange(key, 0, -1)
        else:  # the event stream
            values = [json.dumps(fields, ensure_ascii=False) for _, fields in await redis.xrange(key)]
        lines += [f"{key}: {v}" for v in values] or [key]
    return lines


def holding(lines: list[str], needle: str) -> list[str]:
    return [line for line in lines if needle in line]


# ---------------------------------------------------------------------------------------------- masking
async def test_secrets_never_reach_the_staff_group_the_history_or_the_event_log(conv, redis, prefix):
    outs = await conv.say("мой пароль qwerty123 не подходит, карта 4111 1111 1111 1111")
    notice = [o for o in conv.customer_msgs(outs) if "скрыл" in o.text]
    assert len(notice) == 1 and "Я скрыл пароль и номер карты" in notice[0].text and "никогда" in notice[0].text
    outs = await conv.say("/operator")
    card = staff(outs, StaffKind.CASE_OPENED)[0]
    assert "мой пароль [скрыто] не подходит, карта •••• 1111" in card.text
    case_id = card.case_id
    origin = MessageRef("telegram", "42", "77")
    outs = await conv.say("код из смс 4821, OTP 1234", origin=origin)
    (relay,) = staff(outs, StaffKind.CUSTOMER_MESSAGE)
    assert relay.text == "код из смс [скрыто], OTP [скрыто]"
    assert relay.copy_from is None, "a masked message must not be copied as the original"
    assert not conv.customer_msgs(outs), "told once per customer, not for every message"
    await conv.edit("пароль: hunter2")
    await conv.operator("Проверяю", case_id)
    kept = await everything(redis, prefix)
    for secret in ("qwerty123", "4111 1111", "4111111111111111", "4821", "1234", "hunter2"):
        assert not holding(kept, secret)
    log = [e["text"] for e in await conv.store.transcript(case_id)]
    assert "код из смс [скрыто], OTP [скрыто]" in log and "✏️ edited: пароль: [скрыто]" in log
    masked = await conv.events("masked")
    assert [e["kinds"] for e in masked] == ["password,card", "code", "password"]
    assert all("customer" not in e for e in masked)


async def test_a_message_with_nothing_to_hide_is_still_copied(conv):
    case_id = await open_case(conv)
    origin = MessageRef("telegram", "42", "78")
    outs = await conv.say("заказ AB-12345-XYZ, звоните +7 900 123-45-67", origin=origin)
    (relay,) = staff(outs, StaffKind.CUSTOMER_MESSAGE)
    assert relay.copy_from == origin and relay.case_id == case_id
    assert relay.text == "заказ AB-12345-XYZ, звоните +7 900 123-45-67"
    assert not conv.customer_msgs(outs)


async def test_a_caption_is_masked_and_the_file_still_relayed(conv):
    await open_case(conv)
    photo = Attachment("photo", "file-1", "telegram", "card.jpg")
    origin = MessageRef("telegram", "42", "79")
    outs = await conv.say(f"вот карта {CARD}", attachments=(photo,), origin=origin)
    (relay,) = staff(outs, StaffKind.CUSTOMER_MESSAGE)
    assert relay.text == "вот карта •••• 1111" and relay.attachments == (photo,) and relay.copy_from is None
    (notice,) = conv.customer_msgs(outs)
    assert "номер карты" in notice.text


async def test_the_notice_is_in_the_customers_language_and_once_per_customer(conv):
    (answer, notice) = await conv.say("my password is hunter2, what now?", lang="en")
    assert "Forgot password" in answer.text  # the FAQ still answers the masked question
    assert "hidden a password" in notice.text and "Support never needs" in notice.text
    outs = await conv.say("password: hunter3")
    assert not [o for o in outs if "hidden" in o.text]
    other = await conv.say("пароль: qwerty", user="43")
    assert any("Я скрыл пароль" in o.text for o in other)


# ---------------------------------------------------------------------------------------------- /forget
async def test_forget_deletes_the_customer_and_the_texts_of_their_cases(conversation, redis, prefix):
    conv = await conversation(user=ANNA, channels=("console", "telegram"), REOPEN_DAYS="0")  # two cases, not one
    first = await open_case(conv)
    passport = Attachment("photo", "f1", "telegram", "passport.jpg")
    await conv.say("Меня зовут Анна Петрова, живу на Ленина 5", attachments=(passport,))
    await conv.operator("Анна, проверяю ваш заказ", first)
    await conv.button(first, "resolve")
    await conv.press(f"rate:{first}:2")
    await conv.say("Всё плохо, Анна Петрова недовольна")  # the rating's comment
    second = await open_case(conv)
    await conv.say("Снова я, Анна, Ленина 5")
    await conv.operator("!она звонила", second)

    (ask,) = await conv.say("/forget")
    assert "Удалить ваши данные?" in ask.text
    assert [b.payload for b in ask.buttons] == [FORGET_YES, FORGET_NO]
    outs = await conv.press(FORGET_YES)
    assert customer_texts(outs) == ["Готово: ваши данные удалены. Если напишете снова, начнём с чистого листа."]
    (note,) = staff(outs)
    assert note.case_id == second and note.kind == StaffKind.STATUS and "/forget" in note.text
    assert "🚫" in note.meta["title"] and "Anna" not in note.meta["title"]

    store = conv.store
    keys = store.keys
    for key in (keys.user(ANNA), keys.user_recent(ANNA), keys.user_cases(ANNA), keys.open(ANNA)):
        assert not await redis.exists(key), key
    for case_id in (first, second):
        case = await store.get_case(case_id)
        assert case.customer_name == "(data deleted)" and case.customer_handle == "" and "comment" not in case.extra
        for entry in await store.transcript(case_id):
            if entry["who"] != "system":
                assert entry["text"] in (DELETED, ""), entry
            assert all(f["name"] is None for f in entry["files"])
    assert (await store.get_case(second)).status is CaseStatus.CANCELLED
    assert (await store.get_case(first)).rating == 2  # the figures stay
    assert second not in await store.open_case_ids()
    kept = await everything(redis, prefix)
    for personal in ("Анна", "Ленина", "passport.jpg", "звонила", "проверяю"):
        assert not holding(kept, personal)
    (forgotten,) = await conv.events("forgotten")
    assert forgotten["cases"] == "2" and "customer" not in forgotten

    outs = await conv.say("Здравствуйте")  # a fresh start
    assert "Здравствуйте" in customer_texts(outs)[0]
    assert len(await conv.events("conversation_started")) == 2


@pytest.mark.parametrize("answer", ["да", "Yes", "1", "Да, удалить"])
async def test_forget_is_confirmed_by_typing(conv, redis, answer):
    await conv.say("Вопрос про заказ")
    await conv.say("/forget")
    outs = await conv.say(answer)
    assert "данные удалены" in customer_texts(outs)[0]
    assert not await redis.exists(conv.store.keys.user(ANNA))


@pytest.mark.parametrize("answer", ["/отмена", "/cancel", "нет", "Не удалять"])
async def test_forget_can_be_cancelled_and_the_open_case_stays(conv, answer):
    case_id = await open_case(conv)
    await conv.say("/forget")
    outs = await conv.say(answer)
    assert customer_texts(outs) == ["Хорошо, ничего не удалено."] and not staff(outs)
    assert (await conv.store.get_case(case_id)).is_open
    outs = await conv.say("да")  # the question is gone: now a message like any other
    assert [o.text for o in staff(outs, StaffKind.CUSTOMER_MESSAGE)] == ["да"]


async def test_another_message_drops_the_question_and_late_answers_delete_nothing(conv, clock, redis):
    case_id = await open_case(conv)
    await conv.say("/forget")
    outs = await conv.say("Вообще-то у меня вопрос")
    assert [o.text for o in staff(outs, StaffKind.CUSTOMER_MESSAGE)] == ["Вообще-то у меня вопрос"]
    outs = await conv.say("да")
    assert [o.text for o in staff(outs, StaffKind.CUSTOMER_MESSAGE)] == ["да"]
    await conv.say("/forget")
    clock.advance(FORGET_WINDOW + 1)
    outs = await conv.press(FORGET_YES)
    assert "неактуален" in customer_texts(outs)[0]
    assert (await conv.store.get_case(case_id)).is_open and await redis.exists(conv.store.keys.user(ANNA))


async def test_forget_without_any_case(conv, redis):
    await conv.say("Как сбросить пароль?")
    await conv.say("/forget")
    outs = await conv.say("yes")
    assert customer_texts(outs) == ["Готово: ваши данные удалены. Если напишете снова, начнём с чистого листа."]
    assert not await redis.exists(conv.store.keys.user_recent(ANNA))


# ---------------------------------------------------------------------------------------------- flood
@pytest.fixture
async def limited(conversation):
    return await conversation(user=ANNA, channels=("console", "telegram"), operator=OLGA, FLOOD_LIMIT="3")


async def test_past_the_limit_one_notice_and_the_rest_of_the_minute_merged_for_the_operator(limited, clock):
    conv = limited
    case_id = await open_case(conv)
    outs = await conv.send(*(conv.inbound(f"сообщение {i}") for i in range(1, 8)))
    notices = [t for t in customer_texts(outs) if "больше 3 сообщений" in t]
    assert len(notices) == 1 and "одним" in notices[0]
    relays = staff(outs, StaffKind.CUSTOMER_MESSAGE)
    # /operator was the first message of the minute: "сообщение 1" and "2" go as they are, the rest as one
    assert [r.text for r in relays] == ["сообщение 1", "сообщение 2", "\n".join(f"сообщение {i}" for i in range(3, 8))]
    assert relays[-1].meta["flood"] and relays[-1].meta["merged"] == 5
    log = [e["text"] for e in await conv.store.transcript(case_id) if e["who"] == "customer"]
    assert log[-7:] == [f"сообщение {i}" for i in range(1, 8)], "never dropped"
    (flood,) = await conv.events("flood")
    assert flood["limit"] == "3" and "customer" not in flood

    clock.advance(60)  # a new minute: counted afresh
    outs = await conv.say("сообщение 8")
    (relay,) = staff(outs, StaffKind.CUSTOMER_MESSAGE)
    assert relay.text == "сообщение 8" and "flood" not in relay.meta and not conv.customer_msgs(outs)


async def test_without_a_case_messages_past_the_limit_are_kept_but_not_answered(limited):
    conv = limited
    for question in ("Как сбросить пароль?", "Сколько идёт доставка?", "Какие способы оплаты есть?"):
        (answer,) = await conv.say(question)
        assert answer.buttons
    outs = await conv.say("Как вернуть деньги за заказ?")
    assert customer_texts(outs) == [
        "Вы отправили больше 3 сообщений за минуту. Пожалуйста, пишите реже: до конца минуты я не отвечаю на "
        "каждое сообщение, но все их сохраняю. Связаться с оператором: /operator."
    ]
    assert await conv.say("И ещё вопрос про возврат") == []
    outs = await conv.say("/operator")  # commands still work
    card = staff(outs, StaffKind.CASE_OPENED)[0]
    assert "Как вернуть деньги за заказ?" in card.text and "И ещё вопрос про возврат" in card.text


async def test_button_presses_do_not_count(limited):
    conv = limited
    await conv.say("Как сбросить пароль?")
    for _ in range(5):
        await conv.press("faq:reset_password")
    outs = await conv.say("Сколько идёт доставка?")
    assert "Доставка занимает" in customer_texts(outs)[0]
