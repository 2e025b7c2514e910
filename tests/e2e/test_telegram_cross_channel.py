"""Files across messengers: another channel's customer files are uploaded into the topic, and an operator's
Telegram photo reaches that channel as bytes (through the outbox's media resolver)."""

from __future__ import annotations

from bots.ports import Capabilities, Limit, Media, SendContext
from core.messages import Attachment, Inbound, Outbound, UserRef


class StubChannel:
    """A second messenger, as the outbox sees it (the real VK/WhatsApp adapters have their own e2e tests)."""

    name = "vk"
    capabilities = Capabilities(buttons=10)

    def __init__(self):
        self.sent: list[tuple[Outbound, list[bytes]]] = []
        self.downloads = 0

    async def send(self, out: Outbound, ctx: SendContext) -> str:
        files = [(await ctx.media(a)).data for a in out.attachments]  # other channels' files: the resolver
        self.sent.append((out, files))
        return str(len(self.sent))

    async def download(self, att: Attachment) -> Media:
        self.downloads += 1
        return Media(b"vk bytes of " + att.ref.encode(), att.filename or "file.jpg", "image/jpeg")

    def limits(self, out: Outbound) -> list[Limit]:
        return [Limit(f"vk:{out.to.user_id}", 20, 1.0)]

    async def close(self) -> None: ...


async def test_vk_customer_photo_uploaded_and_operator_photo_downloaded(tg_bot, telegram_fake):
    fake = telegram_fake
    vk = StubChannel()
    tg_bot.delivery.channels["vk"] = vk  # the outbox's channels: sends to VK and VK's files
    user = UserRef("vk", "555")
    await tg_bot.intake(Inbound(user, "оператор", "m1", name="Vasya"))
    topic = await fake.wait_for(lambda: fake.topic_named("Vasya"))
    assert "VK" in topic.name
    photo = Attachment("photo", "photo-1_2", "vk", "p.jpg", "image/jpeg")
    await tg_bot.intake(Inbound(user, "вот фото", "m2", attachments=(photo,)))
    uploaded = await fake.wait_for(lambda: [m for m in fake.topic_messages(topic.thread_id) if m.kind == "photo"])
    assert uploaded[0].data == b"vk bytes of photo-1_2"
    assert "вот фото" in uploaded[0].text and "Vasya" in uploaded[0].text
    # operator's photo in the topic -> the VK customer gets the bytes
    fake.operator_sends_photo(topic.thread_id, b"operator jpeg", caption="check this")
    await fake.wait_for(lambda: [s for s in vk.sent if s[0].attachments])
    out, files = next(s for s in vk.sent if s[0].attachments)
    assert files == [b"operator jpeg"] and out.text == "check this"


async def test_a_file_over_telegrams_upload_limit_is_not_downloaded_and_the_customer_is_told(tg_bot, telegram_fake):
    fake = telegram_fake
    vk = StubChannel()
    tg_bot.delivery.channels["vk"] = vk  # the outbox's channels: sends to VK and VK's files
    user = UserRef("vk", "556")
    await tg_bot.intake(Inbound(user, "оператор", "m1", name="Vasya"))
    topic = await fake.wait_for(lambda: fake.topic_named("Vasya"))
    await tg_bot.delivery.drain(5)
    video = Attachment("video", "video-1_2", "vk", "v.mp4", "video/mp4", size=60 * 1024 * 1024)
    await tg_bot.intake(Inbound(user, "", "m2", attachments=(video,)))
    await fake.wait_for(lambda: [s for s in vk.sent if "Не удалось передать" in s[0].text], what="the customer told")
    await tg_bot.delivery.drain(5)
    assert vk.downloads == 0 and tg_bot.delivery.stats["retried"] == 0
    assert not [m for m in fake.topic_messages(topic.thread_id) if m.kind == "video"]
    events = await tg_bot.store.events()
    assert any(e.get("type") == "delivery_failed" and "too large" in e.get("reason", "") for e in events)
