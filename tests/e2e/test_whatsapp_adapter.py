"""WhatsAppChannel against the local Graph API stand-in, over HTTP, with real Redis, the real intake, desk and outbox.

The staff side is a recording stub here; tests/e2e/test_whatsapp.py goes through the Telegram staff group.
"""

from __future__ import annotations

import contextlib
import json
import time

import pytest
from aiohttp import ClientSession

from bots.app import bootstrap
from bots.ports import DeliveryError, Media
from bots.whatsapp import WINDOW, WhatsAppChannel, WhatsAppOptions, signature_ok
from core.messages import Attachment, Button, MessageRef, customer, to_customer
from tests.e2e.adapters import OPERATOR, Harness, core_settings, harness
from tests.fakes.graph_api import FakeGraph

PHOTO = b"\x89PNG fake png bytes"
WA = "79161234567"


class LaterClock:
    """``time.time``, or ``shift`` seconds later once a test moves it (to close the 24-hour window)."""

    def __init__(self):
        self.shift = 0.0

    def __call__(self) -> float:
        return time.time() + self.shift


class Files:
    """Another channel's files, as the outbox's media resolver fetches them (an operator's Telegram photo)."""

    def __init__(self):
        self.fetched: list[Attachment] = []

    async def download(self, att: Attachment) -> Media:
        self.fetched.append(att)
        return Media(b"telegram photo", "photo.jpg", "image/jpeg")


class Bot(Harness):
    clock: LaterClock  # the channel's clock
    files: Files  # the "telegram" channel the outbox fetches operators' files from

    async def open_case(self, wa_id=WA):
        await self.fake.customer_writes(wa_id, "оператор")
        await self.fake.wait_sent(wa_id, lambda m: "создано" in json.dumps(m, ensure_ascii=False))
        # and the questions that follow the handoff notice (core.desk.requests): nothing is left to send
        await self.fake.wait_sent(wa_id, lambda m: "подробнее" in json.dumps(m, ensure_ascii=False))
        return await self.store.open_case_of(customer("whatsapp", wa_id))


@contextlib.asynccontextmanager
async def running_bot(redis_url, prefix, **extra):
    fake = await FakeGraph().start()
    env = {
        "WHATSAPP_TOKEN": fake.token,
        "WHATSAPP_PHONE_NUMBER_ID": fake.phone_number_id,
        "WHATSAPP_APP_SECRET": fake.app_secret,
        "WHATSAPP_VERIFY_TOKEN": "verify-me",
        "WHATSAPP_API_URL": fake.url,
        **extra,
    }
    settings = core_settings(redis_url, prefix, **env)
    core = await bootstrap(settings, notice=None)
    clock, files = LaterClock(), Files()
    options = WhatsAppOptions.from_settings(settings, clock=clock)
    channel = WhatsAppChannel(options, memory=core.store.memory("whatsapp"))
    try:
        async with harness(fake, core, channel, "/webhooks/whatsapp", others={"telegram": files}) as h:
            fake.webhook_url = h.url
            bot = Bot(h.fake, h.channel, h.core, h.delivery, h.staff, h.url)
            bot.clock, bot.files = clock, files
            yield bot
    finally:
        await fake.stop()


@pytest.fixture
async def bot(redis_url, prefix, redis):
    async with running_bot(redis_url, prefix) as b:
        yield b


@pytest.fixture
async def tbot(redis_url, prefix, redis):
    async with running_bot(redis_url, prefix, WHATSAPP_REOPEN_TEMPLATE="case_update:ru") as b:
        yield b


def test_signature_check():
    body = b'{"a": 1}'
    good = FakeGraph(app_secret="s").sign(body)
    assert signature_ok(body, good, "s")
    assert not signature_ok(body + b" ", good, "s")
    assert not signature_ok(body, good, "other")
    assert not signature_ok(body, None, "s")
    assert not signature_ok(body, good, None)


async def test_verification_handshake(bot):
    async with ClientSession() as s:
        ok = {"hub.mode": "subscribe", "hub.verify_token": "verify-me", "hub.challenge": "1158201444"}
        async with s.get(bot.fake.webhook_url, params=ok) as resp:
            assert (resp.status, await resp.text()) == (200, "1158201444")
        async with s.get(bot.fake.webhook_url, params={**ok, "hub.verify_token": "nope"}) as resp:
            assert resp.status == 403


async def test_faq_answer_with_reply_buttons(bot):
    await bot.fake.customer_writes(WA, "Как сбросить пароль?")
    answer = await bot.fake.wait_sent(WA)
    assert answer["type"] == "interactive" and answer["interactive"]["type"] == "button"
    assert "Забыли пароль" in answer["interactive"]["body"]["text"]
    await bot.fake.customer_presses(WA, answer, "оператор")
    handoff = await bot.fake.wait_sent(WA, lambda m: m["type"] == "text" and "создано" in m["text"]["body"])
    assert "1" in handoff["text"]["body"]
    card = await bot.staff.wait(lambda o: o.kind == "case_opened")
    assert "WhatsApp" in card.text and "Maria" in card.text and "+79161234567" in card.text
    window = await bot.staff.wait(lambda o: "24 hours" in o.text)
    assert "free-form replies are possible until" in window.text


async def test_more_than_three_or_long_buttons_become_a_list(bot):
    buttons = tuple(Button("⭐" * n, f"rate:1:{n}") for n in range(1, 6))
    await bot.fake.customer_writes(WA, "Какие часы работы поддержки?")
    await bot.fake.wait_sent(WA)
    await bot.core.outbox.enqueue([to_customer(customer("whatsapp", WA), "Оцените", buttons=buttons, lang="ru")])
    listed = await bot.fake.wait_sent(WA, lambda m: m.get("interactive", {}).get("type") == "list")
    rows = listed["interactive"]["action"]["sections"][0]["rows"]
    assert [r["id"] for r in rows] == [f"rate:1:{n}" for n in range(1, 6)]
    assert listed["interactive"]["action"]["button"] == "Выбрать"
    long = (Button("A very long label that does not fit in twenty", "x:1"), Button("Short", "x:2"))
    await bot.core.outbox.enqueue([to_customer(customer("whatsapp", WA), "Choose", buttons=long, lang="en")])
    listed = await bot.fake.wait_sent(WA, lambda m: "Choose" in json.dumps(m))
    row = listed["interactive"]["action"]["sections"][0]["rows"][0]
    assert len(row["title"]) <= 24 and row["description"].startswith("A very long label")
    eleven = tuple(Button(f"Option {i}", f"o:{i}") for i in range(11))
    await bot.core.outbox.enqueue([to_customer(customer("whatsapp", WA), "Pick", buttons=eleven, lang="en")])
    text = await bot.fake.wait_sent(WA, lambda m: m["type"] == "text" and m["text"]["body"].startswith("Pick"))
    assert "\n11. Option 10" in text["text"]["body"]


async def test_bad_or_missing_signature_is_rejected_before_parsing(bot):
    payload = bot.fake.payload(WA, "Maria", {"type": "text", "text": {"body": "Как сбросить пароль?"}})
    assert (await bot.fake.post_webhook(payload, signature=None))[0] == 403
    assert (await bot.fake.post_webhook(payload, signature="sha256=" + "0" * 64))[0] == 403
    assert (await bot.fake.post_webhook(b"not json at all", signature="sha256=00"))[0] == 403
    assert (await bot.fake.post_webhook(payload, signature=bot.fake.sign(b"other body")))[0] == 403
    assert await bot.delivery.drain(5)  # a refused call was not handed over: nothing was queued
    assert not bot.fake.sent and not await bot.store.get_user(customer("whatsapp", WA))
    assert (await bot.fake.post_webhook(payload))[0] == 200
    await bot.fake.wait_sent(WA)


async def test_the_same_message_delivered_twice_is_handled_once(bot):
    payload = bot.fake.payload(WA, "Maria", {"type": "text", "text": {"body": "Как сбросить пароль?"}})
    assert (await bot.fake.post_webhook(payload))[0] == 200
    assert (await bot.fake.post_webhook(payload))[0] == 200
    await bot.fake.wait_sent(WA)
    assert await bot.delivery.drain(10)
    assert len(bot.fake.to(WA)) == 1


async def test_customer_media_reaches_the_topic_and_operator_media_the_customer(bot):
    case = await bot.open_case()
    await bot.fake.customer_sends_media(WA, "image", PHOTO, "image/png", caption="скрин")
    await bot.fake.customer_sends_media(WA, "document", b"%PDF", "application/pdf", filename="act.pdf")
    await bot.fake.customer_sends_media(WA, "audio", b"OggS", "audio/ogg")
    relayed = []
    for kind in ("photo", "document", "audio"):
        out = await bot.staff.wait(
            lambda o, k=kind: o.kind == "customer_message" and o.attachments and o.attachments[0].kind == k
        )
        relayed.append(out.attachments[0])
    assert (await bot.channel.download(relayed[0])).data == PHOTO
    assert (await bot.channel.download(relayed[1])).filename == "act.pdf"
    # the operator sends the photo and the document back (as a Telegram photo would be: bytes via the resolver)
    await bot.operator_says(case.id, "Получили", relayed[:2])
    image = await bot.fake.wait_sent(WA, lambda m: m["type"] == "image")
    doc = await bot.fake.wait_sent(WA, lambda m: m["type"] == "document")
    assert bot.fake.media_bytes(image) == PHOTO and bot.fake.media_bytes(doc) == b"%PDF"
    assert doc["document"]["filename"] == "act.pdf"
    assert any(m["type"] == "text" and m["text"]["body"] == "Получили" for m in bot.fake.to(WA))


async def test_media_from_another_channel_goes_through_the_resolver(bot):
    case = await bot.open_case()
    await bot.operator_says(case.id, "", [Attachment("photo", "tg-file-id", "telegram")])
    image = await bot.fake.wait_sent(WA, lambda m: m["type"] == "image")
    assert bot.fake.media_bytes(image) == b"telegram photo" and bot.files.fetched[0].ref == "tg-file-id"


async def test_closed_window_without_template_is_reported(bot):
    case = await bot.open_case()
    bot.clock.shift = WINDOW + 60
    await bot.operator_says(case.id, "Ответ спустя сутки")
    info = await bot.staff.wait(lambda o: "Not delivered" in o.text)
    assert "24-hour window closed at" in info.text and "Ответ спустя сутки" in info.text
    assert not any("спустя" in json.dumps(m, ensure_ascii=False) for m in bot.fake.to(WA))


async def test_closed_window_with_template_sends_the_template(tbot):
    case = await tbot.open_case()
    tbot.clock.shift = WINDOW + 60
    await tbot.operator_says(case.id, "Ответ\nспустя сутки")
    sent = await tbot.fake.wait_sent(WA, lambda m: m["type"] == "template")
    assert sent["template"]["name"] == "case_update" and sent["template"]["language"]["code"] == "ru"
    assert sent["template"]["components"][0]["parameters"][0]["text"] == "Ответ · спустя сутки"


async def test_re_engagement_error_from_the_api_uses_the_template(tbot):
    case = await tbot.open_case()
    tbot.fake.window_closed.add(WA)  # our clock says open, WhatsApp says closed (131047)
    await tbot.operator_says(case.id, "Ответ")
    sent = await tbot.fake.wait_sent(WA, lambda m: m["type"] == "template")
    assert sent["template"]["components"][0]["parameters"][0]["text"] == "Ответ"


async def test_500_then_200_is_delivered_once(bot):
    case = await bot.open_case()
    bot.fake.fail(500, 1, "An unknown error has occurred.")
    await bot.operator_says(case.id, "Один раз")
    await bot.fake.wait_sent(WA, lambda m: m["type"] == "text" and m["text"]["body"] == "Один раз")
    assert await bot.delivery.drain(10)
    assert [m.get("text", {}).get("body") for m in bot.fake.to(WA)].count("Один раз") == 1
    assert not [o for o in bot.staff.outs if "Not delivered" in o.text]


async def test_failed_status_is_reported_once(bot):
    case = await bot.open_case()
    await bot.operator_says(case.id, "Вам письмо")
    sent = await bot.fake.wait_sent(WA, lambda m: m.get("text", {}).get("body") == "Вам письмо")
    await bot.fake.status(sent["id"], WA, "delivered")
    await bot.fake.status(sent["id"], WA, "failed", 131026, "Message undeliverable.")
    await bot.fake.status(sent["id"], WA, "failed", 131026, "Message undeliverable.")
    info = await bot.staff.wait(lambda o: "Not delivered" in o.text)
    assert "undeliverable" in info.text and "Вам письмо" in info.text
    assert await bot.delivery.drain(10)
    assert len([o for o in bot.staff.outs if "Not delivered" in o.text]) == 1


async def test_rating_through_a_list(bot):
    case = await bot.open_case()
    await bot.operator_says(case.id, "/resolve")
    rating = await bot.fake.wait_sent(WA, lambda m: m.get("interactive", {}).get("type") == "list")
    await bot.fake.customer_presses(WA, rating, "⭐⭐⭐⭐⭐")
    await bot.staff.wait(lambda o: "rated the help 5/5" in o.text)
    assert (await bot.store.get_case(case.id)).rating == 5


async def test_media_over_50_mb_is_refused_before_it_is_read(bot):
    big = 60 * 2**20

    def downloads():
        return [r for r in bot.fake.requests if r[0] == "download"]

    # the size the media URL answer tells: not even downloaded
    with pytest.raises(DeliveryError, match=r"file too large \(60 MB") as refused:
        await bot.channel.download(Attachment("video", bot.fake.add_big_media(big), "whatsapp"))
    assert refused.value.permanent and not downloads()
    # no file_size: the Content-Length; neither: what arrives
    with pytest.raises(DeliveryError, match=r"file too large \(60 MB"):
        await bot.channel.download(Attachment("video", bot.fake.add_big_media(big, file_size=False), "whatsapp"))
    media_id = bot.fake.add_big_media(big, file_size=False, content_length=False)
    with pytest.raises(DeliveryError, match=r"file too large \(over 50 MB") as refused:
        await bot.channel.download(Attachment("video", media_id, "whatsapp"))
    assert refused.value.permanent
    small = bot.fake.add_big_media(2**20, file_size=False, content_length=False)
    assert len((await bot.channel.download(Attachment("video", small, "whatsapp"))).data) == 2**20


async def test_an_operator_message_whatsapp_cannot_show_is_reported_not_sent_empty(bot):
    case = await bot.open_case()
    sent = len(bot.fake.to(WA))
    location = MessageRef("telegram", "-1001000000001", "77")  # a location sent in the topic: no text, no file
    # what the desk queues for it (the staff front end hands such a message over as the native original only)
    relay = to_customer(case.customer, "", copy_from=location, case_id=case.id, meta={"operator": OPERATOR.name})
    await bot.core.outbox.enqueue([relay])
    info = await bot.staff.wait(lambda o: "Not delivered" in o.text)
    assert "WhatsApp cannot show this kind of message" in info.text
    assert len(bot.fake.to(WA)) == sent


UNSUPPORTED = {
    "type": "unsupported",
    "errors": [
        {
            "code": 131051,
            "title": "Message type unknown",
            "message": "Message type unknown",
            "error_data": {"details": "Message type is currently not supported."},
        }
    ],
}


async def test_an_unsupported_message_gets_one_short_reply(bot):
    payload = bot.fake.payload(WA, "Maria", UNSUPPORTED)
    assert (await bot.fake.post_webhook(payload))[0] == 200
    assert (await bot.fake.post_webhook(payload))[0] == 200  # re-delivered
    assert (await bot.fake.post_webhook(bot.fake.payload(WA, "Maria", UNSUPPORTED)))[0] == 200  # and another
    reply = await bot.fake.wait_sent(WA)
    assert reply["text"]["body"] == "Такой тип сообщения не поддерживается. Пожалуйста, отправьте текст или фото."
    assert await bot.delivery.drain(10)
    assert len(bot.fake.to(WA)) == 1  # once, and no FAQ answer to "[unsupported]"


async def test_an_unsupported_message_in_an_open_case_reaches_the_operator_too(bot):
    other = "79160000002"
    await bot.open_case(other)
    await bot.fake.post_webhook(bot.fake.payload(other, "Maria", UNSUPPORTED))
    await bot.staff.wait(lambda o: o.kind == "customer_message" and "[unsupported]" in o.text)
    await bot.fake.wait_sent(other, lambda m: m["type"] == "text" and "не поддерживается" in m["text"]["body"])


def at(payload: dict, ts: float) -> dict:
    """The payload's message, as sent at ``ts``."""
    payload["entry"][0]["changes"][0]["value"]["messages"][0]["timestamp"] = str(int(ts))
    return payload


async def test_the_window_note_is_shown_once_and_again_when_the_customer_writes_after_it_closed(bot):
    await bot.open_case()
    first = await bot.staff.wait(lambda o: "free-form replies are possible until" in o.text)
    await bot.fake.customer_writes(WA, "ещё вопрос")
    await bot.staff.wait(lambda o: o.kind == "customer_message" and o.text == "ещё вопрос")
    later = time.time() + WINDOW + 3600  # a day and an hour after: the window had closed
    text = {"type": "text", "text": {"body": "я вернулся"}}
    assert (await bot.fake.post_webhook(at(bot.fake.payload(WA, "Maria", text), later)))[0] == 200
    await bot.staff.wait(lambda o: o.kind == "customer_message" and o.text == "я вернулся")
    assert await bot.delivery.drain(10)
    notes = [o for o in bot.staff.outs if "free-form replies are possible until" in o.text]
    assert len(notes) == 2 and notes[0] is first
    assert notes[1].meta["window_closes"] == pytest.approx(int(later) + WINDOW)


async def test_an_older_message_delivered_late_does_not_move_the_window_back(bot):
    await bot.open_case()
    early = time.time() - 3 * 3600
    text = {"type": "text", "text": {"body": "старое"}}
    assert (await bot.fake.post_webhook(at(bot.fake.payload(WA, "Maria", text), early)))[0] == 200
    await bot.staff.wait(lambda o: o.kind == "customer_message" and o.text == "старое")
    assert float(await bot.store.memory("whatsapp").get("last", WA)) > early + 3600


async def test_a_webhook_that_cannot_be_handled_answers_500_and_is_handled_when_meta_sends_it_again(bot):
    key = bot.store.keys.mem("whatsapp", "last", WA)
    await bot.store.redis.rpush(key, "x")  # Redis answers WRONGTYPE while this is there
    payload = bot.fake.payload(WA, "Maria", {"type": "text", "text": {"body": "Как сбросить пароль?"}})
    assert (await bot.fake.post_webhook(payload))[0] == 500
    assert await bot.delivery.drain(5)
    assert not bot.fake.sent
    await bot.store.redis.delete(key)
    assert (await bot.fake.post_webhook(payload))[0] == 200  # Meta re-delivers the same call
    answer = await bot.fake.wait_sent(WA)
    assert "Забыли пароль" in answer["interactive"]["body"]["text"]
