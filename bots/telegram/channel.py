"""TelegramChannel: the customers' side (private chats) and the staff side (the operators' supergroup).

Customers: updates (polling by default, webhook when TELEGRAM_WEBHOOK_URL is set) become ``Inbound`` events
for the desk; ``send`` delivers the desk's answers (texts split at 4096 chars, inline buttons, files).
``preflight`` (called by ``supportbot run`` first) checks the token and the staff group and says in one line
what is wrong. Only one process polls at a time (a lock in Redis; the others stand by and take over); an
update that fails to be handled is fetched again, never skipped (see ``_poll``). A webhook request must carry
TELEGRAM_WEBHOOK_SECRET; without a configured secret every request is refused.

Staff: ``send_staff`` shows a case in the staff group: a forum topic per case (named ``case.topic_title()``)
opened by the card with Take / Needs info / Resolve / Escalate buttons; the customer's messages relayed into
it (copied as they are); status lines (and the topic renamed). Operators' messages in a topic go back to the
customer (``!`` notes stay); the staff commands (``core.desk.STAFF_COMMANDS``) act on the topic's case, any
other "/text" is a message like the rest. Administrators posting anonymously (as the group) are operators
too, named by their signature. Without topics ("the chat is not a forum") every case message is a plain group
message (a customer's message: a "[#N] 👤 name:" line, then its copy, both replying to the card) and
operators answer with Telegram's reply to any message of the case; a reply to a message whose link expired
gets "use /case N". Edits: a customer's edit is shown in the topic ("✏️ edited: ..."), an operator's edit
is sent to the customer as a new message ("✏️ ...").

Redis (under the store prefix): ``ref:tgtopic:{thread}`` (permanent) / ``ref:tgmsg:{message id}`` (90 days)
-> case (via ``store.link``), case meta ``tg_topic`` / ``tg_card`` / ``tg_plain`` / ``tg_title``,
``dedup:telegram-update:{id}``, ``tg:done:{key}`` (how many parts of a multi-part send went out, so a retry
does not repeat them), ``tg:noforum`` (the group has no topics; rechecked after 10 minutes),
``tg:topiclock:{case}``, ``tg:poller`` (the polling process's lock, renewed every 10 s, expires after 30 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import re
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import PurePosixPath
from typing import Any

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    ClientDecodeError,
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
from redis.exceptions import RedisError

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
UPLOAD_MAX = 50 * 1024 * 1024  # what a bot may upload
LINK_TTL = 90 * 24 * 3600  # ref:tgmsg links (a reply to an older message asks for /case N)
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]
PREFLIGHT_TRIES = 5
POISON_ROUNDS = 5  # rounds an update failing for a non-transient reason is retried before it is given up
VIDEO_NOTE_NAME = "video_note.mp4"  # the file name that marks a Telegram video note (a round video)
UNKNOWN_CASE = "I don't know which case this message belongs to (too old?): use /case N"
WEBHOOK_PATH = "/webhooks/telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# Telegram's published limits; Delivery enforces them for every process together.
PER_CHAT = (1, 1.0)
PER_GROUP = (20, 60.0)
GLOBAL = (30, 1.0)
CARD_BUTTONS = (("Take", "take"), ("Needs info", "needinfo"), ("Resolve", "resolve"), ("Escalate", "escalate"))
_COMMAND = re.compile(r"^/([A-Za-z_]+)(?:@(\S+))?\s*(.*)$", re.S)
_CAPTIONED = {"photo", "document", "video", "audio", "voice"}


def _is_video_note(att: Attachment) -> bool:
    return att.channel == "telegram" and att.kind == AttachmentKind.VIDEO and att.filename == VIDEO_NOTE_NAME


def _captioned(att: Attachment) -> bool:
    """Sent with the text as its caption (one call)."""
    return att.kind in _CAPTIONED and not _is_video_note(att)


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


def _transient(e: BaseException) -> bool:
    """Redis or the network: worth retrying for as long as it takes."""
    return isinstance(
        e, RedisError | OSError | TimeoutError | TelegramNetworkError | TelegramServerError | TelegramRetryAfter
    )


# KEYS: lock. ARGV: token, ttl ms. Renews (1) or releases (DEL) the polling lock only if we still hold it.
_RENEW_LUA = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0"
_RELEASE_LUA = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


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
        (AttachmentKind.DOCUMENT, msg.animation if msg.document is None else None),  # a GIF comes as both
    ):
        if obj is not None:
            out.append(
                Attachment(
                    kind,
                    obj.file_id,
                    "telegram",
                    getattr(obj, "file_name", None),
                    getattr(obj, "mime_type", None),
                    obj.file_size,
                )
            )
    if msg.video_note:  # a video to other channels; sent back to Telegram as a video note (by its name)
        v = msg.video_note
        out.append(Attachment(AttachmentKind.VIDEO, v.file_id, "telegram", VIDEO_NOTE_NAME, "video/mp4", v.file_size))
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
        head = (settings.telegram_bot_token or "").partition(":")[0]
        self.bot_id: int | None = int(head) if head.isdigit() else None  # the token starts with the bot's id
        # polling leadership (one process polls; see _poll_as_leader) and backoffs, in seconds
        self.polling = False
        self.leader_ttl = 30.0
        self.leader_renew = 10.0
        self.retry_backoff = 1.0
        self.preflight_backoff = 1.0
        self._plain_cases: set[int] = set()  # cases shown without topics (a relay there costs two calls)

    # ================================================================ Channel protocol: receiving
    async def preflight(self) -> None:
        """Check the token and the staff group before anything runs; a problem -> ``ConfigError`` (one line).

        The token must be accepted (getMe); the staff chat must exist, be a supergroup and have this bot as an
        administrator, with "Manage topics" when the group has topics. Network failures are retried a few
        times before giving up with a clear error too."""
        from bots.runner import ConfigError

        me = None
        for attempt in range(PREFLIGHT_TRIES):
            try:
                me = await self.bot.get_me()
                break
            except TelegramUnauthorizedError as e:
                raise ConfigError("TELEGRAM_BOT_TOKEN was refused by Telegram (401 Unauthorized)") from e
            except (TelegramAPIError, ClientDecodeError, OSError, TimeoutError) as e:
                if attempt == PREFLIGHT_TRIES - 1:
                    raise ConfigError(
                        f"cannot reach the Telegram Bot API at {self.settings.telegram_api_url}: "
                        f"{getattr(e, 'message', None) or e!r}"
                    ) from e
                await asyncio.sleep(self.preflight_backoff * 2**attempt)
        assert me is not None
        self._username = me.username
        self.bot_id = me.id
        staff = self.staff_chat
        if staff is None:
            return
        try:
            chat = await self.bot.get_chat(staff)
            member = await self.bot.get_chat_member(staff, me.id)
        except TelegramMigrateToChat as e:
            raise ConfigError(
                f"TELEGRAM_STAFF_CHAT_ID={staff} was upgraded to a supergroup: "
                f"set TELEGRAM_STAFF_CHAT_ID={e.migrate_to_chat_id}"
            ) from e
        except (TelegramBadRequest, TelegramNotFound, TelegramForbiddenError) as e:
            raise ConfigError(
                f"TELEGRAM_STAFF_CHAT_ID={staff}: the bot cannot see this chat ({e.message}); "
                "add the bot to the operators' supergroup and check the id"
            ) from e
        except (TelegramAPIError, ClientDecodeError, OSError, TimeoutError) as e:
            raise ConfigError(
                f"cannot check TELEGRAM_STAFF_CHAT_ID={staff}: {getattr(e, 'message', None) or e!r}"
            ) from e
        if chat.type != "supergroup":
            raise ConfigError(
                f"TELEGRAM_STAFF_CHAT_ID={staff} is a {chat.type}, not a supergroup: "
                "make the operators' group a supergroup (e.g. turn on Topics) and use its new id"
            )
        if member.status not in ("administrator", "creator"):
            raise ConfigError(
                f"the bot @{me.username} is not an administrator of the staff group {staff}: "
                'promote it (with "Manage topics")'
            )
        if chat.is_forum and member.status == "administrator" and not getattr(member, "can_manage_topics", False):
            raise ConfigError(
                f"the bot @{me.username} may not manage topics in the staff group {staff}: "
                'give it the "Manage topics" right'
            )

    async def run(self, hub: Any) -> None:
        self.hub = hub
        with contextlib.suppress(Exception):
            self._username = (await self.bot.get_me()).username
        if self.webhook_url:
            await self._set_webhook()
            return
        with contextlib.suppress(TelegramAPIError, ClientDecodeError, OSError, TimeoutError):
            await self.bot.delete_webhook()
        await self._poll_as_leader(hub)

    async def _set_webhook(self) -> None:
        from bots.runner import ConfigError

        failures = 0
        while True:
            try:
                await self.bot.set_webhook(
                    self.webhook_url, secret_token=self.webhook_secret, allowed_updates=ALLOWED_UPDATES
                )
                log.info("telegram: webhook set to %s", self.webhook_url)
                return
            except TelegramRetryAfter as e:
                await asyncio.sleep(e.retry_after)
            except (TelegramBadRequest, TelegramUnauthorizedError) as e:
                raise ConfigError(f"Telegram refused TELEGRAM_WEBHOOK_URL={self.webhook_url}: {e.message}") from e
            except (TelegramAPIError, ClientDecodeError, OSError, TimeoutError) as e:
                failures += 1
                log.error("telegram: setWebhook failed (%s); retrying", getattr(e, "message", None) or repr(e))
                await asyncio.sleep(min(60.0, 0.5 * 2 ** min(failures, 7)))

    async def _poll_as_leader(self, hub: Any) -> None:
        """Poll only while this process holds the polling lock in Redis (Telegram serves getUpdates to one
        client at a time); other processes stand by (their outbox workers still send) and take over when the
        leader stops or dies (the lock expires after ``leader_ttl`` seconds without renewal)."""
        key = self.store.k("tg", "poller")
        token = uuid.uuid4().hex
        told = False
        while True:
            try:
                got = await self.redis.set(key, token, nx=True, px=int(self.leader_ttl * 1000))
            except Exception as e:
                log.warning("telegram: cannot take the polling lock (%r); retrying", e)
                await asyncio.sleep(self.leader_renew)
                continue
            if not got:
                if not told:
                    log.info("telegram: another process polls Telegram; this one stands by (outbox only)")
                    told = True
                await asyncio.sleep(self.leader_renew)
                continue
            told = False
            log.info("telegram: this process polls Telegram")
            lost = asyncio.Event()
            keeper = asyncio.create_task(self._keep_lock(key, token, lost), name="telegram-poll-lock")
            self.polling = True
            try:
                await self._poll(hub, lost)
            finally:
                self.polling = False
                keeper.cancel()
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(2):
                        await self.redis.eval(_RELEASE_LUA, 1, key, token)
            log.warning("telegram: lost the polling lock to another process; standing by")

    async def _keep_lock(self, key: str, token: str, lost: asyncio.Event) -> None:
        """Renew the polling lock while we poll; set ``lost`` when another process holds it now."""
        while True:
            await asyncio.sleep(self.leader_renew)
            try:
                still = await self.redis.eval(_RENEW_LUA, 1, key, token, int(self.leader_ttl * 1000))
            except Exception as e:  # Redis away: keep polling (handling retries), try again later
                log.warning("telegram: cannot renew the polling lock (%r)", e)
                continue
            if not still:
                lost.set()
                return

    async def _poll(self, hub: Any, stop: asyncio.Event | None = None) -> None:
        """getUpdates until cancelled. The offset never moves past an update that failed to be handled: it
        is fetched again (with the ones after it: dedup skips those already handled) after a capped backoff.
        Only an update that keeps failing for another reason than Redis or the network is given up on after
        ``POISON_ROUNDS`` rounds, logged as an ERROR with its raw JSON. Returns when ``stop`` is set."""
        offset: int | None = None
        failures = 0
        stuck = 0
        me = asyncio.current_task()
        while True:
            if me is not None and me.cancelling():  # a cancellation swallowed by a library: honour it
                raise asyncio.CancelledError
            if stop is not None and stop.is_set():
                return
            try:
                updates = await self.bot.get_updates(
                    offset=offset,
                    timeout=self.poll_timeout,
                    allowed_updates=ALLOWED_UPDATES,
                    request_timeout=self.poll_timeout + 10,
                )
                failures = 0
            except asyncio.CancelledError:
                raise
            except TelegramRetryAfter as e:
                await asyncio.sleep(e.retry_after)
                continue
            except Exception as e:  # network trouble, 5xx, another poller (409): back off and poll again
                failures += 1
                log.warning("telegram: getUpdates failed (%r); retrying", e)
                await asyncio.sleep(min(30.0, 0.5 * 2 ** min(failures, 6)))
                continue
            if not updates:
                continue
            failed = await self.process_batch(updates, hub)
            if failed is None:
                offset = updates[-1].update_id + 1
                stuck = 0
                continue
            update, error = failed
            offset = update.update_id
            stuck += 1
            if stuck >= POISON_ROUNDS and not _transient(error):
                log.error(
                    "telegram: giving up on update %s after %d attempts (%r): %s",
                    update.update_id,
                    stuck,
                    error,
                    update.model_dump_json(exclude_none=True),
                )
                offset = update.update_id + 1
                stuck = 0
                continue
            delay = min(30.0, self.retry_backoff * 2 ** min(stuck - 1, 8))
            log.warning("telegram: update %s failed (%r); trying it again in %.1fs", update.update_id, error, delay)
            await asyncio.sleep(delay)

    async def process_batch(self, updates: list[Update], hub: Any) -> tuple[Update, BaseException] | None:
        """Updates of one chat in order; different chats at the same time. A chat stops at its first update
        that fails; returns the earliest failed update (and its error), or None when all were handled."""
        by_chat: dict[str, list[Update]] = defaultdict(list)
        for u in updates:
            by_chat[self._chat_key(u)].append(u)
        failures: list[tuple[Update, BaseException]] = []

        async def one_chat(items: list[Update]) -> None:
            for u in items:
                try:
                    await self.handle_update(u, hub)
                except Exception as e:  # e.g. Redis briefly away; the desk undid its dedup mark
                    log.exception("telegram: update %s failed", u.update_id)
                    failures.append((u, e))
                    return  # the later updates of this chat wait for it

        await asyncio.gather(*(one_chat(items) for items in by_chat.values()))
        return min(failures, key=lambda f: f[0].update_id) if failures else None

    @staticmethod
    def _chat_key(u: Update) -> str:
        msg = u.message or u.edited_message
        if msg is not None:
            return str(msg.chat.id)
        if u.callback_query is not None:
            return str(u.callback_query.from_user.id)
        return f"u{u.update_id}"

    def routes(self, hub: Any) -> list[web.RouteDef]:
        self.hub = hub
        if not self.webhook_url:
            return []
        return [web.post(WEBHOOK_PATH, self._webhook)]

    async def _webhook(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        # no secret configured (runner.check refuses that): nothing can prove it comes from Telegram
        if not self.webhook_secret or not hmac.compare_digest(given, self.webhook_secret.encode()):
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
            elif update.edited_message is not None:
                await self._on_edit(update.edited_message, hub)
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
            log.info(
                "telegram: ignoring a message in chat %s (%s %r): not TELEGRAM_STAFF_CHAT_ID=%s",
                msg.chat.id,
                msg.chat.type,
                msg.chat.title,
                self.staff_chat,
            )
            return
        if msg.from_user is None or msg.from_user.is_bot:
            return
        await hub.customer(self._inbound(msg))

    async def _on_edit(self, msg: Message, hub: Any) -> None:
        """An edited message: the other side gets the new text as a new message (a copy cannot be edited)."""
        text = msg.text or msg.caption or ""
        if self.staff_chat is not None and msg.chat.id == self.staff_chat:
            operator = self._sender(msg)
            case_id = await self._case_of(msg) if operator is not None else None
            command = _COMMAND.match(text)
            is_command = command is not None and command.group(1).lower() in STAFF_COMMANDS
            if case_id is None or not text or text.startswith("!") or is_command:
                return  # an edited note or command changes nothing
            await hub.submit(await self.desk.operator_message(case_id, operator, f"✏️ {text}"))
            return
        if msg.chat.type != "private" or msg.from_user is None or msg.from_user.is_bot or not text:
            return
        user = UserRef("telegram", str(msg.chat.id))
        if await self.store.is_banned(user):
            return
        case = await self.store.open_case_of(user)
        if case is None:
            return  # before a handoff an edit changes nothing: the bot already answered
        await self.store.log(case.id, "customer", f"✏️ edited: {text}")
        await hub.submit([to_staff(case.id, f"✏️ edited: {text}", StaffKind.INFO)])

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
                    text="",
                    message_id=f"cb:{cq.id}",
                    payload=cq.data,
                    language=cq.from_user.language_code,
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

    def _sender(self, msg: Message) -> Operator | None:
        """The operator who wrote ``msg`` in the staff group: a person, or an administrator posting anonymously
        (as the group itself: signed with their custom title, if any); None for bots and other chats."""
        if msg.sender_chat is not None:
            if msg.sender_chat.id == self.staff_chat:
                name = msg.author_signature or "Operator"
                return Operator(id=f"anon:{name}", name=name)
            return None  # a linked channel's post, another chat speaking
        if msg.from_user is None or msg.from_user.is_bot:
            return None
        return self._operator(msg.from_user)

    async def _case_of(self, msg: Message) -> int | None:
        if msg.message_thread_id and msg.is_topic_message:
            case_id = await self.store.lookup("tgtopic", msg.message_thread_id)
            if case_id is not None:
                return case_id
        if msg.reply_to_message is not None:
            return await self.store.lookup("tgmsg", msg.reply_to_message.message_id)
        return None

    def _replies_to_us(self, msg: Message) -> bool:
        """``msg`` answers a message of this bot (not the topic's first service message, not a colleague)."""
        r = msg.reply_to_message
        if r is None or r.from_user is None or self.bot_id is None or r.from_user.id != self.bot_id:
            return False
        return not (msg.is_topic_message and r.message_id == msg.message_thread_id)

    @staticmethod
    def _here(msg: Message, outs: list[Outbound]) -> list[Outbound]:
        """Command answers (REPLY) go where the command was typed, not necessarily to the case's topic."""
        thread = msg.message_thread_id if msg.is_topic_message else None
        return [
            replace(o, meta={**o.meta, "thread": thread, "reply_to": msg.message_id})
            if o.audience == Audience.STAFF and o.kind == StaffKind.REPLY
            else o
            for o in outs
        ]

    async def _on_staff_message(self, msg: Message, hub: Any) -> None:
        operator = self._sender(msg)
        if operator is None:
            return
        text = msg.text or msg.caption or ""
        attachments = attachments_of(msg)
        if not text and not attachments:
            return  # service messages: topic created, member joined...
        command = _COMMAND.match(text) if msg.text else None
        if command is not None:
            name, mention, args = command.group(1).lower(), command.group(2), command.group(3).strip()
            if mention and self._username and mention.lower() != self._username.lower():
                return  # addressed to another bot
            if name not in STAFF_COMMANDS:
                command = None  # "/etc/hosts", "/shrug": a message like any other
        if command is not None:
            if name == "case" and args:
                number = args.split()[0].lstrip("#")
                if not number.isdigit():
                    await hub.submit(self._here(msg, [to_staff(0, "Usage: /case N", StaffKind.REPLY)]))
                    return
                await hub.submit(self._here(msg, await self.desk.operator_command(int(number), "case", operator)))
                return
            case_id = await self._case_of(msg)
            if case_id is None:
                hint = f"/{name}: use it in a case's topic or as a reply to a case's message (or /case N)."
                if self._replies_to_us(msg):
                    hint = UNKNOWN_CASE
                await hub.submit(self._here(msg, [to_staff(0, hint, StaffKind.REPLY)]))
                return
            await hub.submit(self._here(msg, await self.desk.operator_command(case_id, name, operator)))
            return
        case_id = await self._case_of(msg)
        if case_id is None:
            if self._replies_to_us(msg):  # a reply to a case message whose link expired (or never was)
                await hub.submit(self._here(msg, [to_staff(0, UNKNOWN_CASE, StaffKind.REPLY)]))
            return  # otherwise: general chat between operators
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
            if out.audience == Audience.STAFF and out.case_id in self._plain_cases:
                return 2  # without topics: a header line, then the copy
            return 1 + extra
        atts = len(out.attachments)
        text = out.text or ""
        if atts == 1 and len(text) <= CAPTION_MAX and _captioned(out.attachments[0]):
            return 1 + extra
        return max(1, (len(split_text(text)) if text else 0) + atts) + extra

    async def send(self, out: Outbound, key: str) -> str:
        assert out.to is not None
        chat = int(out.to.user_id)
        parts: list[Callable[[], Awaitable[int]]] = []
        if out.copy_from is not None and out.copy_from.channel == "telegram":
            ref = out.copy_from
            parts.append(lambda: self._copy(chat, int(ref.chat_id), int(ref.message_id), None, None))
        else:
            parts = self._parts(chat, out.text, out.attachments, keyboard(out.buttons), None)
        return str(await self._run_parts(key, parts))

    def _parts(
        self, chat: int, text: str, attachments, markup, thread: int | None, reply_to: int | None = None
    ) -> list[Callable[[], Awaitable[int]]]:
        """The API calls that show ``text`` and ``attachments`` (buttons on the last text part)."""
        parts: list[Callable[[], Awaitable[int]]] = []
        text = text or ""
        if len(attachments) == 1 and len(text) <= CAPTION_MAX and _captioned(attachments[0]):
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

    async def _run_parts(self, key: str, parts: list[Callable[[], Awaitable[int]]], case_id: int | None = None) -> int:
        """Run the parts of one delivery; a retry skips those that already went out. With ``case_id``, every
        message sent is linked to the case (an operator's reply to any of them acts on the case)."""
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
            if case_id:
                await self.store.link("tgmsg", last, case_id, ttl=LINK_TTL)
            if len(parts) > 1:
                await self.redis.set(done_key, i + 1, ex=86400)
        if len(parts) > 1:
            await self.redis.delete(done_key)
        return last

    async def _send_text(self, chat: int, text: str, thread: int | None, markup, reply_to: int | None) -> int:
        reply = ReplyParameters(message_id=reply_to, allow_sending_without_reply=True) if reply_to else None
        m = await self.bot.send_message(
            chat, text, message_thread_id=thread, reply_markup=markup, reply_parameters=reply, parse_mode=None
        )
        return m.message_id

    async def _copy(self, chat: int, from_chat: int, message_id: int, thread: int | None, reply_to: int | None) -> int:
        reply = ReplyParameters(message_id=reply_to, allow_sending_without_reply=True) if reply_to else None
        m = await self.bot.copy_message(chat, from_chat, message_id, message_thread_id=thread, reply_parameters=reply)
        return m.message_id

    async def _input(self, att: Attachment):
        if att.channel == "telegram":
            return att.ref  # a file_id this bot received: reusable as is
        if att.size and att.size > UPLOAD_MAX:
            raise DeliveryError(
                f"file too large for Telegram ({att.size // 2**20} MB; bots may send up to 50 MB)", permanent=True
            )
        if self.media is None:
            raise DeliveryError(f"cannot fetch a {att.channel} file (no media resolver)", permanent=True)
        media = await self.media(att)
        if len(media.data) > UPLOAD_MAX:
            raise DeliveryError(
                f"file too large for Telegram ({len(media.data) // 2**20} MB; bots may send up to 50 MB)",
                permanent=True,
            )
        return BufferedInputFile(media.data, filename=att.filename or media.filename)

    async def _send_file(
        self, chat: int, att: Attachment, caption: str | None, thread: int | None, markup, reply_to: int | None
    ) -> int:
        file = await self._input(att)
        common: dict[str, Any] = {"message_thread_id": thread, "reply_markup": markup}
        if reply_to:
            common["reply_parameters"] = ReplyParameters(message_id=reply_to, allow_sending_without_reply=True)
        cap: dict[str, Any] = {"caption": caption, "parse_mode": None} if caption else {}
        kind = att.kind
        if kind == AttachmentKind.PHOTO:
            m = await self.bot.send_photo(chat, file, **cap, **common)
        elif _is_video_note(att):
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
            return str(await self._run_parts(key, parts, out.case_id))
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
            if ref is not None and ref.channel == "telegram":
                parts = [lambda: self._copy(chat, int(ref.chat_id), int(ref.message_id), thread, reply_to)]
                if plain:  # who and which case, then the message itself (locations, polls... as they are)
                    who = out.meta.get("name") or case.display_name
                    parts.insert(0, lambda: self._send_text(chat, f"{header}👤 {who}:", None, None, reply_to))
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
        mid = await self._run_parts(key, parts, case.id)
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
        thread, plain = await self._find_place(case_id)
        if plain:
            self._plain_cases.add(case_id)
        return thread, plain

    async def _find_place(self, case_id: int) -> tuple[int | None, bool]:
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
            mid = await self._run_parts(f"card:{case_id}:{thread}", parts, case_id)
        except DeliveryError as e:
            log.warning("telegram: re-posting the card of case %s failed: %s", case_id, e.reason)
            return
        await self.store.set_case_meta(case_id, tg_card=str(mid))
