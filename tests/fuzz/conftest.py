"""Fuzz fixtures: the whole bot (``bots.runner.build``, via the e2e ``bot_factory``) with every webhook on (Telegram,
the VK Callback API, WhatsApp) against the stand-ins, valid payloads of each platform to start mutating from, and
the in-memory conversation (``conv``, from the integration tests)."""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass
from typing import Any

import pytest

from tests.e2e.conftest import bot_factory, telegram_fake, telegram_settings  # noqa: F401 - fixtures
from tests.fakes.graph_api import FakeGraph
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.vk_api import FakeVk
from tests.integration.conftest import conv, conversation  # noqa: F401 - fixtures

TG_SECRET = "tg-webhook-secret"
VK_SECRET = "vk-callback-secret"
VK_CODE = "c0nfirm"


@dataclass
class Hooks:
    bot: Any  # tests.e2e.conftest.RunningBot
    tg: FakeTelegram
    vk: FakeVk
    wa: FakeGraph
    loop: asyncio.AbstractEventLoop

    @property
    def urls(self) -> dict[str, str]:
        return {p: f"{self.bot.base}/webhooks/{p}" for p in ("telegram", "vk", "whatsapp")}


@pytest.fixture
async def vk_fake():
    fake = await FakeVk().start()
    yield fake
    await fake.stop()


@pytest.fixture
async def wa_fake():
    fake = await FakeGraph().start()
    yield fake
    await fake.stop()


@pytest.fixture
async def hooks(telegram_fake, vk_fake, wa_fake, bot_factory):  # noqa: F811 - the imported fixtures
    """The bot with all three webhooks; the delivery worker off (the fuzz is about taking updates in)."""
    bot = await bot_factory(
        run_delivery=False,
        **telegram_settings(telegram_fake),
        TELEGRAM_WEBHOOK_URL="{base}/webhooks/telegram",
        TELEGRAM_WEBHOOK_SECRET=TG_SECRET,
        VK_GROUP_TOKEN=vk_fake.token,
        VK_GROUP_ID=vk_fake.group_id,
        VK_API_URL=vk_fake.url,
        VK_CALLBACK_SECRET=VK_SECRET,
        VK_CONFIRMATION_CODE=VK_CODE,
        WHATSAPP_TOKEN=wa_fake.token,
        WHATSAPP_PHONE_NUMBER_ID=wa_fake.phone_number_id,
        WHATSAPP_APP_SECRET=wa_fake.app_secret,
        WHATSAPP_VERIFY_TOKEN="verify-me",
        WHATSAPP_API_URL=wa_fake.url,
    )
    await telegram_fake.wait_for(lambda: telegram_fake.webhook, what="setWebhook")
    wa_fake.webhook_url = bot.base + "/webhooks/whatsapp"
    return Hooks(bot, telegram_fake, vk_fake, wa_fake, asyncio.get_running_loop())


# ---------------------------------------------------------------------------------------------- valid payloads
_ids = itertools.count(1)


def renewed(platform: str, doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` (a copy of a base) with new native ids, so that the intake's dedup does not hide its mutations."""
    n = next(_ids)
    if platform == "telegram":
        doc["update_id"] = 10_000_000 + n
        msg = doc.get("message") or doc.get("edited_message")
        if msg is not None:
            msg["message_id"] = 10_000_000 + n
        if "callback_query" in doc:
            doc["callback_query"]["id"] = f"cqf{n}"
    elif platform == "vk":
        obj = doc.get("object") or {}
        if "message" in obj:
            obj["message"]["id"] = 10_000_000 + n
        if "event_id" in obj:
            obj["event_id"] = f"evf{n}"
    elif platform == "whatsapp":
        value = doc["entry"][0]["changes"][0]["value"]
        for item in value.get("messages", []) + value.get("statuses", []):
            item["id"] = f"wamid.F{n}"
    return doc


def telegram_bases(tg: FakeTelegram) -> list[dict[str, Any]]:
    photo = tg.customer_sends_photo(7001, caption="вот скрин")
    said = tg.customer_says(7002, "Как сбросить пароль?", username="anna")
    bases = [
        said,
        photo,
        tg.customer_sends_document(7003, b"%PDF", "doc.pdf"),
        tg.press(7004, "faq:1"),
        tg.customer_edits(said, "Как сбросить пароль? (edit)"),
        tg.operator_says(5, "Здравствуйте, проверяю"),
        tg.operator_says(5, "/resolve"),
        tg.operator_says(5, "!note"),
        tg.operator_says(None, "ответ", reply_to=100),
        tg.operator_says(5, "anon", anonymous=True, signature="Olga"),
        tg.customer_says(7005, None, location={"latitude": 55.7, "longitude": 37.6}),
        tg.customer_says(7006, None, sticker=_tg_sticker()),
        tg.customer_says(7007, None, voice={"file_id": "V1", "file_unique_id": "V1", "duration": 3}),
    ]
    msg = bases[5]["message"]
    card = {"message_id": msg["message_id"], "date": msg["date"], "chat": msg["chat"], "text": "card"}
    bases.append({"update_id": 990001, "callback_query": {**tg.press(501, "x")["callback_query"], "message": card}})
    bases[-1]["callback_query"]["data"] = "case:take:1"
    member = {"status": "member", "user": tg.bot_user()}
    joined = {
        "chat": msg["chat"],
        "from": msg["from"],
        "date": msg["date"],
        "old_chat_member": {**member, "status": "left"},
    }
    bases.append({"update_id": 990002, "my_chat_member": {**joined, "new_chat_member": member}})  # not a kind we take
    return bases


def _tg_sticker() -> dict[str, Any]:
    return {
        "file_id": "S1",
        "file_unique_id": "S1",
        "type": "regular",
        "width": 512,
        "height": 512,
        "is_animated": False,
        "is_video": False,
        "emoji": "👍",
    }


def vk_bases(vk: FakeVk) -> list[dict[str, Any]]:
    wall = {"type": "wall", "wall": {"id": 5, "owner_id": -1, "to_id": -1}}
    sticker = {"type": "sticker", "sticker": {"images": [{"url": "http://x/s.png", "width": 128, "height": 128}]}}
    link = {"type": "link", "link": {"url": "https://example.org", "title": "x"}}
    video = {"type": "video", "video": {"id": 7, "owner_id": 9}}
    voice = {"type": "audio_message", "audio_message": {"link_ogg": "http://x/v.ogg", "link_mp3": "http://x/v.mp3"}}
    bases = [
        vk.user_writes(880001, "Как сбросить пароль?"),
        vk.user_writes(880002, "вот", attachments=[vk.photo(b"\xff\xd8 jpeg", 880002)]),
        vk.user_writes(880003, "", attachments=[vk.doc(b"%PDF", 880003, "check", "pdf"), voice]),
        vk.user_writes(880004, "смотри", attachments=[wall, sticker, link, video]),
        vk.user_writes(880005, "1", payload="faq:1"),
        vk.press(880006, "faq:1"),
        vk.press(880007, {"command": "start"}),
        {"type": "confirmation", "group_id": vk.group_id},
        {"type": "message_reply", "group_id": vk.group_id, "event_id": "ab1", "v": "5.199", "object": {"id": 1}},
    ]
    for b in bases:
        b["secret"] = VK_SECRET
    return bases


def wa_bases(wa: FakeGraph) -> list[dict[str, Any]]:
    who, name = "79160000001", "Maria"
    media = {"id": "M1", "mime_type": "image/jpeg", "sha256": "00", "caption": "скрин"}
    messages = [
        {"type": "text", "text": {"body": "Как сбросить пароль?"}},
        {"type": "image", "image": media},
        {"type": "audio", "audio": {"id": "A1", "mime_type": "audio/ogg; codecs=opus", "voice": True}},
        {"type": "document", "document": {"id": "D1", "mime_type": "application/pdf", "filename": "c.pdf"}},
        {"type": "interactive", "interactive": {"type": "button_reply", "button_reply": {"id": "p1", "title": "Да"}}},
        {"type": "interactive", "interactive": {"type": "list_reply", "list_reply": {"id": "p2", "title": "Нет"}}},
        {"type": "button", "button": {"text": "Start", "payload": "start"}},
        {"type": "location", "location": {"latitude": 55.7, "longitude": 37.6, "name": "Office"}},
        {"type": "reaction", "reaction": {"message_id": "wamid.X", "emoji": "👍"}},
        {"type": "unsupported", "errors": [{"code": 131051, "title": "Message type unknown"}]},
    ]
    bases = [wa.payload(who, name, m) for m in messages]
    failed = {
        "id": "wamid.OUT1",
        "status": "failed",
        "timestamp": str(int(time.time())),
        "recipient_id": who,
        "errors": [{"code": 131047, "title": "Re-engagement message", "error_data": {"details": "24 hours"}}],
    }
    bases.append(wa.payload(who, name, statuses=[failed]))
    bases.append(wa.payload(who, name, statuses=[{**failed, "status": "delivered", "errors": []}]))
    return bases
