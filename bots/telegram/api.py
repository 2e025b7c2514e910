"""The Bot API as the adapter uses it: options, the aiogram ``Bot``, error mapping, preflight, downloads, and the
low-level sends (text, copy, copies, files) with Telegram's limits.

A send is built as a list of *parts* (one API call each, returning the native id(s) it produced) and run by
``run_parts``: parts that went out before a retry (``SendContext.progress``) are not sent again, and every
part is recorded as it goes out.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, fields
from pathlib import PurePosixPath
from typing import Any

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.types import BufferedInputFile, InlineKeyboardButton, InlineKeyboardMarkup, ReplyParameters, User

from bots.kit import split_text
from bots.ports import DeliveryError, Limit, Media, SendContext
from core.messages import Attachment, AttachmentKind, Button

log = logging.getLogger("bots.telegram")

TEXT_MAX = 4096
CAPTION_MAX = 1024
FILE_MAX = 20 * 1024 * 1024  # getFile limit of the Bot API
UPLOAD_MAX = 50 * 1024 * 1024  # what a bot may upload
COPIES_MAX = 100  # message ids per copyMessages call
LINK_TTL = 90 * 24 * 3600  # tgmsg links: a reply to an older message asks for /case N
VIDEO_NOTE_NAME = "video_note.mp4"  # the file name that marks a Telegram video note (a round video)
# Telegram's published limits; the outbox enforces them for every process together.
PER_CHAT = (1, 1.0)
PER_GROUP = (20, 60.0)
GLOBAL = (30, 1.0)
_CAPTIONED = {"photo", "document", "video", "audio", "voice"}

Part = Callable[[], Awaitable[str]]  # one API call; returns the native message id(s) sent, comma-separated


@dataclass(frozen=True, slots=True)
class TelegramOptions:
    token: str
    staff_chat_id: int | None = None
    escalation_chat_id: int | None = None  # escalated cases are posted there too (TELEGRAM_ESCALATION_CHAT_ID)
    api_url: str = "https://api.telegram.org"
    webhook_url: str | None = None
    webhook_secret: str | None = None
    poll_timeout: int = 25  # getUpdates long-poll seconds
    leader_ttl: float = 30.0  # the polling lease expires after this long without renewal
    leader_renew: float = 10.0  # renewed (and, standing by, tried) this often
    retry_backoff: float = 1.0  # first wait before an update that failed is fetched again
    preflight_backoff: float = 1.0  # first wait before getMe is tried again at start-up

    @classmethod
    def from_settings(cls, settings: Any, **overrides: Any) -> TelegramOptions:
        base: dict[str, Any] = {
            "token": settings.telegram_bot_token or "",
            "staff_chat_id": settings.telegram_staff_chat_id,
            "escalation_chat_id": settings.telegram_escalation_chat_id,
            "api_url": settings.telegram_api_url,
            "webhook_url": settings.telegram_webhook_url,
            "webhook_secret": settings.telegram_webhook_secret,
        }
        unknown = set(overrides) - {f.name for f in fields(cls)}
        if unknown:
            raise TypeError(f"unknown Telegram options: {', '.join(sorted(unknown))}")
        return cls(**{**base, **overrides})


def is_video_note(att: Attachment) -> bool:
    return att.channel == "telegram" and att.kind == AttachmentKind.VIDEO and att.filename == VIDEO_NOTE_NAME


def captioned(att: Attachment) -> bool:
    """Sent with the text as its caption (one call)."""
    return att.kind in _CAPTIONED and not is_video_note(att)


def keyboard(buttons: Sequence[Button]) -> InlineKeyboardMarkup | None:
    if not buttons:
        return None
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=b.label[:64], callback_data=b.payload[:64])] for b in buttons]
    )


def calls_for(text: str, attachments: Sequence[Attachment], captions: bool = True) -> int:
    """How many API calls ``content_parts`` makes for ``text`` and ``attachments`` (at least one)."""
    if captions and len(attachments) == 1 and len(text) <= CAPTION_MAX and captioned(attachments[0]):
        return 1
    return max(1, len(split_text(text, TEXT_MAX)) + len(attachments))


def copy_runs(copies: Sequence[dict[str, Any]]) -> list[tuple[int, list[int]]]:
    """Native messages to copy, as (source chat, ascending ids) runs: one copyMessages call each."""
    runs: list[tuple[int, list[int]]] = []
    for c in copies:
        source, mid = int(c["chat_id"]), int(c["message_id"])
        if runs and runs[-1][0] == source and len(runs[-1][1]) < COPIES_MAX and mid > runs[-1][1][-1]:
            runs[-1][1].append(mid)
        else:
            runs.append((source, [mid]))
    return runs


def chat_limits(chat: str | int | None, calls: int) -> list[Limit]:
    return [Limit(f"tg:chat:{chat}", *PER_CHAT), Limit("tg:global", *GLOBAL)] * calls


def group_limits(chat: int | None, calls: int) -> list[Limit]:
    return [Limit(f"tg:group:{chat}", *PER_GROUP), Limit("tg:global", *GLOBAL)] * calls


def to_delivery_error(e: TelegramAPIError) -> DeliveryError:
    """The outbox's view of an aiogram error: retry later, retry after N seconds, or give up."""
    msg = str(e.message)
    low = msg.lower()
    if isinstance(e, TelegramRetryAfter):
        return DeliveryError(msg, retry_after=float(e.retry_after))
    if isinstance(e, TelegramEntityTooLarge):
        return DeliveryError("file too large for Telegram", permanent=True)
    if isinstance(e, TelegramMigrateToChat):
        log.error(
            "telegram: chat %s was upgraded to a supergroup; its new id is %s (set TELEGRAM_STAFF_CHAT_ID"
            " if it is the staff group)",
            getattr(e.method, "chat_id", None),
            e.migrate_to_chat_id,
        )
        return DeliveryError(f"the group moved to chat {e.migrate_to_chat_id}", permanent=True)
    if isinstance(e, TelegramUnauthorizedError):
        log.error("telegram: the bot token was refused (401): %s", msg)
        return DeliveryError("the bot token was refused by Telegram")
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


async def run_parts(parts: Sequence[Part], ctx: SendContext, sent: Callable[[str], None] | None = None) -> str:
    """Run the parts of one delivery; a retry skips those that already went out (``ctx.progress``).

    ``sent`` is called with the id(s) of every part, including those sent by an earlier attempt (so their
    links are recorded with this one). Returns the id of the last message sent."""
    progress = ctx.progress
    done = progress.done
    last = ""
    for i, part in enumerate(parts):
        if i < done:
            last = progress.sent[i] if i < len(progress.sent) else last
        else:
            try:
                last = await part()
            except TelegramAPIError as e:
                raise to_delivery_error(e) from e
            await progress.mark(i, last)
        if sent is not None and last:
            sent(last)
    return last.rpartition(",")[2]


class _Session(AiohttpSession):
    """aiogram's session. Closing it skips aiogram's 250 ms pause for TLS connections to shut down when the Bot
    API is reached over plain HTTP (a local Bot API server, the tests' stand-in): there is nothing to wait for."""

    async def close(self) -> None:
        inner = self._session
        if self.api.base.startswith("http://") and inner is not None and not inner.closed:
            await inner.close()
            return
        await super().close()


class TelegramApi:
    """The aiogram ``Bot`` over ``TELEGRAM_API_URL``, and the calls the adapter makes with it."""

    def __init__(self, options: TelegramOptions):
        self.options = options
        session = _Session(api=TelegramAPIServer.from_base(options.api_url))
        self.bot = Bot(options.token, session=session)
        head = options.token.partition(":")[0]
        self.bot_id: int | None = int(head) if head.isdigit() else None  # the token starts with the bot's id
        self.username: str | None = None

    async def close(self) -> None:
        await self.bot.session.close()

    async def whoami(self) -> User:
        me = await self.bot.get_me()
        self.bot_id, self.username = me.id, me.username
        return me

    # ------------------------------------------------------------------ files
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

    # ------------------------------------------------------------------ sends (each returns the message id)
    @staticmethod
    def _reply(reply_to: int | None) -> ReplyParameters | None:
        return ReplyParameters(message_id=reply_to, allow_sending_without_reply=True) if reply_to else None

    async def text(self, chat: int, text: str, thread: int | None = None, markup=None, reply_to: int | None = None):
        m = await self.bot.send_message(
            chat,
            text,
            message_thread_id=thread,
            reply_markup=markup,
            reply_parameters=self._reply(reply_to),
            parse_mode=None,
        )
        return m.message_id

    async def copy(
        self, chat: int, from_chat: int, message_id: int, thread: int | None = None, reply_to: int | None = None
    ) -> int:
        m = await self.bot.copy_message(
            chat, from_chat, message_id, message_thread_id=thread, reply_parameters=self._reply(reply_to)
        )
        return m.message_id

    async def copy_many(self, chat: int, from_chat: int, message_ids: list[int], thread: int | None = None):
        """Several messages of one chat in one copyMessages call (an album stays an album); their new ids."""
        got = await self.bot.copy_messages(chat, from_chat, sorted(message_ids), message_thread_id=thread)
        return [m.message_id for m in got]

    async def _input(self, att: Attachment, media: Callable[[Attachment], Awaitable[Media]]):
        if att.channel == "telegram":
            return att.ref  # a file_id this bot received: reusable as is
        too_big = "file too large for Telegram ({} MB; bots may send up to 50 MB)"
        if att.size and att.size > UPLOAD_MAX:
            raise DeliveryError(too_big.format(att.size // 2**20), permanent=True)
        got = await media(att)
        if len(got.data) > UPLOAD_MAX:
            raise DeliveryError(too_big.format(len(got.data) // 2**20), permanent=True)
        return BufferedInputFile(got.data, filename=att.filename or got.filename)

    async def file(
        self,
        chat: int,
        att: Attachment,
        media: Callable[[Attachment], Awaitable[Media]],
        caption: str | None = None,
        thread: int | None = None,
        markup=None,
        reply_to: int | None = None,
    ) -> int:
        file = await self._input(att, media)
        common: dict[str, Any] = {"message_thread_id": thread, "reply_markup": markup}
        if reply_to:
            common["reply_parameters"] = self._reply(reply_to)
        cap: dict[str, Any] = {"caption": caption, "parse_mode": None} if caption else {}
        kind = att.kind
        if kind == AttachmentKind.PHOTO:
            m = await self.bot.send_photo(chat, file, **cap, **common)
        elif is_video_note(att):
            m = await self.bot.send_video_note(chat, file, **common)  # a video note's file_id is no video
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

    # ------------------------------------------------------------------ parts
    def content_parts(
        self,
        chat: int,
        text: str,
        attachments: Sequence[Attachment],
        media: Callable[[Attachment], Awaitable[Media]],
        *,
        markup=None,
        markup_first: bool = False,
        thread: int | None = None,
        reply_to: int | None = None,
        captions: bool = True,
    ) -> list[Part]:
        """The calls that show ``text`` and ``attachments``: one captioned file when they fit (and ``captions``),
        else the text in parts of 4096 and then the files. Buttons go on the last text part (the first with
        ``markup_first``), or on the last file when there is no text."""

        def part(call: Callable[[], Awaitable[int]]) -> Part:
            async def run() -> str:
                return str(await call())

            return run

        text = text or ""
        if captions and len(attachments) == 1 and len(text) <= CAPTION_MAX and captioned(attachments[0]):
            att = attachments[0]
            return [part(lambda: self.file(chat, att, media, text or None, thread, markup, reply_to))]
        chunks = split_text(text, TEXT_MAX)
        parts: list[Part] = []
        for i, chunk in enumerate(chunks):
            on = i == (0 if markup_first else len(chunks) - 1)
            m = markup if on else None
            parts.append(part(lambda c=chunk, m=m: self.text(chat, c, thread, m, reply_to)))
        for i, att in enumerate(attachments):
            m = markup if not chunks and i == len(attachments) - 1 else None
            parts.append(part(lambda a=att, m=m: self.file(chat, a, media, None, thread, m, reply_to)))
        return parts

    def copies_parts(self, chat: int, copies: Sequence[dict[str, Any]], thread: int | None = None) -> list[Part]:
        """Copies of native messages (``{"chat_id", "message_id"}``): one copyMessages call per source chat."""

        def part(source: int, ids: list[int]) -> Part:
            async def run() -> str:
                got = await self.copy_many(chat, source, ids, thread)
                return ",".join(str(i) for i in got)

            return run

        return [part(source, ids) for source, ids in copy_runs(copies)]
