"""Pure pieces of the Telegram adapter: text splitting, error mapping, how many sends a message costs."""

from __future__ import annotations

from types import SimpleNamespace

from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError, TelegramRetryAfter, TelegramServerError
from aiogram.methods import SendMessage

from bots.telegram.channel import TelegramChannel, split_text, to_delivery_error
from core.messages import Attachment, Button, MessageRef, StaffKind, UserRef, to_customer, to_staff

METHOD = SendMessage(chat_id=1, text="x")


def test_split_text_respects_the_limit_and_keeps_everything():
    text = "\n".join(f"line {i} " + "x" * 90 for i in range(200))
    parts = split_text(text, 4096)
    assert len(parts) > 1 and all(len(p) <= 4096 for p in parts)
    assert "".join(parts).replace("\n", "") == text.replace("\n", "")
    assert split_text("a" * 5000) == ["a" * 4096, "a" * 904]
    assert split_text("short") == ["short"]


def test_error_mapping():
    blocked = to_delivery_error(TelegramForbiddenError(METHOD, "Forbidden: bot was blocked by the user"))
    assert blocked.permanent and blocked.reason == "the customer blocked the bot"
    assert to_delivery_error(TelegramBadRequest(METHOD, "Bad Request: chat not found")).permanent
    retry = to_delivery_error(TelegramRetryAfter(METHOD, "Too Many Requests: retry after 3", 3))
    assert retry.retry_after == 3 and not retry.permanent
    server = to_delivery_error(TelegramServerError(METHOD, "Internal Server Error"))
    assert not server.permanent and server.retry_after is None


def channel() -> TelegramChannel:
    settings = SimpleNamespace(
        telegram_staff_chat_id=-100,
        telegram_webhook_url=None,
        telegram_webhook_secret=None,
        telegram_api_url="http://127.0.0.1:9",
        telegram_bot_token="123456:TEST-token",
    )
    return TelegramChannel(settings, SimpleNamespace(redis=None), None)


def test_limits_count_every_api_call():
    ch = channel()
    user = UserRef("telegram", "42")
    assert [lim.key for lim in ch.limits(to_customer(user, "hi"))] == ["tg:chat:42", "tg:global"]
    assert len(ch.limits(to_customer(user, "x" * 5000, buttons=(Button("a", "b"),)))) == 4  # two parts
    photo = Attachment("photo", "f", "telegram")
    assert len(ch.limits(to_customer(user, "caption", attachments=(photo,)))) == 2  # photo with caption
    assert len(ch.limits(to_customer(user, "x" * 2000, attachments=(photo, photo)))) == 6
    copy = to_customer(user, "", copy_from=MessageRef("telegram", "-100", "5"))
    assert len(ch.limits(copy)) == 2
    opened = ch.limits(to_staff(1, "card", StaffKind.CASE_OPENED))
    assert [lim.key for lim in opened].count("tg:group:-100") == 2  # the topic counts as a message
    assert all(lim.count == 20 and lim.per == 60.0 for lim in opened if lim.key.startswith("tg:group"))


def test_too_large_and_migrated_chats_are_permanent():
    from aiogram.exceptions import TelegramEntityTooLarge, TelegramMigrateToChat

    too_large = to_delivery_error(TelegramEntityTooLarge(METHOD, "Request Entity Too Large"))
    assert too_large.permanent and too_large.reason == "file too large for Telegram"
    moved = to_delivery_error(TelegramMigrateToChat(METHOD, "Bad Request: group chat was upgraded", -1009))
    assert moved.permanent and "-1009" in moved.reason


def test_a_relay_without_topics_counts_the_header_too():
    ch = channel()
    copy = to_staff(5, "", StaffKind.CUSTOMER_MESSAGE, copy_from=MessageRef("telegram", "42", "7"))
    assert len(ch.limits(copy)) == 2  # one group unit, one global
    ch._plain_cases.add(5)
    assert len(ch.limits(copy)) == 4


def test_a_gif_is_one_attachment():
    from aiogram.types import Message

    from bots.telegram.channel import attachments_of

    gif = {"file_id": "G1", "file_unique_id": "g1", "file_name": "cat.gif.mp4", "mime_type": "video/mp4"}
    msg = Message.model_validate(
        {
            "message_id": 1,
            "date": 0,
            "chat": {"id": 1, "type": "private"},
            "animation": {**gif, "width": 1, "height": 1, "duration": 1},
            "document": gif,
        }
    )
    assert [(a.kind, a.ref) for a in attachments_of(msg)] == [("document", "G1")]
