"""Updates in, by long polling (one poller per bot: the ``tg-poller`` lease) or the webhook; each as an event.

Translation only: in a private chat a message is an ``Inbound``, a press a ``ButtonPress``, an edit a
``CustomerEdit``; in the staff group what an operator types is an ``OperatorText`` (the desk tells commands,
``!notes`` and replies apart, and finds the case), a card's button an ``OperatorCommand``, an edit an
``OperatorEdit``. Bots, service messages and other chats are ignored; ``/take@otherbot`` is dropped, ``@ourbot``
stripped. Dedup is the sink's. Polling: a dead poller's lease expires (``leader_ttl``) and a standby takes
over; the offset never moves past an update the sink failed on (fetched again after a capped backoff), unless
it failed ``POISON_ROUNDS`` times for another reason than Redis or the network (ERROR log with its JSON).
Webhook: 403 without the secret (before the body is read), 413 for a body over ``WEBHOOK_MAX_BODY``, 400 for
what is not JSON or not an ``Update`` (aiogram's model validates it; Telegram itself never sends one, and gives
up re-sending after a few attempts), 500 only when the sink failed (Telegram delivers it again), 200 once
handled (or when the update means nothing for the desk).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import re
from collections import defaultdict
from typing import Any

from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.types import CallbackQuery, Message, Update
from aiohttp import web
from redis.exceptions import RedisError

from bots.kit import parse, webhook
from bots.ports import ChannelMemory, ConfigError, EventSink, StaffDirectory
from bots.telegram.api import VIDEO_NOTE_NAME, TelegramApi, TelegramOptions
from core.events import ButtonPress, CustomerEdit, Event, OperatorCommand, OperatorEdit, OperatorText, StaffPlace
from core.messages import Attachment, AttachmentKind, Inbound, MessageRef, Operator, UserRef

log = logging.getLogger("bots.telegram")

ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]
POISON_ROUNDS = 5  # rounds an update failing for a non-transient reason is retried before it is given up
WEBHOOK_PATH = "/webhooks/telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
WEBHOOK_MAX_BODY = 1024 * 1024  # an update is a few kilobytes; a larger body is refused (413)
ANSWERED_TTL = 3600.0  # a callback query is answered once, even when Telegram delivers it twice
_MENTION = re.compile(r"^(\s*/[A-Za-z_]+)@(\S+)")
_CARD_BUTTON = re.compile(r"^case:([A-Za-z_]+):(\d+)$")
_TOOL_BUTTON = re.compile(r"^(faqsend):(\d+):(\S+)$")  # an operators' tool's button: a /faq choice (the entry id)


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
            name, mime = getattr(obj, "file_name", None), getattr(obj, "mime_type", None)
            out.append(Attachment(kind, obj.file_id, "telegram", name, mime, obj.file_size))
    if msg.video_note:  # a video to other channels; sent back to Telegram as a video note (by its name)
        v = msg.video_note
        out.append(Attachment(AttachmentKind.VIDEO, v.file_id, "telegram", VIDEO_NOTE_NAME, "video/mp4", v.file_size))
    if msg.sticker:
        s = msg.sticker
        out.append(Attachment(AttachmentKind.STICKER, s.file_id, "telegram", s.emoji, None, s.file_size))
    return tuple(out)


def origin_of(msg: Message) -> MessageRef:
    return MessageRef("telegram", str(msg.chat.id), str(msg.message_id), group=msg.media_group_id)


def transient(e: BaseException) -> bool:
    """Redis or the network: worth retrying for as long as it takes."""
    return isinstance(
        e, RedisError | OSError | TimeoutError | TelegramNetworkError | TelegramServerError | TelegramRetryAfter
    )


class TelegramIntake:
    def __init__(self, api: TelegramApi, options: TelegramOptions, memory: ChannelMemory, directory: StaffDirectory):
        self.api = api
        self.bot = api.bot
        self.options = options
        self.memory = memory
        self.directory = directory
        self.staff_chat = options.staff_chat_id
        self.sink: EventSink | None = None
        self.polling = False  # this process holds the polling lease and polls
        self.standing_by = False  # another process polls; this one waits to take over

    # ================================================================ receiving
    async def run(self, sink: EventSink) -> None:
        self.sink = sink
        with contextlib.suppress(Exception):
            await self.api.whoami()
        if self.options.webhook_url:
            await self._set_webhook()
            return
        with contextlib.suppress(TelegramAPIError, ClientDecodeError, OSError, TimeoutError):
            await self.bot.delete_webhook()
        await self._poll_as_leader(sink)

    async def _set_webhook(self) -> None:
        opts = self.options
        failures = 0
        while True:
            try:
                url, secret = opts.webhook_url, opts.webhook_secret
                await self.bot.set_webhook(url, secret_token=secret, allowed_updates=ALLOWED_UPDATES)
                log.info("telegram: webhook set to %s", opts.webhook_url)
                return
            except TelegramRetryAfter as e:
                await asyncio.sleep(e.retry_after)
            except (TelegramBadRequest, TelegramUnauthorizedError) as e:
                raise ConfigError(f"Telegram refused TELEGRAM_WEBHOOK_URL={opts.webhook_url}: {e.message}") from e
            except (TelegramAPIError, ClientDecodeError, OSError, TimeoutError) as e:
                failures += 1
                log.error("telegram: setWebhook failed (%s); retrying", getattr(e, "message", None) or repr(e))
                await asyncio.sleep(min(60.0, 0.5 * 2 ** min(failures, 7)))

    async def _poll_as_leader(self, sink: EventSink) -> None:
        """Poll only while this process holds the polling lease (Telegram serves getUpdates to one client at
        a time); other processes stand by (their outbox workers still send) and take over when the leader
        stops or dies (the lease expires after ``leader_ttl`` seconds without renewal)."""
        opts = self.options
        lease = self.directory.lock("tg-poller", opts.leader_ttl)
        told = False
        while True:
            try:
                got = await lease.try_take()
            except Exception as e:
                log.warning("telegram: cannot take the polling lease (%r); retrying", e)
                await asyncio.sleep(opts.leader_renew)
                continue
            if not got:
                self.standing_by = True
                if not told:
                    log.info("telegram: another process polls Telegram; this one stands by (outbox only)")
                    told = True
                await asyncio.sleep(opts.leader_renew)
                continue
            told = self.standing_by = False
            log.info("telegram: this process polls Telegram")
            lost = asyncio.Event()
            keeper = asyncio.create_task(self._keep(lease, lost), name="telegram-poll-lease")
            self.polling = True
            try:
                await self._poll(sink, lost)
            finally:
                self.polling = False
                keeper.cancel()
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(2):
                        await lease.release()
            log.warning("telegram: lost the polling lease to another process; standing by")

    async def _keep(self, lease: Any, lost: asyncio.Event) -> None:
        """Renew the polling lease while we poll; set ``lost`` when another process holds it now."""
        while True:
            await asyncio.sleep(self.options.leader_renew)
            try:
                still = await lease.renew()
            except Exception as e:  # Redis away: keep polling (the sink fails and updates wait), try again
                log.warning("telegram: cannot renew the polling lease (%r)", e)
                continue
            if not still:
                lost.set()
                return

    async def _poll(self, sink: EventSink, stop: asyncio.Event | None = None) -> None:
        """getUpdates until cancelled (or ``stop`` is set); see the module docstring for failed updates."""
        opts = self.options
        offset: int | None = None
        failures = stuck = 0
        me = asyncio.current_task()
        while True:
            if me is not None and me.cancelling():  # a cancellation swallowed by a library: honour it
                raise asyncio.CancelledError
            if stop is not None and stop.is_set():
                return
            try:
                updates = await self.bot.get_updates(
                    offset=offset,
                    timeout=opts.poll_timeout,
                    allowed_updates=ALLOWED_UPDATES,
                    request_timeout=opts.poll_timeout + 10,
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
            failed = await self.process_batch(updates, sink)
            if failed is None:
                offset, stuck = updates[-1].update_id + 1, 0
                continue
            update, error = failed
            offset = update.update_id
            stuck += 1
            if stuck >= POISON_ROUNDS and not transient(error):
                log.error("telegram: giving up on update %s after %d attempts (%r): %s", update.update_id, stuck,
                          error, update.model_dump_json(exclude_none=True))  # fmt: skip
                offset, stuck = update.update_id + 1, 0
                continue
            delay = min(30.0, opts.retry_backoff * 2 ** min(stuck - 1, 8))
            log.warning("telegram: update %s failed (%r); trying it again in %.1fs", update.update_id, error, delay)
            await asyncio.sleep(delay)

    async def process_batch(self, updates: list[Update], sink: EventSink) -> tuple[Update, BaseException] | None:
        """Updates of one chat in order; different chats at the same time. A chat stops at its first update
        that fails; returns the earliest failed update (and its error), or None when all were handled."""
        by_chat: dict[str, list[Update]] = defaultdict(list)
        for u in updates:
            by_chat[_chat_key(u)].append(u)
        failures: list[tuple[Update, BaseException]] = []

        async def one_chat(items: list[Update]) -> None:
            for u in items:
                try:
                    await self.handle_update(u, sink)
                except Exception as e:  # e.g. Redis away: nothing of it was committed
                    log.exception("telegram: update %s failed", u.update_id)
                    failures.append((u, e))
                    return  # the later updates of this chat wait for it

        await asyncio.gather(*(one_chat(items) for items in by_chat.values()))
        return min(failures, key=lambda f: f[0].update_id) if failures else None

    def routes(self, sink: EventSink) -> list[web.RouteDef]:
        if not self.options.webhook_url:
            return []
        secret = (self.options.webhook_secret or "").encode()

        def authorized(request: web.Request) -> web.Response | None:
            given = request.headers.get(SECRET_HEADER, "").encode("utf-8", "surrogateescape")
            # no secret configured (runner.check refuses that): nothing can prove it comes from Telegram
            if not secret or not hmac.compare_digest(given, secret):
                return web.json_response({"ok": False, "error": "bad secret token"}, status=403)
            return None

        async def receive(body: dict[str, Any]) -> None:
            update = parse(Update, body, context={"bot": self.bot})  # not an Update: 400
            await self.handle_update(update, sink)  # raises: 500, and Telegram delivers it again

        route = webhook(receive, max_body=WEBHOOK_MAX_BODY, guard=authorized, name="telegram webhook")
        return [web.post(WEBHOOK_PATH, route)]

    # ================================================================ translation
    async def handle_update(self, update: Update, sink: EventSink) -> None:
        """Hand the update's event (if it means one) to the sink; raises when the sink did not handle it."""
        if update.callback_query is not None:
            await self._on_callback(update.callback_query, sink)
            return
        event = self.event_of(update)
        if event is not None:
            await sink(event)

    def event_of(self, update: Update) -> Event | None:
        """The event a message or an edit means (None: nothing for the desk)."""
        msg = update.message or update.edited_message
        if msg is None:
            return None
        edit = update.message is None
        log.debug("telegram: message %s in chat %s (%s)", msg.message_id, msg.chat.id, msg.chat.type)
        if self.staff_chat is not None and msg.chat.id == self.staff_chat:
            return self._staff_event(msg, update.update_id if edit else None)
        if msg.chat.type != "private":
            chat = msg.chat
            log.info("telegram: ignoring a message in chat %s (%s %r): not TELEGRAM_STAFF_CHAT_ID=%s", chat.id,
                     chat.type, chat.title, self.staff_chat)  # fmt: skip
            return None
        user = msg.from_user
        if user is None or user.is_bot:
            return None
        sender = UserRef("telegram", str(msg.chat.id))
        text = msg.text or msg.caption or ""
        if msg.contact is not None and not text:  # a shared contact ("share my number"): its number
            text = "+" + msg.contact.phone_number.lstrip("+")
        if edit:
            return CustomerEdit(sender, f"edit:{update.update_id}", text) if text else None
        return Inbound(
            sender=sender,
            text=text,
            message_id=f"{msg.chat.id}:{msg.message_id}",  # Telegram message ids are per chat
            attachments=attachments_of(msg),
            language=user.language_code,
            name=user.full_name,
            handle=f"@{user.username}" if user.username else None,
            origin=origin_of(msg),
        )

    def _staff_event(self, msg: Message, edit_of: int | None) -> Event | None:
        operator = self._sender(msg)
        if operator is None:
            return None
        text = msg.text or msg.caption or ""
        m = _MENTION.match(msg.text or "")
        if m is not None:
            username = self.api.username
            if username and m.group(2).lower() != username.lower():
                return None  # a command for another bot in the group
            if username:
                text = m.group(1) + text[m.end() :]
        place = self._place(msg)
        if edit_of is not None:
            return OperatorEdit(operator, text, place, f"staff-edit:{edit_of}") if text else None
        attachments = attachments_of(msg)
        if not text and not attachments and not _copy_only(msg):
            return None  # service messages: topic created, member joined...
        return OperatorText(
            operator=operator,
            text=text,
            place=place,
            message_id=f"staff:{msg.chat.id}:{msg.message_id}",
            attachments=attachments,
            origin=origin_of(msg),
            is_caption=msg.text is None and bool(msg.caption),
        )

    def _place(self, msg: Message) -> StaffPlace:
        thread = msg.message_thread_id if msg.is_topic_message else None
        replied = msg.reply_to_message
        if replied is not None and thread is not None and replied.message_id == thread:
            replied = None  # in a topic every message "replies" to the topic's first (service) message
        ours = replied is not None and replied.from_user is not None and replied.from_user.id == self.api.bot_id
        who = replied.from_user if replied is not None and not ours else None  # the author, for /assign as a reply
        author = None if who is None or who.is_bot else (f"@{who.username}" if who.username else who.full_name)
        return _staff_place(thread, msg.message_id, replied.message_id if replied is not None else None, ours, author)

    def _sender(self, msg: Message) -> Operator | None:
        """The operator who wrote ``msg`` in the staff group: a person, or an administrator posting anonymously
        (as the group itself: named by their signature, if any); None for bots and other chats."""
        if msg.sender_chat is not None:
            if msg.sender_chat.id == self.staff_chat:
                name = msg.author_signature or "Operator"
                return Operator(id=f"anon:{name}", name=name)
            return None  # a linked channel's post, another chat speaking
        if msg.from_user is None or msg.from_user.is_bot:
            return None
        return Operator(id=str(msg.from_user.id), name=msg.from_user.full_name)

    async def _on_callback(self, cq: CallbackQuery, sink: EventSink) -> None:
        """A press: the staff card's buttons are operators' commands, anything else a customer's choice. The
        query is answered once the sink has handled it (and only once, should Telegram deliver it twice)."""
        msg = cq.message
        chat = msg.chat if msg is not None else None
        answer: str | None = None
        event: Event | None = None
        if chat is not None and self.staff_chat is not None and chat.id == self.staff_chat:
            m = _CARD_BUTTON.match(cq.data or "") or _TOOL_BUTTON.match(cq.data or "")
            if m is None or cq.from_user.is_bot:
                answer = "Unknown button"
            else:
                thread = getattr(msg, "message_thread_id", None) if getattr(msg, "is_topic_message", None) else None
                place = _staff_place(thread, msg.message_id, msg.message_id, True)  # the card's own place
                operator = Operator(id=str(cq.from_user.id), name=cq.from_user.full_name)
                argument = m.group(3) if m.re is _TOOL_BUTTON else ""
                event = OperatorCommand(operator, int(m.group(2)), m.group(1), place, f"cb:{cq.id}", argument)
                answer = "OK"
        elif cq.data:
            user = cq.from_user
            event = ButtonPress(
                sender=UserRef("telegram", str(chat.id if chat is not None else user.id)),
                payload=cq.data,
                message_id=f"cb:{cq.id}",
                language=user.language_code,
                name=user.full_name,
                handle=f"@{user.username}" if user.username else None,
            )
        if event is not None:
            await sink(event)
        with contextlib.suppress(Exception):
            if await self.memory.set("answered", cq.id, "1", ttl=ANSWERED_TTL, nx=True):
                await self.bot.answer_callback_query(cq.id, text=answer)


def _staff_place(
    thread: int | None, message_id: int, reply_to: int | None, ours: bool, author: str | None = None
) -> StaffPlace:
    """Where something happened in the staff group; answers go to ``message_id`` in ``thread``."""
    topic = str(thread) if thread is not None else None
    replied = str(reply_to) if reply_to is not None else None
    reply = {"thread": thread, "reply_to": message_id}
    return StaffPlace(topic, replied, reply=reply, replies_to_bot=ours, reply_author=author)


def _chat_key(u: Update) -> str:
    msg = u.message or u.edited_message
    if msg is not None:
        return str(msg.chat.id)
    if u.callback_query is not None:
        return str(u.callback_query.from_user.id)
    return f"u{u.update_id}"


def _copy_only(msg: Message) -> bool:
    """Content that has neither text nor a file (shown by copying the message as it is)."""
    return any(getattr(msg, f, None) is not None for f in ("location", "venue", "contact", "poll", "dice"))
