"""TelegramChannel: the customers' side (private chats) and the staff side (the operators' supergroup).

Customers: updates (polling by default, webhook when TELEGRAM_WEBHOOK_URL is set) become ``Inbound`` events
for the desk; ``send`` delivers the desk's answers (texts split at 4096 chars, inline buttons, files).

Staff: ``send_staff`` shows a case in the staff group: a forum topic per case (named ``case.topic_title()``)
opened by the card with Take / Needs info / Resolve / Escalate buttons; the customer's messages relayed into
it; status lines (and the topic renamed). Operators' messages in a topic go back to the customer (``!`` notes
stay), staff commands act on the topic's case. Without topics ("the chat is not a forum") every case message
is a plain group message and operators answer with Telegram's reply to any message of the case.

Redis (under the store prefix): ``ref:tgtopic:{thread}`` / ``ref:tgmsg:{message id}`` -> case (via
``store.link``), case meta ``tg_topic`` / ``tg_card`` / ``tg_plain`` / ``tg_title``, ``dedup:telegram-update:{id}``,
``tg:done:{key}`` (how many parts of a multi-part send went out, so a retry does not repeat them),
``tg:noforum`` (the group has no topics; rechecked after 10 minutes), ``tg:topiclock:{case}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import PurePosixPath
from typing import Any

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyParameters,
    Update,
)
from aiohttp import web

from bots.channel import DeliveryError, Limit, Media
from core.desk import STAFF_COMMANDS, SupportDesk
from core.messages import (
    Attachment,
    AttachmentKind,
    Audience,
    Inbound,
    MessageRef,
    Operator,
    Outbound,
    StaffKind,
    UserRef,
    to_staff,
)
from core.store import Store

log = logging.getLogger(__name__)

TEXT_MAX = 4096
CAPTION_MAX = 1024
FILE_MAX = 20 * 1024 * 1024  # getFile limit of the Bot API
WEBHOOK_PATH = "/webhooks/telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# Telegram's published limits; Delivery enforces them for every process together.
PER_CHAT = (1, 1.0)
PER_GROUP = (20, 60.0)
GLOBAL = (30, 1.0)
CARD_BUTTONS = (("Take", "take"), ("Needs info", "needinfo"), ("Resolve", "resolve"), ("Escalate", "escalate"))
_COMMAND = re.compile(r"^/([A-Za-z_]+)(?:@(\S+))?\s*(.*)$", re.S)
_CAPTIONED = {"photo", "document", "video", "audio", "voice"}


def split_text(text: str, size: int = TEXT_MAX) -> list[str]:
    """Split at line breaks (or spaces) so that no part is longer than ``size``."""
    parts: list[str] = []
    while len(text) > size:
        cut = text.rfind("\n", 0, size + 1)
        if cut <= 0:
            cut = text.rfind(" ", 0, size + 1)
        if cut <= 0:
            cut = size
        parts.append(text[:cut])
        text = text[cut:].lstrip("\n ") if cut < size else text[cut:]
    if text:
        parts.append(text)
    return parts


def keyboard(buttons) -> InlineKeyboardMarkup | None:
    if not buttons:
        return None
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=b.label[:64], callback_data=b.payload[:64])] for b in buttons]
    )


def card_keyboard(case_id: int) -> InlineKeyboardMarkup:
    row = [InlineKeyboardButton(text=label, callback_data=f"case:{cmd}:{case_id}") for label, cmd in CARD_BUTTONS]
    return InlineKeyboardMarkup(inline_keyboard=[row[:2], row[2:]])


def to_delivery_error(e: TelegramAPIError) -> DeliveryError:
    """The outbox's view of an aiogram error: retry later, retry after N seconds, or give up."""
    msg = str(e.message)
    low = msg.lower()
    if isinstance(e, TelegramRetryAfter):
        return DeliveryError(msg, retry_after=float(e.retry_after))
    if isinstance(e, TelegramForbiddenError):
        if "blocked" in low:
            return DeliveryError("the customer blocked the bot", permanent=True)
        if "deactivated" in low:
            return DeliveryError("the customer's account is deleted", permanent=True)
        return DeliveryError(f"forbidden: {msg}", permanent=True)
    if isinstance(e, TelegramServerError | TelegramNetworkError):
        return DeliveryError(msg or type(e).__name__)
    if isinstance(e, TelegramBadRequest | TelegramNotFound):
        if "chat not found" in low:
            return DeliveryError("chat not found", permanent=True)
        return DeliveryError(msg, permanent=True)
    return DeliveryError(msg or type(e).__name__)


def _topic_gone(e: TelegramAPIError) -> bool:
    low = str(e.message).lower()
    return "thread not found" in low or "topic_deleted" in low or "topic deleted" in low


def _topic_closed(e: TelegramAPIError) -> bool:
    return "topic_closed" in str(e.message).lower()


def attachments_of(msg: Message) -> tuple[Attachment, ...]:
    """A Telegram message's files as core attachments (ref = Telegram file_id)."""
    out: list[Attachment] = []
    if msg.photo:
        p = msg.photo[-1]
        out.append(Attachment(AttachmentKind.PHOTO, p.file_id, "telegram", None, "image/jpeg", p.file_size))
    for kind, obj in (
        (AttachmentKind.DOCUMENT, msg.document),
        (AttachmentKind.VIDEO, msg.video),
        (AttachmentKind.AUDIO, msg.audio),
        (AttachmentKind.VOICE, msg.voice),
        (AttachmentKind.VIDEO, msg.video_note),
        (AttachmentKind.DOCUMENT, msg.animation),
    ):
        if obj is not None:
            out.append(Attachment(kind, obj.file_id, "telegram", getattr(obj, "file_name", None),
                                  getattr(obj, "mime_type", None), obj.file_size))
    if msg.sticker:
        s = msg.sticker
        out.append(Attachment(AttachmentKind.STICKER, s.file_id, "telegram", s.emoji, None, s.file_size))
    return tuple(out)


class TelegramChannel:
    name = "telegram"

    def __init__(self, settings: Any, store: Store, desk: SupportDesk, *, poll_timeout: int = 25):
        self.settings = settings
        self.store = store
        self.desk = desk
        self.redis = store.redis
        self.staff_chat: int | None = settings.telegram_staff_chat_id
        self.webhook_url: str | None = settings.telegram_webhook_url
        self.webhook_secret: str | None = settings.telegram_webhook_secret
        self.poll_timeout = poll_timeout
        session = AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram_api_url))
        self.bot = Bot(settings.telegram_bot_token, session=session)
        # Set by Delivery: fetches an attachment received by another channel (see bots/channel.py).
        self.media: Callable[[Attachment], Awaitable[Media]] | None = None
        self.hub: Any = None

    # ================================================================ Channel protocol: receiving
    async def run(self, hub: Any) -> None:
        self.hub = hub
        with contextlib.suppress(Exception):
            self._username = (await self.bot.get_me()).username
        if self.webhook_url:
            await self.bot.set_webhook(
                self.webhook_url, secret_token=self.webhook_secret,
                allowed_updates=["message", "callback_query"],
            )
            log.info("telegram: webhook set to %s", self.webhook_url)
            return
        with contextlib.suppress(TelegramAPIError):
            await self.bot.delete_webhook()
        offset: int | None = None
        failures = 0
        me = asyncio.current_task()
        while True:
            if me is not None and me.cancelling():  # a cancellation swallowed by a library: honour it
                raise asyncio.CancelledError
            try:
                updates = await self.bot.get_updates(
                    offset=offset, timeout=self.poll_timeout, allowed_updates=["message", "callback_query"],
                    request_timeout=self.poll_timeout + 10,
                )
                failures = 0
            except asyncio.CancelledError:
                raise
            except TelegramRetryAfter as e:
                await asyncio.sleep(e.retry_after)
                continue
            except Exception as e:  # network trouble, 5xx: back off and poll again
                failures += 1
                log.warning("telegram: getUpdates failed (%r); retrying", e)
                await asyncio.sleep(min(30.0, 0.5 * 2 ** min(failures, 6)))
                continue
            if not updates:
                continue
            await self.process_batch(updates, hub)
            offset = updates[-1].update_id + 1

    async def process_batch(self, updates: list[Update], hub: Any) -> None:
        """Updates of one chat in order; different chats at the same time."""
        by_chat: dict[str, list[Update]] = defaultdict(list)
        for u in updates:
            by_chat[self._chat_key(u)].append(u)

        async def one_chat(items: list[Update]) -> None:
            for u in items:
                for attempt in range(3):  # e.g. Redis briefly away; the desk undid its dedup mark
                    try:
                        await self.handle_update(u, hub)
                        break
                    except Exception:
                        log.exception("telegram: update %s failed (attempt %d)", u.update_id, attempt + 1)
                        await asyncio.sleep(0.5 * (attempt + 1))

        await asyncio.gather(*(one_chat(items) for items in by_chat.values()))

    @staticmethod
    def _chat_key(u: Update) -> str:
        if u.message is not None:
            return str(u.message.chat.id)
        if u.callback_query is not None:
            return str(u.callback_query.from_user.id)
        return f"u{u.update_id}"

    def routes(self, hub: Any) -> list[web.RouteDef]:
        self.hub = hub
        if not self.webhook_url:
            return []
        return [web.post(WEBHOOK_PATH, self._webhook)]

    async def _webhook(self, request: web.Request) -> web.Response:
        if self.webhook_secret and request.headers.get(SECRET_HEADER) != self.webhook_secret:
            return web.json_response({"ok": False, "error": "bad secret token"}, status=403)
        try:
            update = Update.model_validate(await request.json(), context={"bot": self.bot})
        except Exception:
            return web.json_response({"ok": False, "error": "not an update"}, status=400)
        try:
            await self.handle_update(update, self.hub)
        except Exception:
            log.exception("telegram: webhook update %s failed; Telegram will re-deliver it", update.update_id)
            return web.json_response({"ok": False}, status=500)
        return web.json_response({"ok": True})

    async def handle_update(self, update: Update, hub: Any) -> None:
        """Handle one update fully (desk + outbox) once; a re-delivered update_id is ignored."""
        uid = str(update.update_id)
        if not await self.store.first_time("telegram-update", uid):
            return
        try:
            if update.message is not None:
                await self._on_message(update.message, hub)
            elif update.callback_query is not None:
                await self._on_callback(update.callback_query, hub)
        except BaseException:
            await self.store.forget("telegram-update", uid)
            raise

    async def _on_message(self, msg: Message, hub: Any) -> None:
        log.debug("telegram: message %s in chat %s (%s)", msg.message_id, msg.chat.id, msg.chat.type)
        if self.staff_chat is not None and msg.chat.id == self.staff_chat:
            await self._on_staff_message(msg, hub)
            return
        if msg.chat.type != "private":
            log.info("telegram: ignoring a message in chat %s (%s %r): not TELEGRAM_STAFF_CHAT_ID=%s",
                     msg.chat.id, msg.chat.type, msg.chat.title, self.staff_chat)
            return
        if msg.from_user is None or msg.from_user.is_bot:
            return
        await hub.customer(self._inbound(msg))

    def _inbound(self, msg: Message) -> Inbound:
        user = msg.from_user
        assert user is not None
        return Inbound(
            sender=UserRef("telegram", str(msg.chat.id)),
            text=msg.text or msg.caption or "",
            message_id=f"{msg.chat.id}:{msg.message_id}",  # Telegram message ids are per chat
            attachments=attachments_of(msg),
            language=user.language_code,
            name=user.full_name,
            handle=f"@{user.username}" if user.username else None,
            origin=MessageRef("telegram", str(msg.chat.id), str(msg.message_id)),
        )

    async def _on_callback(self, cq: CallbackQuery, hub: Any) -> None:
        chat = cq.message.chat if cq.message is not None else None
        answer = None
        try:
            if chat is not None and self.staff_chat is not None and chat.id == self.staff_chat:
                answer = await self._on_staff_button(cq, hub)
            elif cq.data:
                event = Inbound(
                    sender=UserRef("telegram", str(chat.id if chat is not None else cq.from_user.id)),
                    text="", message_id=f"cb:{cq.id}", payload=cq.data, language=cq.from_user.language_code,
                    name=cq.from_user.full_name,
                    handle=f"@{cq.from_user.username}" if cq.from_user.username else None,
                )
                await hub.customer(event)
        finally:
            with contextlib.suppress(Exception):
                await self.bot.answer_callback_query(cq.id, text=answer)

    # ================================================================ staff group: operators
    @staticmethod
    def _operator(user) -> Operator:
        return Operator(id=str(user.id), name=user.full_name)

    async def _case_of(self, msg: Message) -> int | None:
        if msg.message_thread_id and msg.is_topic_message:
            case_id = await self.store.lookup("tgtopic", msg.message_thread_id)
            if case_id is not None:
                return case_id
        if msg.reply_to_message is not None:
            return await self.store.lookup("tgmsg", msg.reply_to_message.message_id)
        return None

    @staticmethod
    def _here(msg: Message, outs: list[Outbound]) -> list[Outbound]:
        """Command answers (REPLY) go where the command was typed, not necessarily to the case's topic."""
        thread = msg.message_thread_id if msg.is_topic_message else None
        return [
            replace(o, meta={**o.meta, "thread": thread, "reply_to": msg.message_id})
            if o.audience == Audience.STAFF and o.kind == StaffKind.REPLY else o
            for o in outs
        ]

    async def _on_staff_message(self, msg: Message, hub: Any) -> None:
        user = msg.from_user
        if user is None or user.is_bot:
            return
        text = msg.text or msg.caption or ""
        attachments = attachments_of(msg)
        if not text and not attachments:
            return  # service messages: topic created, member joined...
        operator = self._operator(user)
        command = _COMMAND.match(text) if msg.text else None
        if command is not None:
            name, mention, args = command.group(1).lower(), command.group(2), command.group(3).strip()
            if mention and self._username and mention.lower() != self._username.lower():
                return  # addressed to another bot
            if name == "case" and args:
                number = args.split()[0].lstrip("#")
                if not number.isdigit():
                    await hub.submit(self._here(msg, [to_staff(0, "Usage: /case N", StaffKind.REPLY)]))
                    return
                await hub.submit(self._here(msg, await self.desk.operator_command(int(number), "case", operator)))
                return
            case_id = await self._case_of(msg)
            if case_id is None:
                if name in STAFF_COMMANDS:
                    hint = f"/{name}: use it in a case's topic or as a reply to a case's message (or /case N)."
                    await hub.submit(self._here(msg, [to_staff(0, hint, StaffKind.REPLY)]))
                return
            await hub.submit(self._here(msg, await self.desk.operator_command(case_id, name, operator)))
            return
        case_id = await self._case_of(msg)
        if case_id is None:
            return  # general chat between operators
        if text.startswith("!"):
            await hub.submit(await self.desk.operator_note(case_id, operator, text[1:].strip()))
            return
        origin = MessageRef("telegram", str(msg.chat.id), str(msg.message_id))
        outs = await self.desk.operator_message(case_id, operator, text, attachments, copy_from=origin)
        await hub.submit(outs)

    async def _on_staff_button(self, cq: CallbackQuery, hub: Any) -> str | None:
        kind, _, rest = (cq.data or "").partition(":")
        command, _, number = rest.partition(":")
        if kind != "case" or command not in STAFF_COMMANDS or not number.isdigit():
            return "Unknown button"
        outs = await self.desk.operator_command(int(number), command, self._operator(cq.from_user))
        msg = cq.message if isinstance(cq.message, Message) else None
        if msg is not None:
            outs = self._here(msg, outs)
        await hub.submit(outs)
        return "OK"

    _username: str | None = None

    # ================================================================ Channel protocol: sending
    def limits(self, out: Outbound) -> list[Limit]:
        calls = self._calls(out)
        if out.audience == Audience.STAFF:
            one = [Limit(f"tg:group:{self.staff_chat}", *PER_GROUP), Limit("tg:global", *GLOBAL)]
        else:
            chat = out.to.user_id if out.to else "?"
            one = [Limit(f"tg:chat:{chat}", *PER_CHAT), Limit("tg:global", *GLOBAL)]
        return one * calls

    def _calls(self, out: Outbound) -> int:
        """How many Bot API sends ``out`` takes (a created topic counts as one)."""
        extra = 1 if out.audience == Audience.STAFF and out.kind == StaffKind.CASE_OPENED else 0
        if out.copy_from is not None and out.copy_from.channel == "telegram":
            return 1 + extra
        atts = len(out.attachments)
        text = out.text or ""
        if atts == 1 and len(text) <= CAPTION_MAX and out.attachments[0].kind in _CAPTIONED:
            return 1 + extra
        return max(1, (len(split_text(text)) if text else 0) + atts) + extra

    async def send(self, out: Outbound, key: str) -> str:
        assert out.to is not None
        chat = int(out.to.user_id)
        parts: list[Callable[[], Awaitable[int]]] = []
        if out.copy_from is not None and out.copy_from.channel == "telegram":
            ref = out.copy_from
            parts.append(lambda: self._copy(chat, int(ref.chat_id), int(ref.message_id), None))
        else:
            parts = self._parts(chat, out.text, out.attachments, keyboard(out.buttons), None)
        return str(await self._run_parts(key, parts))

    def _parts(self, chat: int, text: str, attachments, markup, thread: int | None,
               reply_to: int | None = None) -> list[Callable[[], Awaitable[int]]]:
        """The API calls that show ``text`` and ``attachments`` (buttons on the last text part)."""
        parts: list[Callable[[], Awaitable[int]]] = []
        text = text or ""
        if len(attachments) == 1 and len(text) <= CAPTION_MAX and attachments[0].kind in _CAPTIONED:
            att = attachments[0]
            parts.append(lambda: self._send_file(chat, att, text or None, thread, markup, reply_to))
            return parts
        chunks = split_text(text) if text else []
        for i, chunk in enumerate(chunks):
            m = markup if i == len(chunks) - 1 else None
            parts.append(lambda c=chunk, m=m: self._send_text(chat, c, thread, m, reply_to))
        for i, att in enumerate(attachments):
            m = markup if not chunks and i == len(attachments) - 1 else None
            parts.append(lambda a=att, m=m: self._send_file(chat, a, None, thread, m, reply_to))
        return parts

    async def _run_parts(self, key: str, parts: list[Callable[[], Awaitable[int]]]) -> int:
        """Run the parts of one delivery; a retry skips those that already went out."""
        done_key = self.store.k("tg", "done", key)
        done = int(await self.redis.get(done_key) or 0) if len(parts) > 1 else 0
        last = 0
        for i, part in enumerate(parts):
            if i < done:
                continue
            try:
                last = await part()
            except TelegramAPIError as e:
                raise to_delivery_error(e) from e
            if len(parts) > 1:
                await self.redis.set(done_key, i + 1, ex=86400)
        if len(parts) > 1:
            await self.redis.delete(done_key)
        return last

    async def _send_text(self, chat: int, text: str, thread: int | None, markup, reply_to: int | None) -> int:
        reply = ReplyParameters(message_id=reply_to, allow_sending_without_reply=True) if reply_to else None
        m = await self.bot.send_message(chat, text, message_thread_id=thread, reply_markup=markup,
                                        reply_parameters=reply, parse_mode=None)
        return m.message_id

    async def _copy(self, chat: int, from_chat: int, message_id: int, thread: int | None) -> int:
        m = await self.bot.copy_message(chat, from_chat, message_id, message_thread_id=thread)
        return m.message_id

    async def _input(self, att: Attachment):
        if att.channel == "telegram":
            return att.ref  # a file_id this bot received: reusable as is
        if self.media is None:
            raise DeliveryError(f"cannot fetch a {att.channel} file (no media resolver)", permanent=True)
        media = await self.media(att)
        return BufferedInputFile(media.data, filename=att.filename or media.filename)

    async def _send_file(self, chat: int, att: Attachment, caption: str | None, thread: int | None, markup,
                         reply_to: int | None) -> int:
        file = await self._input(att)
        common: dict[str, Any] = {"message_thread_id": thread, "reply_markup": markup}
        if reply_to:
            common["reply_parameters"] = ReplyParameters(message_id=reply_to, allow_sending_without_reply=True)
        cap: dict[str, Any] = {"caption": caption, "parse_mode": None} if caption else {}
        kind = att.kind
        if kind == AttachmentKind.PHOTO:
            m = await self.bot.send_photo(chat, file, **cap, **common)
        elif kind == AttachmentKind.VIDEO:
            m = await self.bot.send_video(chat, file, **cap, **common)
        elif kind == AttachmentKind.VOICE:
            m = await self.bot.send_voice(chat, file, **cap, **common)
        elif kind == AttachmentKind.AUDIO:
            m = await self.bot.send_audio(chat, file, **cap, **common)
        elif kind == AttachmentKind.STICKER and att.channel == "telegram":
            m = await self.bot.send_sticker(chat, file, **common)
        else:
            m = await self.bot.send_document(chat, file, **cap, **common)
        return m.message_id

    async def download(self, attachment: Attachment) -> Media:
        if attachment.size and attachment.size > FILE_MAX:
            raise DeliveryError("the file is larger than 20 MB (Telegram getFile limit)", permanent=True)
        try:
            f = await self.bot.get_file(attachment.ref)
            assert f.file_path
            buf = await self.bot.download_file(f.file_path)
        except TelegramAPIError as e:
            raise to_delivery_error(e) from e
        assert buf is not None
        name = attachment.filename or PurePosixPath(f.file_path).name
        return Media(buf.read(), name, attachment.mime)

    async def close(self) -> None:
        await self.bot.session.close()

    # ================================================================ staff side of the outbox
    async def send_staff(self, out: Outbound, key: str) -> str:
        """Show a staff-side message in the group (see the module docstring); returns the last message id."""
        if out.kind == StaffKind.REPLY and "thread" in out.meta:
            thread = out.meta.get("thread")
            parts = self._parts(self.staff_chat, out.text, (), None, thread, out.meta.get("reply_to"))
            mid = await self._run_parts(key, parts)
            if out.case_id:
                await self.store.link("tgmsg", mid, out.case_id)
            return str(mid)
        case = await self.store.get_case(out.case_id) if out.case_id else None
        if case is None:
            raise DeliveryError(f"no case {out.case_id}", permanent=True)
        for attempt in range(3):
            thread, plain = await self._place(case.id)
            try:
                return await self._show(case, out, key, thread, plain)
            except DeliveryError as e:
                cause = e.__cause__
                if attempt == 2 or plain or not isinstance(cause, TelegramAPIError):
                    raise
                if _topic_closed(cause):
                    with contextlib.suppress(TelegramAPIError):
                        await self.bot.reopen_forum_topic(self.staff_chat, thread)
                elif _topic_gone(cause):
                    await self._forget_topic(case.id, thread)
                    if out.kind == StaffKind.CASE_OPENED:
                        await self.redis.delete(self.store.k("tg", "done", key))
                else:
                    raise
        raise AssertionError("unreachable")

    async def _show(self, case, out: Outbound, key: str, thread: int | None, plain: bool) -> str:
        kind = out.kind
        parts: list[Callable[[], Awaitable[int]]]
        chat = self.staff_chat
        header = f"[{case.number}] " if plain else ""
        reply_to = None
        if plain:
            meta = await self.store.case_meta(case.id)
            reply_to = int(meta["tg_card"]) if meta.get("tg_card") else None
        if kind == StaffKind.CASE_OPENED:
            parts = self._parts(chat, out.text, (), card_keyboard(case.id), thread)
        elif kind == StaffKind.CUSTOMER_MESSAGE:
            ref = out.copy_from
            if ref is not None and ref.channel == "telegram" and not plain:
                parts = [lambda: self._copy(chat, int(ref.chat_id), int(ref.message_id), thread)]
            else:
                who = out.meta.get("name") or case.display_name
                merged = int(out.meta.get("merged", 1))
                label = f"👤 {who}" + (f" ({merged} messages)" if merged > 1 else "")
                text = f"{header}{label}:\n{out.text}" if out.text else f"{header}{label}"
                if out.attachments and not out.text:
                    text = f"{header}{label}"
                parts = self._parts(chat, text, out.attachments, None, thread, reply_to)
        else:
            parts = self._parts(chat, header + out.text, out.attachments, None, thread, reply_to)
        mid = await self._run_parts(key, parts)
        await self.store.link("tgmsg", mid, case.id)
        if kind == StaffKind.CASE_OPENED:
            await self.store.set_case_meta(case.id, tg_card=str(mid))
        if kind == StaffKind.STATUS and not plain and thread is not None:
            await self._rename(case.id, thread)
        return str(mid)

    async def _rename(self, case_id: int, thread: int) -> None:
        case = await self.store.get_case(case_id)
        if case is None:
            return
        title = case.topic_title()
        meta = await self.store.case_meta(case_id)
        if meta.get("tg_title") == title:
            return
        try:
            await self.bot.edit_forum_topic(self.staff_chat, thread, name=title)
        except TelegramAPIError as e:
            if "not_modified" not in str(e.message).lower():
                log.warning("telegram: renaming topic of case %s failed: %s", case_id, e.message)
                return
        await self.store.set_case_meta(case_id, tg_title=title)

    async def _place(self, case_id: int) -> tuple[int | None, bool]:
        """The case's topic (created now if it has none) -> (thread id, plain mode)."""
        meta = await self.store.case_meta(case_id)
        if meta.get("tg_topic"):
            return int(meta["tg_topic"]), False
        if meta.get("tg_plain"):
            return None, True
        async with self.redis.lock(self.store.k("tg", "topiclock", case_id), timeout=60, blocking_timeout=120):
            meta = await self.store.case_meta(case_id)
            if meta.get("tg_topic"):
                return int(meta["tg_topic"]), False
            if meta.get("tg_plain"):
                return None, True
            case = await self.store.get_case(case_id)
            assert case is not None
            if await self.redis.get(self.store.k("tg", "noforum")):
                await self.store.set_case_meta(case_id, tg_plain="1")
                return None, True
            try:
                topic = await self.bot.create_forum_topic(self.staff_chat, name=case.topic_title())
            except TelegramBadRequest as e:
                if "not a forum" in str(e.message).lower():
                    await self.redis.set(self.store.k("tg", "noforum"), "1", ex=600)
                    await self.store.set_case_meta(case_id, tg_plain="1")
                    return None, True
                raise to_delivery_error(e) from e
            except TelegramAPIError as e:
                raise to_delivery_error(e) from e
            thread = topic.message_thread_id
            await self.store.set_case_meta(case_id, tg_topic=str(thread), tg_title=case.topic_title())
            await self.store.link("tgtopic", thread, case_id)
            had_card = bool(meta.get("tg_card"))
        if had_card:  # a recreated topic: show the card again so the topic makes sense on its own
            await self._repost_card(case_id, thread)
        return thread, False

    async def _forget_topic(self, case_id: int, thread: int | None) -> None:
        log.info("telegram: topic %s of case %s is gone; recreating it", thread, case_id)
        await self.redis.hdel(self.store.k("case", case_id, "meta"), "tg_topic")

    async def _repost_card(self, case_id: int, thread: int) -> None:
        card = await self.desk.case_card(case_id)
        if card is None:
            return
        try:
            parts = self._parts(self.staff_chat, card, (), card_keyboard(case_id), thread)
            mid = await self._run_parts(f"card:{case_id}:{thread}", parts)
        except DeliveryError as e:
            log.warning("telegram: re-posting the card of case %s failed: %s", case_id, e.reason)
            return
        await self.store.link("tgmsg", mid, case_id)
        await self.store.set_case_meta(case_id, tg_card=str(mid))
