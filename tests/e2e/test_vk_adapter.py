"""VkChannel against the local VK API stand-in (real vk-api over HTTP, real Redis, the real intake, desk and outbox).

The staff side is a recording stub here; tests/e2e/test_vk.py goes through the Telegram staff group.
"""

from __future__ import annotations

import asyncio
import contextlib
import json

import pytest

from bots.app import bootstrap
from bots.ports import DeliveryError
from bots.vk import VkChannel, VkOptions, VkSetupError, random_id
from core.messages import Attachment, MessageRef, customer, to_customer
from tests.e2e.adapters import OPERATOR, Harness, core_settings, harness
from tests.fakes.vk_api import FakeVk

PHOTO = b"\xff\xd8\xff\xe0 fake jpeg bytes"


@contextlib.asynccontextmanager
async def running_bot(redis_url: str, prefix: str, *, callback: bool, **options):
    fake = await FakeVk().start()
    env = {"VK_GROUP_TOKEN": fake.token, "VK_GROUP_ID": fake.group_id, "VK_API_URL": fake.url}
    if callback:
        env |= {"VK_CALLBACK_SECRET": "s3cret", "VK_CONFIRMATION_CODE": "abc123"}
    settings = core_settings(redis_url, prefix, **env)
    core = await bootstrap(settings, notice=None)
    options = {"longpoll_wait": 1, **options}
    channel = VkChannel(VkOptions.from_settings(settings, **options), memory=core.store.memory("vk"))
    try:
        async with harness(fake, core, channel, "/webhooks/vk") as bot:
            if not callback:
                await fake.wait_polling()
            yield bot
    finally:
        await fake.stop()


@pytest.fixture
async def make_bot(redis_url, prefix, redis):
    """``await make_bot(callback=False, **VkOptions overrides)`` -> a running bot, stopped after the test."""
    async with contextlib.AsyncExitStack() as stack:

        async def factory(*, callback: bool = False, **options) -> Harness:
            return await stack.enter_async_context(running_bot(redis_url, prefix, callback=callback, **options))

        yield factory


@pytest.fixture
async def bot(make_bot):
    return await make_bot()


@pytest.fixture
async def cbot(make_bot):
    return await make_bot(callback=True)


def test_random_id_is_stable_and_31_bit():
    assert random_id("sb:17") == random_id("sb:17")
    assert random_id("sb:17") != random_id("sb:18")
    assert random_id("sb:17", 1) != random_id("sb:17", 0)
    assert 0 < random_id("x") < 2**31


async def test_faq_answer_over_long_poll_with_callback_keyboard(bot):
    bot.fake.user_writes(501, "Как сбросить пароль?")
    answer = await bot.fake.wait_sent(501)
    assert "Забыли пароль" in answer.text
    assert answer.keyboard["inline"] is True
    assert [b["type"] for b in answer.buttons] == ["callback", "callback"]
    # the real library sent API version 5.199 and our token to the stand-in
    assert all(p["v"] == "5.199" for _, p in bot.fake.calls)


async def test_button_press_answers_message_event_and_hands_off(bot):
    bot.fake.user_writes(502, "Как сбросить пароль?")
    answer = await bot.fake.wait_sent(502)
    bot.fake.press_button(answer, "оператор")
    handoff = await bot.fake.wait_sent(502, lambda m: "создано" in m.text)
    assert "#1" in handoff.text or "1" in handoff.text
    assert bot.fake.event_answers and bot.fake.event_answers[0]["user_id"] == "502"
    card = await bot.staff.wait(lambda o: o.kind == "case_opened")
    assert "VK" in card.text and "Ivan Petrov" in card.text


async def test_text_buttons_when_the_client_has_no_callback_support(bot):
    info = {"button_actions": ["text"], "keyboard": True, "inline_keyboard": False, "lang_id": 0}
    bot.fake.user_writes(503, "Как сбросить пароль?", client_info=info)
    answer = await bot.fake.wait_sent(503)
    assert answer.keyboard["inline"] is False
    assert {b["type"] for b in answer.buttons} == {"text"}
    # pressing a text button sends its label with the payload
    label = answer.buttons[1]["label"]
    bot.fake.user_writes(503, label, payload=json.loads(answer.buttons[1]["payload"])["p"], client_info=info)
    await bot.fake.wait_sent(503, lambda m: "создано" in m.text)


async def test_numbered_lines_when_the_client_has_no_keyboard(bot):
    info = {"button_actions": [], "keyboard": False, "inline_keyboard": False, "lang_id": 0}
    bot.fake.user_writes(504, "Как сбросить пароль?", client_info=info)
    answer = await bot.fake.wait_sent(504)
    assert answer.keyboard is None and "\n2. " in answer.text
    bot.fake.user_writes(504, "2", client_info=info)
    await bot.fake.wait_sent(504, lambda m: "создано" in m.text)


async def test_customer_photo_and_operator_photo_and_document(bot):
    bot.fake.user_writes(505, "оператор")
    await bot.fake.wait_sent(505, lambda m: "создано" in m.text)
    case = await bot.store.open_case_of(customer("vk", 505))
    bot.fake.user_writes(505, "вот скрин", attachments=[bot.fake.photo(PHOTO, 505)])
    relay = await bot.staff.wait(lambda o: o.kind == "customer_message" and o.attachments)
    media = await bot.channel.download(relay.attachments[0])
    assert media.data == PHOTO  # the largest size was picked and fetched
    # an operator's answer with a photo and a document that came from VK (the delivery fetches the bytes)
    doc = Attachment(
        "document",
        bot.fake.add_file(b"%PDF-1.4", "invoice.pdf", "application/pdf"),
        "vk",
        filename="invoice.pdf",
        mime="application/pdf",
    )
    await bot.operator_says(case.id, "Смотрите", (relay.attachments[0], doc))
    sent = await bot.fake.wait_sent(505, lambda m: m.attachments)
    assert sent.text == "Смотрите"
    assert [(a["type"], a["data"]) for a in sent.attachments] == [("photo", PHOTO), ("doc", b"%PDF-1.4")]
    assert sent.attachments[1]["filename"] == "invoice.pdf"


async def test_error_901_is_reported_to_the_operator(bot):
    bot.fake.user_writes(506, "оператор")
    await bot.fake.wait_sent(506, lambda m: "создано" in m.text)
    await bot.fake.wait_sent(506, lambda m: "подробнее" in m.text)  # else the failure below could hit this one
    case = await bot.store.open_case_of(customer("vk", 506))
    bot.fake.fail("messages.send", error_code=901)
    await bot.operator_says(case.id, "Добрый день")
    info = await bot.staff.wait(lambda o: "Not delivered" in o.text)
    assert "has not allowed messages from the community (VK error 901)" in info.text
    assert not [m for m in bot.fake.to(506) if m.text == "Добрый день"]


async def test_500_after_delivery_then_retry_is_delivered_once(bot):
    bot.fake.user_writes(507, "оператор")
    await bot.fake.wait_sent(507, lambda m: "создано" in m.text)
    await bot.fake.wait_sent(507, lambda m: "подробнее" in m.text)  # the questions after the handoff notice
    case = await bot.store.open_case_of(customer("vk", 507))
    bot.fake.fail("messages.send", http_status=500, deliver=True)  # VK delivered, but the answer was a 500
    await bot.operator_says(case.id, "Один раз")
    await bot.fake.wait_sent(507, lambda m: m.text == "Один раз")
    assert await bot.delivery.drain(10)
    sends = [p for name, p in bot.fake.calls if name == "messages.send" and p.get("message") == "Один раз"]
    assert len(sends) == 2 and sends[0]["random_id"] == sends[1]["random_id"]  # retried with the same random_id
    assert [m.text for m in bot.fake.to(507)].count("Один раз") == 1


async def test_a_long_message_retried_after_its_second_part_failed_sends_only_what_is_missing(bot):
    bot.fake.user_writes(512, "оператор")
    await bot.fake.wait_sent(512, lambda m: "создано" in m.text)
    await bot.fake.wait_sent(512, lambda m: "подробнее" in m.text)  # the questions after the handoff notice
    case = await bot.store.open_case_of(customer("vk", 512))
    bot.fake.fail("messages.send", error_code=10, after=1)  # the first part goes out, the second fails once
    text = "\n".join(f"строка {i} " + "x" * 90 for i in range(60))  # about 6000 characters: two parts
    await bot.operator_says(case.id, text)
    await bot.fake.wait_sent(512, lambda m: m.text.endswith("строка 59 " + "x" * 90))
    assert await bot.delivery.drain(10)
    parts = [m.text for m in bot.fake.to(512) if m.text.startswith("строка")]  # (then "in progress")
    assert len(parts) == 2 and "\n".join(parts) == text  # nothing lost, nothing twice
    sends = [p for name, p in bot.fake.calls if name == "messages.send" and p["message"] in parts]
    assert [p["message"] for p in sends] == [parts[0], parts[1], parts[1]]  # part 1 once, part 2 retried
    assert not [o for o in bot.staff.outs if "Not delivered" in o.text]


async def test_rate_error_waits_and_retries(bot):
    bot.fake.fail("messages.send", error_code=6)
    bot.fake.user_writes(508, "Как сбросить пароль?")
    answer = await bot.fake.wait_sent(508)
    assert "Забыли пароль" in answer.text
    assert len([1 for n, _ in bot.fake.calls if n == "messages.send"]) == 2


async def test_long_poll_recovers_from_failed_1_2_3(bot):
    bot.fake.force_failed += [1, 2, 3]
    for _ in range(200):  # the first key, then new ones after failed=2 and failed=3
        if not bot.fake.force_failed and bot.fake.lp_keys_issued == 3:
            break
        await asyncio.sleep(0.05)
    assert not bot.fake.force_failed and bot.fake.lp_keys_issued == 3
    polls = bot.fake.polls
    for _ in range(500):  # polling again with the fresh key
        if bot.fake.polls > polls:
            break
        await asyncio.sleep(0.02)
    bot.fake.user_writes(509, "Как сбросить пароль?")
    await bot.fake.wait_sent(509)


async def test_duplicate_long_poll_message_is_handled_once(bot):
    bot.fake.user_writes(510, "Как сбросить пароль?", message_id=777)
    await bot.fake.wait_sent(510)
    bot.fake.user_writes(510, "Как сбросить пароль?", message_id=777)
    bot.fake.user_writes(510, "Какие часы работы поддержки?")
    await bot.fake.wait_sent(510, lambda m: "24/7" in m.text)
    assert len(bot.fake.to(510)) == 2


async def test_display_name_is_fetched_once(bot):
    bot.fake.user_writes(511, "Как сбросить пароль?")
    bot.fake.user_writes(511, "Какие часы работы поддержки?")
    await bot.fake.wait_sent(511, lambda m: "24/7" in m.text)
    assert len([1 for n, _ in bot.fake.calls if n == "users.get"]) == 1


# ---------------------------------------------------------------------------------------------- Callback API
async def test_callback_confirmation_secret_and_resent_event(cbot):
    status, text = await cbot.fake.post_callback(
        cbot.url, {"type": "confirmation", "group_id": cbot.fake.group_id}, None
    )
    assert (status, text) == (200, "abc123")
    update = cbot.fake.user_writes(520, "Как сбросить пароль?")
    status, _ = await cbot.fake.post_callback(cbot.url, update, "wrong")
    assert status == 403
    status, _ = await cbot.fake.post_callback(cbot.url, update, None)
    assert status == 403
    assert not cbot.fake.to(520)
    assert await cbot.fake.post_callback(cbot.url, update, "s3cret") == (200, "ok")
    assert await cbot.fake.post_callback(cbot.url, update, "s3cret") == (200, "ok")  # VK re-sent it
    await cbot.fake.wait_sent(520)
    assert await cbot.delivery.drain(10)
    assert len(cbot.fake.to(520)) == 1
    # long poll is off in callback mode
    assert not [1 for n, _ in cbot.fake.calls if n == "groups.getLongPollServer"]


async def test_callback_button_press(cbot):
    update = cbot.fake.user_writes(521, "Как сбросить пароль?")
    await cbot.fake.post_callback(cbot.url, update, "s3cret")
    answer = await cbot.fake.wait_sent(521)
    press = cbot.fake.press_button(answer, "оператор")
    assert await cbot.fake.post_callback(cbot.url, press, "s3cret") == (200, "ok")
    await cbot.fake.wait_sent(521, lambda m: "создано" in m.text)


async def test_callback_rejects_malformed_bodies_with_400_not_500(cbot):
    url = cbot.url
    assert (await cbot.fake.post_callback_raw(url, b"{not json"))[0] == 400
    assert (await cbot.fake.post_callback_raw(url, b"[1, 2]"))[0] == 400
    update = cbot.fake.user_writes(522, "Как сбросить пароль?")
    assert (await cbot.fake.post_callback(url, {**update, "group_id": "abc"}, "s3cret"))[0] == 400
    assert (await cbot.fake.post_callback(url, {**update, "group_id": 1}, "s3cret"))[0] == 403
    assert (await cbot.fake.post_callback(url, {**update, "object": ["x"]}, "s3cret"))[0] == 400
    assert (await cbot.fake.post_callback(url, update, 123))[0] == 403  # a secret that is not even a string
    # junk ids inside the object: ignored, not a 500 that VK would re-send for ever
    junk = {**update, "event_id": "junk1", "object": {"message": {"from_id": "x", "peer_id": [], "id": {}}}}
    assert await cbot.fake.post_callback(url, junk, "s3cret") == (200, "ok")
    assert not cbot.fake.to(522)
    assert await cbot.fake.post_callback(url, update, "s3cret") == (200, "ok")
    assert "Забыли пароль" in (await cbot.fake.wait_sent(522)).text


def _failures(caplog) -> list:
    return [r for r in caplog.records if r.name == "bots.vk" and "failed (attempt" in r.getMessage()]


async def test_a_failing_update_is_retried_until_handled_never_dropped(make_bot, caplog):
    bot = await make_bot(retry_delay=0.05, retry_delay_max=0.2)
    name_key = bot.store.keys.mem("vk", "name", 530)
    await bot.store.redis.rpush(name_key, "x")  # Redis answers WRONGTYPE to the name lookup meanwhile
    bot.fake.user_writes(530, "Как сбросить пароль?")
    bot.fake.user_writes(530, "Какие часы работы поддержки?")
    for _ in range(200):
        if len(_failures(caplog)) >= 5:
            break
        await asyncio.sleep(0.05)
    assert len(_failures(caplog)) >= 5  # more than the 3 tries after which it used to be dropped
    assert not bot.fake.to(530)  # and the customer's next message waits for it (order is kept)
    await bot.store.redis.delete(name_key)
    await bot.fake.wait_sent(530, lambda m: "24/7" in m.text)
    assert ["Забыли пароль" in m.text for m in bot.fake.to(530)] == [True, False]


async def test_an_update_that_keeps_failing_is_parked_not_lost_and_intake_goes_on(make_bot):
    bot = await make_bot(retry_delay=0.02, retry_delay_max=0.02, park_after=3)
    name_key = bot.store.keys.mem("vk", "name", 533)
    await bot.store.redis.rpush(name_key, "x")  # every attempt fails
    bot.fake.user_writes(533, "Как сбросить пароль?")
    memory = bot.store.memory("vk")
    for _ in range(200):
        if await memory.items("parked"):
            break
        await asyncio.sleep(0.02)
    (raw,) = await memory.items("parked")
    assert json.loads(raw)["object"]["message"]["text"] == "Как сбросить пароль?"  # kept whole
    bot.fake.user_writes(534, "Какие часы работы поддержки?")  # the next batch is not held up
    await bot.fake.wait_sent(534, lambda m: "24/7" in m.text)


async def test_other_customers_are_handled_while_one_customers_update_is_stuck(make_bot):
    bot = await make_bot(retry_delay=0.5, retry_delay_max=0.5)
    name_key = bot.store.keys.mem("vk", "name", 531)
    await bot.store.redis.rpush(name_key, "x")  # 531's update fails until this is gone
    bot.fake.user_writes(531, "Как сбросить пароль?")
    bot.fake.user_writes(532, "Как сбросить пароль?")  # the same long-poll batch
    await bot.fake.wait_sent(532, within=1.5)
    assert not bot.fake.to(531)
    await bot.store.redis.delete(name_key)
    await bot.fake.wait_sent(531)


async def test_a_file_over_50_mb_is_refused_before_it_is_read(bot):
    big = 60 * 2**20
    with pytest.raises(DeliveryError, match=r"file too large \(60 MB") as refused:
        await bot.channel.download(Attachment("document", bot.fake.add_big_file(big), "vk", filename="big.bin"))
    assert refused.value.permanent
    with pytest.raises(DeliveryError, match=r"file too large \(over 50 MB") as refused:  # no Content-Length
        await bot.channel.download(Attachment("document", bot.fake.add_big_file(big, content_length=False), "vk"))
    assert refused.value.permanent
    # a document VK told the size of is not even requested
    requested = len(bot.fake.downloads)
    with pytest.raises(DeliveryError, match=r"file too large \(60 MB"):
        await bot.channel.download(Attachment("document", bot.fake.add_big_file(big), "vk", size=big))
    assert len(bot.fake.downloads) == requested
    small = await bot.channel.download(Attachment("document", bot.fake.add_big_file(2**20, content_length=False), "vk"))
    assert len(small.data) == 2**20


async def test_an_operator_message_vk_cannot_show_is_reported_not_marked_sent(bot):
    bot.fake.user_writes(533, "оператор")
    await bot.fake.wait_sent(533, lambda m: "создано" in m.text)
    await bot.fake.wait_sent(533, lambda m: "подробнее" in m.text)  # the questions after the handoff notice
    case = await bot.store.open_case_of(customer("vk", 533))
    location = MessageRef("telegram", "-1001000000001", "77")  # a location sent in the topic: no text, no file
    # what the desk queues for it (the staff front end hands such a message over as the native original only)
    relay = to_customer(case.customer, "", copy_from=location, case_id=case.id, meta={"operator": OPERATOR.name})
    await bot.core.outbox.enqueue([relay])
    info = await bot.staff.wait(lambda o: "Not delivered" in o.text)
    assert "VK cannot show this kind of message" in info.text
    assert "подробнее" in [m.text for m in bot.fake.to(533)][-1]  # nothing went out after the handoff's questions


async def test_a_refused_token_stops_long_poll_with_a_clear_error(store):
    fake = await FakeVk().start()
    try:
        for token, code, words in [
            ("revoked-token", None, "VK_GROUP_TOKEN was refused (VK error 5"),
            (fake.token, 27, "VK_GROUP_TOKEN was refused (VK error 27"),
            (fake.token, 15, "VK error 15"),
        ]:
            options = VkOptions(group_token=token, group_id=fake.group_id, api_url=fake.url)
            channel = VkChannel(options, memory=store.memory("vk"))
            if code:
                fake.fail("groups.getLongPollServer", error_code=code)
            try:
                with pytest.raises(VkSetupError) as stopped:
                    await asyncio.wait_for(channel.run(None), 5)  # type: ignore[arg-type]
                assert words in str(stopped.value)
            finally:
                await channel.close()
    finally:
        await fake.stop()


async def test_long_poll_errors_are_logged_without_the_key(bot, caplog):
    key = bot.fake.lp_key
    bot.fake.lp_http_status.append(500)
    for _ in range(200):
        if any("VK long poll failed" in r.getMessage() for r in caplog.records):
            break
        await asyncio.sleep(0.05)
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "bots.vk")
    assert "VK long poll failed (ClientResponseError, HTTP 500)" in logged
    assert key not in logged and "key=" not in logged
    bot.fake.user_writes(534, "Как сбросить пароль?")  # and it polls on
    await bot.fake.wait_sent(534)


async def test_random_id_salt_keeps_new_messages_after_redis_was_wiped(bot):
    user = customer("vk", 535)
    before, after = to_customer(user, "до очистки"), to_customer(user, "после очистки")
    await bot.channel.send(before, bot.send_context(before, "sb:1"))
    memory = bot.store.memory("vk")
    assert await memory.get("salt", "random_id")
    # Redis wiped: the outbox counter starts again, so delivery keys repeat; so does the salt's absence
    await memory.delete("salt", "random_id")
    await bot.channel.send(after, bot.send_context(after, "sb:1"))
    assert [m.text for m in bot.fake.to(535)] == ["до очистки", "после очистки"]
    await bot.channel.send(after, bot.send_context(after, "sb:1"))  # a retry: VK drops it
    assert len(bot.fake.to(535)) == 2
