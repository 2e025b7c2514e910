"""Pure pieces of the Telegram adapter: text splitting, error mapping, how many sends a message costs, and how
updates translate into events."""

from __future__ import annotations

from dataclasses import replace

from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError, TelegramRetryAfter, TelegramServerError
from aiogram.methods import SendMessage

from bots.kit import split_text
from bots.telegram import TelegramChannel, TelegramOptions
from bots.telegram.api import to_delivery_error
from core.messages import Attachment, Button, MessageRef, StaffKind, UserRef, to_customer, to_staff

METHOD = SendMessage(chat_id=1, text="x")


def test_split_text_respects_the_limit_and_keeps_everything():
    text = "\n".join(f"line {i} " + "x" * 90 for i in range(200))
    parts = split_text(text, 4096)
    assert len(parts) > 1 and all(len(p) <= 4096 for p in parts)
    assert "".join(parts).replace("\n", "") == text.replace("\n", "")
    assert split_text("a" * 5000, 4096) == ["a" * 4096, "a" * 904]
    assert split_text("short", 4096) == ["short"]


def test_error_mapping():
    blocked = to_delivery_error(TelegramForbiddenError(METHOD, "Forbidden: bot was blocked by the user"))
    assert blocked.permanent and blocked.reason == "the customer blocked the bot"
    assert to_delivery_error(TelegramBadRequest(METHOD, "Bad Request: chat not found")).permanent
    retry = to_delivery_error(TelegramRetryAfter(METHOD, "Too Many Requests: retry after 3", 3))
    assert retry.retry_after == 3 and not retry.permanent
    server = to_delivery_error(TelegramServerError(METHOD, "Internal Server Error"))
    assert not server.permanent and server.retry_after is None


class Directory:
    """What the staff side may know about cases (``bots.ports.StaffDirectory``), in memory."""

    def __init__(self, places: dict[int, dict[str, str]] | None = None):
        self.places = places or {}

    async def place(self, case_id: int) -> dict[str, str]:
        return dict(self.places.get(case_id, {}))


def channel(directory: Directory | None = None) -> TelegramChannel:
    options = TelegramOptions(token="123456:TEST-token", staff_chat_id=-100, api_url="http://127.0.0.1:9")
    return TelegramChannel(options, memory=None, directory=directory or Directory())  # type: ignore[arg-type]


async def test_limits_count_every_api_call():
    ch = channel()
    user = UserRef("telegram", "42")
    assert [lim.key for lim in ch.limits(to_customer(user, "hi"))] == ["tg:chat:42", "tg:global"]
    assert len(ch.limits(to_customer(user, "x" * 5000, buttons=(Button("a", "b"),)))) == 4  # two parts
    photo = Attachment("photo", "f", "telegram")
    assert len(ch.limits(to_customer(user, "caption", attachments=(photo,)))) == 2  # photo with caption
    assert len(ch.limits(to_customer(user, "x" * 2000, attachments=(photo, photo)))) == 6
    copy = to_customer(user, "", copy_from=MessageRef("telegram", "-100", "5"))
    assert len(ch.limits(copy)) == 2
    opened = await ch.staff_limits(to_staff(1, "card", StaffKind.CASE_OPENED))
    assert [lim.key for lim in opened].count("tg:group:-100") == 2  # the topic counts as a message
    assert all(lim.count == 20 and lim.per == 60.0 for lim in opened if lim.key.startswith("tg:group"))
    await ch.close()


def test_too_large_and_migrated_chats_are_permanent():
    from aiogram.exceptions import TelegramEntityTooLarge, TelegramMigrateToChat

    too_large = to_delivery_error(TelegramEntityTooLarge(METHOD, "Request Entity Too Large"))
    assert too_large.permanent and too_large.reason == "file too large for Telegram"
    moved = to_delivery_error(TelegramMigrateToChat(METHOD, "Bad Request: group chat was upgraded", -1009))
    assert moved.permanent and "-1009" in moved.reason


async def test_a_relay_without_topics_counts_the_header_too():
    directory = Directory({5: {"tg_topic": "77"}, 6: {"tg_plain": "1"}})
    ch = channel(directory)
    copy = to_staff(5, "", StaffKind.CUSTOMER_MESSAGE, copy_from=MessageRef("telegram", "42", "7"))
    assert len(await ch.staff_limits(copy)) == 2  # one group unit, one global
    plain = to_staff(6, "", StaffKind.CUSTOMER_MESSAGE, copy_from=MessageRef("telegram", "42", "7"))
    assert len(await ch.staff_limits(plain)) == 4
    await ch.close()


def test_a_gif_is_one_attachment():
    from aiogram.types import Message

    from bots.telegram.events import attachments_of

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


STAFF = -100
BOT = {"id": 123456, "is_bot": True, "first_name": "Support", "username": "support_test_bot"}
OLGA = {"id": 501, "is_bot": False, "first_name": "Olga", "last_name": "Petrova"}


def update(kind: str = "message", chat: int = STAFF, update_id: int = 9, **msg):
    from aiogram.types import Update

    chat_obj = {"id": chat, "type": "private" if chat > 0 else "supergroup"}
    body = {"message_id": 40, "date": 0, "chat": chat_obj, "from": OLGA, **msg}
    return Update.model_validate({"update_id": update_id, kind: body})


def translate(u):
    ch = channel()
    ch.api.username = "support_test_bot"
    return ch.intake.event_of(u)


def test_a_customer_message_becomes_an_inbound_with_its_album():
    from core.events import CustomerEdit

    anna = {"id": 7, "is_bot": False, "first_name": "Anna", "username": "anna", "language_code": "ru"}
    photo = [{"file_id": "P1", "file_unique_id": "p1", "width": 1, "height": 1}]
    event = translate(update(chat=7, **{"from": anna}, photo=photo, caption="вот", media_group_id="g1"))
    assert event.sender == UserRef("telegram", "7") and event.message_id == "7:40" and event.text == "вот"
    assert event.origin == MessageRef("telegram", "7", "40", group="g1")
    assert (event.name, event.handle, event.language) == ("Anna", "@anna", "ru")
    assert [a.ref for a in event.attachments] == ["P1"]
    edit = translate(update("edited_message", chat=7, update_id=77, text="new", **{"from": anna}))
    assert edit == CustomerEdit(UserRef("telegram", "7"), "edit:77", "new")


def test_an_operator_message_in_a_topic_says_where_it_was_typed():
    from core.events import OperatorEdit, OperatorText

    root = {"message_id": 5, "date": 0, "chat": {"id": STAFF, "type": "supergroup"}, "from": BOT}
    event = translate(update(text="Hello", message_thread_id=5, is_topic_message=True, reply_to_message=root))
    assert isinstance(event, OperatorText) and event.message_id == f"staff:{STAFF}:40"
    assert (event.operator.id, event.operator.name) == ("501", "Olga Petrova")
    place = event.place
    assert (place.topic, place.reply_to, place.replies_to_bot) == ("5", None, False)  # the topic's root is no reply
    assert place.reply == {"thread": 5, "reply_to": 40}
    assert event.origin == MessageRef("telegram", str(STAFF), "40") and not event.is_caption
    card = {**root, "message_id": 12}
    replied = translate(update(text="ok", message_thread_id=5, is_topic_message=True, reply_to_message=card)).place
    assert (replied.reply_to, replied.replies_to_bot) == ("12", True)
    general = translate(update(text="hi")).place
    assert (general.topic, general.reply) == (None, {"thread": None, "reply_to": 40})
    edit = translate(update("edited_message", update_id=78, text="Hello!", message_thread_id=5, is_topic_message=True))
    assert isinstance(edit, OperatorEdit) and edit.text == "Hello!" and edit.place.topic == "5"


def test_commands_for_another_bot_are_dropped_ours_stripped_captions_marked():
    assert translate(update(text="/take@other_bot")) is None
    assert translate(update(text="/take@Support_Test_Bot now")).text == "/take now"
    photo = [{"file_id": "P1", "file_unique_id": "p1", "width": 1, "height": 1}]
    captioned = translate(update(photo=photo, caption="/resolve"))
    assert captioned.is_caption and captioned.text == "/resolve"


def test_who_counts_as_an_operator():
    anonymous = {"id": 1087968824, "is_bot": True, "first_name": "Group"}
    group = {"id": STAFF, "type": "supergroup", "title": "Support staff"}
    signed = translate(update(text="hi", **{"from": anonymous}, sender_chat=group, author_signature="Lead"))
    assert (signed.operator.id, signed.operator.name) == ("anon:Lead", "Lead")
    assert translate(update(text="hi", **{"from": anonymous}, sender_chat=group)).operator.name == "Operator"
    assert translate(update(text="hi", **{"from": BOT})) is None  # bots, ourselves included
    assert translate(update(chat=-200, text="hi")) is None  # another group
    assert translate(update()) is None  # a service message: nothing typed


async def test_staff_limits_count_the_card_its_copies_and_albums():
    ch = channel(Directory({3: {"tg_topic": "9"}}))
    copies = [{"chat_id": "7", "message_id": str(i)} for i in (10, 11, 12)]
    assert len(await ch.staff_limits(to_staff(1, "card", StaffKind.CASE_OPENED))) == 2 * 2
    folded = to_staff(1, "card", StaffKind.CASE_OPENED, meta={"copies": copies})
    assert len(await ch.staff_limits(folded)) == 3 * 2  # topic, card, one copyMessages
    long_card = to_staff(1, "x\n" * 3000, StaffKind.CASE_OPENED, meta={"copies": copies})
    assert len(await ch.staff_limits(long_card)) == 4 * 2  # and the card's second part
    album = to_staff(3, "", StaffKind.CUSTOMER_MESSAGE, copy_from=MessageRef("telegram", "7", "10", group="g"))
    assert len(await ch.staff_limits(replace(album, meta={"copies": copies}))) == 2
    to_anna = to_customer(UserRef("telegram", "7"), "", meta={"copies": copies})
    assert len(ch.limits(to_anna)) == 2
    await ch.close()
