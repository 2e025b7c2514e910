"""A local stand-in of the Telegram Bot API (aiohttp), for end-to-end tests and the bench.

It serves ``/bot{token}/{method}`` (JSON, urlencoded or multipart bodies, as aiogram sends them) and
``/file/bot{token}/{path}``; records everything sent, per chat and topic; enforces Telegram's limits
(1 message/s per private chat, 20/min per group, 30/s overall; windows multiplied by ``scale``) with the
real 429 answer; and has switches for the failures the bot must survive (blocked bot, topics disabled,
deleted topic, 5xx, 413, a staff group the bot cannot use: ``staff_exists``, ``staff_type``, ``bot_status``,
``can_manage_topics``). An unknown token gets 401, as from Telegram.

Test side: ``customer_says`` / ``customer_sends`` / ``press`` / ``operator_says`` / ``operator_press`` queue
updates (served by getUpdates, or POSTed to the webhook with ``deliver``); ``sent_to`` / ``topic_messages``
read what the bot sent; ``wait_for(predicate)`` polls; ``polled_past(update)`` says the bot confirmed an
update (a barrier: it was handled, or given up); ``group_sends()`` lists the successful calls that put
something into the staff group (``copyMessages``, several messages in one call, counts once).
``customer_edits`` / ``operator_edits`` queue an ``edited_message``; ``operator_says(..., anonymous=True)``
posts as the group (an anonymous administrator).

This module is the server: ``FakeTelegram`` with its state and switches, the request parsing, the dispatch, the
connection faults and the limits. Its other parts are mixins: ``tests.fakes.telegram_records`` (``Sent``, ``Topic``
and the reading queries), ``tests.fakes.telegram_updates`` (the updates a test queues) and
``tests.fakes.telegram_methods`` (the API methods); their names stay importable from here.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import time
from collections import defaultdict, deque
from collections.abc import Callable
from typing import Any

from aiohttp import web

from tests.fakes.server import drop_connection, free_port
from tests.fakes.telegram_methods import CONTENT_FIELDS, FILE_FIELDS, SEND_METHODS, MethodsMixin
from tests.fakes.telegram_records import ReadingMixin, Sent, Topic
from tests.fakes.telegram_updates import ANONYMOUS_BOT, UpdatesMixin

__all__ = [
    "ANONYMOUS_BOT",
    "CONTENT_FIELDS",
    "FILE_FIELDS",
    "INT_FIELDS",
    "JSON_FIELDS",
    "SEND_METHODS",
    "FakeTelegram",
    "Sent",
    "Topic",
    "free_port",
]

INT_FIELDS = {
    "chat_id",
    "from_chat_id",
    "message_id",
    "message_thread_id",
    "offset",
    "limit",
    "timeout",
    "reply_to_message_id",
}
JSON_FIELDS = {"reply_markup", "allowed_updates", "reply_parameters", "entities", "caption_entities", "message_ids"}


class FakeTelegram(UpdatesMixin, ReadingMixin, MethodsMixin):
    def __init__(
        self,
        token: str = "123456:TEST-token",
        *,
        scale: float = 1.0,
        staff_chat: int = -1001000000001,
        bot_username: str = "support_test_bot",
    ):
        self.token = token
        self.scale = scale
        self.staff_chat = staff_chat
        self.bot_username = bot_username
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._updates: deque[dict] = deque()
        self._update_ids = itertools.count(1000)
        self._cond = asyncio.Condition()
        self._msg_ids: dict[int, itertools.count] = defaultdict(lambda: itertools.count(100))
        self._file_ids = itertools.count(1)
        self.files: dict[str, tuple[bytes, str]] = {}  # file_id -> (bytes, file name)
        self.sent: list[Sent] = []
        self.calls: list[tuple[str, dict]] = []  # every API call (method, params)
        self.topics: dict[int, Topic] = {}
        self._topic_ids = itertools.count(2)
        self.callback_answers: list[dict] = []
        self.staff_calls: list[str] = []  # successful calls that put something into the staff group
        self.webhook: dict | None = None
        self.messages: dict[tuple[int, int], dict] = {}  # (chat, message_id) -> message (what customers sent)
        # switches
        self.blocked: set[int] = set()
        self.forum = True
        self.groups: set[int] = set()  # other groups the bot is in (an escalation chat...)
        self.fail_next: int = 0  # answer 500 to the next N sending calls
        self.too_large: int = 0  # answer 413 Request Entity Too Large to the next N sending calls
        self.staff_exists = True  # getChat / getChatMember of the staff group: "chat not found" when False
        self.staff_type = "supergroup"
        self.bot_status = "administrator"  # the bot in the staff group: administrator, member...
        self.can_manage_topics = True
        self.force_429: list[int] = []  # answer 429 with these retry_after values to the next sending calls
        # limits and what they caught
        self.per_chat = (1, 1.0)
        self.per_group = (20, 60.0)
        self.global_ = (30, 1.0)
        self._windows: dict[str, deque[float]] = defaultdict(deque)
        self.too_many: list[tuple[str, int, float]] = []  # (method, chat, retry_after) of limit-provoked 429s
        self.forced_429_at: list[float] = []
        self.early_retries = 0  # a send that came before the retry_after it was given
        self._retry_not_before: dict[int, float] = {}
        self.server_errors = 0
        # faults of the connection (sending calls only): ``fail_until`` answers 500 until that monotonic time;
        # ``drop_next`` closes the connection before the call is processed (nothing sent); ``lose_reply_next``
        # processes the call (the message is sent) then closes the connection before answering; ``hang_next``
        # holds the call ``hang_seconds`` without processing it (the client times out first)
        self.fail_until = 0.0
        self.fail_chats: Callable[[int], bool] | None = None  # which chats ``fail_until`` is for (None: all)
        self.drop_next = 0
        self.lose_reply_next = 0
        self.hang_next = 0
        self.hang_seconds = 30.0
        self.latency = 0.0  # seconds between processing a sending call and answering it (a real API's delay)
        self.answering = 0  # sending calls processed and not answered yet (during ``latency``)
        self.dropped = 0  # calls dropped before processing
        self.lost_replies = 0  # calls processed whose answer was lost
        self.hung = 0
        self.closing = False

    # ------------------------------------------------------------------ lifecycle
    async def start(self, host: str = "127.0.0.1", port: int | None = None) -> FakeTelegram:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._file)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        port = port or free_port()
        await web.TCPSite(self._runner, host, port).start()
        self.url = f"http://{host}:{port}"
        return self

    async def close(self) -> None:
        self.closing = True
        await self._notify()
        if self._runner is not None:
            await self._runner.cleanup()

    # ------------------------------------------------------------------ the API
    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        uploads: dict[str, tuple[bytes, str]] = {}
        ctype = request.content_type
        if ctype == "application/json":
            params.update(await request.json())
        elif ctype == "multipart/form-data":
            reader = await request.multipart()
            async for part in reader:
                if part.filename:
                    uploads[part.name] = (await part.read(), part.filename)
                else:
                    params[part.name] = await part.text()
        elif request.can_read_body:
            params.update(await request.post())
        for k, v in list(params.items()):
            if isinstance(v, str):
                if k in INT_FIELDS:
                    with contextlib.suppress(ValueError):
                        params[k] = int(v)
                elif k in JSON_FIELDS:
                    with contextlib.suppress(ValueError):
                        params[k] = json.loads(v)
                if isinstance(params[k], str) and params[k].startswith("attach://"):
                    params[k] = uploads.get(params[k][len("attach://") :])
        for k, up in uploads.items():
            params.setdefault(k, up)
        return params

    async def _api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return self._error(401, "Unauthorized")
        method = request.match_info["method"]
        params = await self._params(request)
        self.calls.append((method, params))
        handler = getattr(self, f"m_{method}", None)
        if handler is None and method not in SEND_METHODS:
            return self._error(404, f"Not Found: method {method} is not in the stand-in")
        sending = method in SEND_METHODS or method in ("createForumTopic", "copyMessages")
        if sending:
            fault = await self._fault(request, int(params.get("chat_id") or 0))
            if fault is not None:
                return fault
            refusal = self._refuse(method, params)
            if refusal is not None:
                return refusal
        resp = await handler(params) if handler is not None else self._send(method, params)
        if sending and resp.status == 200 and int(params.get("chat_id") or 0) == self.staff_chat:
            self.staff_calls.append(method)
        if sending and self.latency > 0:
            self.answering += 1
            try:
                await asyncio.sleep(self.latency)
            finally:
                self.answering -= 1
        if sending and resp.status == 200 and self.lose_reply_next > 0:
            self.lose_reply_next -= 1
            self.lost_replies += 1
            drop_connection(request)  # processed: the message is out, but the bot never hears so
        return resp

    async def _fault(self, request: web.Request, chat: int) -> web.Response | None:
        """The connection faults switched on (see ``__init__``), before the call is processed."""
        if self.hang_next > 0:
            self.hang_next -= 1
            self.hung += 1
            await asyncio.sleep(self.hang_seconds)
            return self._error(500, "Internal Server Error: the stand-in hung")
        if self.drop_next > 0:
            self.drop_next -= 1
            self.dropped += 1
            drop_connection(request)
            return self._error(500, "dropped")  # never read: the connection is closed
        if time.monotonic() < self.fail_until and (self.fail_chats is None or self.fail_chats(chat)):
            self.server_errors += 1
            return self._error(500, "Internal Server Error")
        return None

    def _refuse(self, method: str, params: dict) -> web.Response | None:
        chat = int(params.get("chat_id", 0))
        now = time.monotonic()
        if self.fail_next > 0:
            self.fail_next -= 1
            self.server_errors += 1
            return self._error(500, "Internal Server Error")
        if self.too_large > 0:
            self.too_large -= 1
            return self._error(413, "Request Entity Too Large")
        not_before = self._retry_not_before.get(chat)
        if not_before is not None:
            if now < not_before:
                self.early_retries += 1
            del self._retry_not_before[chat]
        if self.force_429:
            after = self.force_429.pop(0)
            self.forced_429_at.append(now)
            self._retry_not_before[chat] = now + after
            return self._error(429, f"Too Many Requests: retry after {after}", retry_after=after)
        if chat > 0 and chat in self.blocked:
            return self._error(403, "Forbidden: bot was blocked by the user")
        if chat not in (self.staff_chat, *self.groups) and chat < 0:
            return self._error(400, "Bad Request: chat not found")
        # limits: sliding windows, scaled
        windows = [("global", *self.global_)]
        if chat > 0:
            windows.append((f"chat:{chat}", *self.per_chat))
        else:
            windows.append((f"group:{chat}", *self.per_group))
        wait = 0.0
        for key, count, per in windows:
            per *= self.scale
            q = self._windows[key]
            while q and q[0] <= now - per:
                q.popleft()
            if len(q) >= count:
                wait = max(wait, q[0] + per - now)
        if wait > 0:
            after = max(1, math.ceil(wait))
            self.too_many.append((method, chat, after))
            return self._error(429, f"Too Many Requests: retry after {after}", retry_after=after)
        for key, _, _ in windows:
            self._windows[key].append(now)
        return None
