"""WhatsAppChannel against the local Graph API stand-in, over HTTP, with real Redis, the real desk and outbox.

The staff side is a recording stub here; tests/e2e/test_whatsapp.py goes through the Telegram staff group.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer

from bots.channel import DeliveryError
from bots.delivery import Delivery
from bots.runner import Hub
from bots.whatsapp import WINDOW, WhatsAppChannel, signature_ok
from core.config import Settings
from core.desk import SupportDesk
from core.faq import FaqMatcher, load_faq
from core.messages import Attachment, Button, MessageRef, Operator, customer, to_customer
from tests.conftest import TESTS
from tests.e2e.test_vk_adapter import StaffStub, stop
from tests.fakes.graph_api import FakeGraph

PHOTO = b"\x89PNG fake png bytes"
OPERATOR = Operator("op1", "Olga")
WA = "79161234567"


class Bot:
    def __init__(self, fake, channel, desk, delivery, staff, base):
        self.fake, self.channel, self.desk, self.delivery, self.staff, self.base = (
            fake,
            channel,
            desk,
            delivery,
            staff,
            base,
        )

    async def open_case(self, wa_id=WA):
        await self.fake.customer_writes(wa_id, "оператор")
        await self.fake.wait_sent(wa_id, lambda m: "создано" in json.dumps(m, ensure_ascii=False))
        return await self.desk.store.open_case_of(customer("whatsapp", wa_id))

    async def operator_says(self, case, text, attachments=()):
        await self.delivery.enqueue(await self.desk.operator_message(case.id, OPERATOR, text, tuple(attachments)))


@contextlib.asynccontextmanager
async def running_bot(store, **extra):
    fake = await FakeGraph().start()
    env = {
        "WHATSAPP_TOKEN": fake.token,
        "WHATSAPP_PHONE_NUMBER_ID": fake.phone_number_id,
        "WHATSAPP_APP_SECRET": fake.app_secret,
        "WHATSAPP_VERIFY_TOKEN": "verify-me",
        "WHATSAPP_API_URL": fake.url,
        **extra,
    }
    settings = Settings(_env_file=None, **env)
    channel = WhatsAppChannel(settings, store)
    desk = SupportDesk(store, FaqMatcher(load_faq(TESTS / "data" / "faq_desk.yaml")), default_language="ru")
    staff = StaffStub()
    delivery = Delivery(store, desk, {"whatsapp": channel}, staff, time_scale=0.02)
    hub = Hub(desk, delivery)
    app = web.Application()
    app.add_routes(channel.routes(hub))
    server = TestServer(app)
    await server.start_server()
    fake.webhook_url = str(server.make_url("/webhooks/whatsapp"))
    task = asyncio.create_task(delivery.run())
    try:
        yield Bot(fake, channel, desk, delivery, staff, str(server.make_url("")))
    finally:
        await stop(task)
        await channel.close()
        await server.close()
        await fake.stop()


@pytest.fixture
async def bot(store):
    async with running_bot(store) as b:
        yield b


@pytest.fixture
async def tbot(store):
    async with running_bot(store, WHATSAPP_REOPEN_TEMPLATE="case_update:ru") as b:
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
    await bot.delivery.enqueue([to_customer(customer("whatsapp", WA), "Оцените", buttons=buttons, lang="ru")])
    listed = await bot.fake.wait_sent(WA, lambda m: m.get("interactive", {}).get("type") == "list")
    rows = listed["interactive"]["action"]["sections"][0]["rows"]
    assert [r["id"] for r in rows] == [f"rate:1:{n}" for n in range(1, 6)]
    assert listed["interactive"]["action"]["button"] == "Выбрать"
    long = (Button("A very long label that does not fit in twenty", "x:1"), Button("Short", "x:2"))
    await bot.delivery.enqueue([to_customer(customer("whatsapp", WA), "Choose", buttons=long, lang="en")])
    listed = await bot.fake.wait_sent(WA, lambda m: "Choose" in json.dumps(m))
    row = listed["interactive"]["action"]["sections"][0]["rows"][0]
    assert len(row["title"]) <= 24 and row["description"].startswith("A very long label")
    eleven = tuple(Button(f"Option {i}", f"o:{i}") for i in range(11))
    await bot.delivery.enqueue([to_customer(customer("whatsapp", WA), "Pick", buttons=eleven, lang="en")])
    text = await bot.fake.wait_sent(WA, lambda m: m["type"] == "text" and m["text"]["body"].startswith("Pick"))
    assert "\n11. Option 10" in text["text"]["body"]


async def test_bad_or_missing_signature_is_rejected_before_parsing(bot):
    payload = bot.fake.payload(WA, "Maria", {"type": "text", "text": {"body": "Как сбросить пароль?"}})
    assert (await bot.fake.post_webhook(payload, signature=None))[0] == 403
    assert (await bot.fake.post_webhook(payload, signature="sha256=" + "0" * 64))[0] == 403
    assert (await bot.fake.post_webhook(b"not json at all", signature="sha256=00"))[0] == 403
    assert (await bot.fake.post_webhook(payload, signature=bot.fake.sign(b"other body")))[0] == 403
    await asyncio.sleep(0.2)
    assert not bot.fake.sent
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
    await bot.operator_says(case, "Получили", relayed[:2])
    image = await bot.fake.wait_sent(WA, lambda m: m["type"] == "image")
    doc = await bot.fake.wait_sent(WA, lambda m: m["type"] == "document")
    assert bot.fake.media_bytes(image) == PHOTO and bot.fake.media_bytes(doc) == b"%PDF"
    assert doc["document"]["filename"] == "act.pdf"
    assert any(m["type"] == "text" and m["text"]["body"] == "Получили" for m in bot.fake.to(WA))


async def test_media_from_another_channel_goes_through_the_resolver(bot):
    case = await bot.open_case()
    fetched = []

    async def resolver(att):
        from bots.channel import Media

        fetched.append(att)
        return Media(b"telegram photo", "photo.jpg", "image/jpeg")

    bot.channel.media = resolver
    await bot.operator_says(case, "", [Attachment("photo", "tg-file-id", "telegram")])
    image = await bot.fake.wait_sent(WA, lambda m: m["type"] == "image")
    assert bot.fake.media_bytes(image) == b"telegram photo" and fetched[0].ref == "tg-file-id"


async def test_closed_window_without_template_is_reported(bot):
    case = await bot.open_case()
    bot.channel.clock = lambda: time.time() + WINDOW + 60
    await bot.operator_says(case, "Ответ спустя сутки")
    info = await bot.staff.wait(lambda o: "Not delivered" in o.text)
    assert "24-hour window closed at" in info.text and "Ответ спустя сутки" in info.text
    assert not any("спустя" in json.dumps(m, ensure_ascii=False) for m in bot.fake.to(WA))


async def test_closed_window_with_template_sends_the_template(tbot):
    case = await tbot.open_case()
    tbot.channel.clock = lambda: time.time() + WINDOW + 60
    await tbot.operator_says(case, "Ответ\nспустя сутки")
    sent = await tbot.fake.wait_sent(WA, lambda m: m["type"] == "template")
    assert sent["template"]["name"] == "case_update" and sent["template"]["language"]["code"] == "ru"
    assert sent["template"]["components"][0]["parameters"][0]["text"] == "Ответ · спустя сутки"


async def test_re_engagement_error_from_the_api_uses_the_template(tbot):
    case = await tbot.open_case()
    tbot.fake.window_closed.add(WA)  # our clock says open, WhatsApp says closed (131047)
    await tbot.operator_says(case, "Ответ")
    sent = await tbot.fake.wait_sent(WA, lambda m: m["type"] == "template")
    assert sent["template"]["components"][0]["parameters"][0]["text"] == "Ответ"


async def test_500_then_200_is_delivered_once(bot):
    case = await bot.open_case()
    bot.fake.fail(500, 1, "An unknown error has occurred.")
    await bot.operator_says(case, "Один раз")
    await bot.fake.wait_sent(WA, lambda m: m["type"] == "text" and m["text"]["body"] == "Один раз")
    assert await bot.delivery.drain(10)
    assert [m.get("text", {}).get("body") for m in bot.fake.to(WA)].count("Один раз") == 1
    assert not [o for o in bot.staff.outs if "Not delivered" in o.text]


async def test_failed_status_is_reported_once(bot):
    case = await bot.open_case()
    await bot.operator_says(case, "Вам письмо")
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
    await bot.delivery.enqueue(await bot.desk.operator_command(case.id, "resolve", OPERATOR))
    rating = await bot.fake.wait_sent(WA, lambda m: m.get("interactive", {}).get("type") == "list")
    await bot.fake.customer_presses(WA, rating, "⭐⭐⭐⭐⭐")
    await bot.staff.wait(lambda o: "rated the help 5/5" in o.text)
    assert (await bot.desk.store.get_case(case.id)).rating == 5


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
    await bot.delivery.enqueue(await bot.desk.operator_message(case.id, OPERATOR, "", (), copy_from=location))
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
