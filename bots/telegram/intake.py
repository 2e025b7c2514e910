"""Updates in, by long polling (one poller per bot: the ``tg-poller`` lease) or the webhook; each as an
event (what an update means is ``bots.telegram.events``), handed to the sink. Dedup is the sink's.

Polling: a dead poller's lease expires (``leader_ttl``) and a standby takes over; the offset never moves past
an update the sink failed on (fetched again after a capped backoff), unless it failed ``POISON_ROUNDS`` times
for another reason than Redis or the network (ERROR log with its JSON).
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
from aiogram.types import CallbackQuery, Update
from aiohttp import web
from redis.exceptions import RedisError

from bots.kit import parse, webhook
from bots.ports import ChannelMemory, ConfigError, EventSink, StaffDirectory
from bots.telegram.api import TelegramApi, TelegramOptions
from bots.telegram.events import Translator
from core.events import Event

log = logging.getLogger("bots.telegram")

ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]
POISON_ROUNDS = 5  # rounds an update failing for a non-transient reason is retried before it is given up
WEBHOOK_PATH = "/webhooks/telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
WEBHOOK_MAX_BODY = 1024 * 1024  # an update is a few kilobytes; a larger body is refused (413)
ANSWERED_TTL = 3600.0  # a callback query is answered once, even when Telegram delivers it twice


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
        self.translator = Translator(api, options.staff_chat_id)
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
        """The event a message or an edit means (None: nothing for the desk): ``bots.telegram.events``."""
        return self.translator.event_of(update)

    async def _on_callback(self, cq: CallbackQuery, sink: EventSink) -> None:
        """A press, handed to the sink; the query is answered once the sink has handled it (and only once,
        should Telegram deliver it twice)."""
        event, answer = self.translator.callback_event(cq)
        if event is not None:
            await sink(event)
        with contextlib.suppress(Exception):
            if await self.memory.set("answered", cq.id, "1", ttl=ANSWERED_TTL, nx=True):
                await self.bot.answer_callback_query(cq.id, text=answer)


def _chat_key(u: Update) -> str:
    msg = u.message or u.edited_message
    if msg is not None:
        return str(msg.chat.id)
    if u.callback_query is not None:
        return str(u.callback_query.from_user.id)
    return f"u{u.update_id}"
