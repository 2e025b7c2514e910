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
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from tests.fakes.server import drop_connection, free_port

SEND_METHODS = {
    "sendMessage": "text",
    "sendPhoto": "photo",
    "sendDocument": "document",
    "sendVoice": "voice",
    "sendVideo": "video",
    "sendSticker": "sticker",
    "sendAudio": "audio",
    "copyMessage": "copy",
    "sendVideoNote": "video_note",
}
FILE_FIELDS = {"photo", "document", "voice", "video", "sticker", "audio", "video_note"}
CONTENT_FIELDS = {"location", "contact", "poll", "venue", "dice"}  # no text, no file: only copyMessage shows them
ANONYMOUS_BOT = {"id": 1087968824, "is_bot": True, "first_name": "Group", "username": "GroupAnonymousBot"}
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


@dataclass
class Sent:
    """One message the bot sent (or a topic it created)."""

    method: str
    chat_id: int
    message_id: int
    thread_id: int | None
    kind: str  # text, photo, document, ..., copy, topic
    text: str | None = None
    file: str | None = None  # file_id of the sent file
    data: bytes | None = None  # bytes, when uploaded
    filename: str | None = None
    reply_markup: dict | None = None
    copy_of: tuple[int, int] | None = None  # (from_chat_id, message_id)
    reply_to: int | None = None
    ts: float = 0.0
    parse_mode: str | None = None  # as the bot asked: None means the text is shown as it is
    entities: list | None = None

    @property
    def buttons(self) -> list[tuple[str, str]]:
        rows = (self.reply_markup or {}).get("inline_keyboard") or []
        return [(b["text"], b.get("callback_data", "")) for row in rows for b in row]


@dataclass
class Topic:
    thread_id: int
    name: str
    closed: bool = False
    deleted: bool = False
    names: list[str] = field(default_factory=list)


class FakeTelegram:
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

    # ------------------------------------------------------------------ test side: updates
    def push_update(self, update: dict) -> dict:
        update = {"update_id": next(self._update_ids), **update}
        self._updates.append(update)
        asyncio.get_event_loop().create_task(self._notify())
        return update

    async def _notify(self) -> None:
        async with self._cond:
            self._cond.notify_all()

    @staticmethod
    def _user(user_id: int, name: str = "Anna", username: str | None = None, lang: str | None = "ru") -> dict:
        first, _, last = name.partition(" ")
        u: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first}
        if last:
            u["last_name"] = last
        if username:
            u["username"] = username
        if lang:
            u["language_code"] = lang
        return u

    def _message(self, chat: dict, sender: dict, text: str | None, **extra: Any) -> dict:
        mid = next(self._msg_ids[chat["id"]])
        msg: dict[str, Any] = {"message_id": mid, "date": int(time.time()), "chat": chat, "from": sender}
        if text is not None:
            msg["text"] = text
        msg.update({k: v for k, v in extra.items() if v is not None})
        self.messages[(chat["id"], mid)] = msg
        return msg

    def add_file(self, data: bytes, name: str = "file.bin") -> str:
        file_id = f"F{next(self._file_ids)}-{name}"
        self.files[file_id] = (data, name)
        return file_id

    def customer_says(
        self,
        user_id: int,
        text: str | None = None,
        *,
        name: str = "Anna",
        username: str | None = None,
        lang: str | None = "ru",
        **extra: Any,
    ) -> dict:
        """A customer writes to the bot in private (``extra``: photo=..., document=..., caption=...)."""
        chat = {"id": user_id, "type": "private", "first_name": name.split()[0]}
        msg = self._message(chat, self._user(user_id, name, username, lang), text, **extra)
        return self.push_update({"message": msg})

    def customer_sends_photo(
        self, user_id: int, data: bytes = b"\x89PNG fake photo", caption: str | None = None, **kw: Any
    ) -> dict:
        file_id = self.add_file(data, "photo.jpg")
        photo = [{"file_id": file_id, "file_unique_id": file_id, "width": 90, "height": 90, "file_size": len(data)}]
        return self.customer_says(user_id, None, photo=photo, caption=caption, **kw)

    def customer_sends_document(self, user_id: int, data: bytes, filename: str = "doc.pdf", **kw: Any) -> dict:
        file_id = self.add_file(data, filename)
        doc = {
            "file_id": file_id,
            "file_unique_id": file_id,
            "file_name": filename,
            "mime_type": "application/pdf",
            "file_size": len(data),
        }
        return self.customer_says(user_id, None, document=doc, **kw)

    def press(self, user_id: int, data: str, *, name: str = "Anna", lang: str | None = "ru") -> dict:
        """A customer presses an inline button with this callback data."""
        chat = {"id": user_id, "type": "private", "first_name": name}
        msg = {"message_id": 1, "date": int(time.time()), "chat": chat, "text": "(buttons)"}
        cq = {
            "id": f"cq{next(self._update_ids)}",
            "from": self._user(user_id, name, None, lang),
            "chat_instance": "1",
            "message": msg,
            "data": data,
        }
        return self.push_update({"callback_query": cq})

    def _staff_chat(self) -> dict:
        return {"id": self.staff_chat, "type": "supergroup", "title": "Support staff", "is_forum": self.forum}

    def bot_user(self) -> dict:
        return {
            "id": int(self.token.split(":")[0]),
            "is_bot": True,
            "first_name": "Support",
            "username": self.bot_username,
        }

    def operator_says(
        self,
        thread_id: int | None,
        text: str | None = None,
        *,
        user_id: int = 501,
        name: str = "Olga Petrova",
        reply_to: int | None = None,
        anonymous: bool = False,
        signature: str | None = None,
        **extra: Any,
    ) -> dict:
        """An operator writes in the staff group: in a topic (``thread_id``) and/or as a reply (to a message of
        the bot: its ``from`` is the bot). ``anonymous``: an administrator posting as the group."""
        chat = self._staff_chat()
        if thread_id is not None:
            extra.setdefault("message_thread_id", thread_id)
            extra.setdefault("is_topic_message", True)
        if reply_to is not None:
            replied: dict[str, Any] = {"message_id": reply_to, "date": int(time.time()), "chat": chat}
            if any(s.chat_id == self.staff_chat and s.message_id == reply_to for s in self.sent):
                replied["from"] = self.bot_user()
            elif (self.staff_chat, reply_to) in self.messages:
                replied["from"] = self.messages[(self.staff_chat, reply_to)].get("from")
            extra["reply_to_message"] = replied
        sender = self._user(user_id, name, None, "en")
        if anonymous:
            sender = ANONYMOUS_BOT
            extra["sender_chat"] = {k: v for k, v in chat.items() if k != "is_forum"}
            extra["author_signature"] = signature
        msg = self._message(chat, sender, text, **extra)
        return self.push_update({"message": msg})

    def customer_edits(self, update: dict, text: str) -> dict:
        """The customer edits the message of ``update`` (as returned by ``customer_says``)."""
        return self._edit(update, text)

    def operator_edits(self, update: dict, text: str) -> dict:
        return self._edit(update, text)

    def _edit(self, update: dict, text: str) -> dict:
        msg = {**update["message"], "edit_date": int(time.time())}
        msg["caption" if "caption" in msg else "text"] = text
        self.messages[(msg["chat"]["id"], msg["message_id"])] = msg
        return self.push_update({"edited_message": msg})

    def operator_sends_photo(self, thread_id: int | None, data: bytes = b"\x89PNG operator photo", **kw: Any) -> dict:
        file_id = self.add_file(data, "op.jpg")
        photo = [{"file_id": file_id, "file_unique_id": file_id, "width": 90, "height": 90, "file_size": len(data)}]
        return self.operator_says(thread_id, None, photo=photo, **kw)

    def operator_press(self, message: Sent, data: str, *, user_id: int = 501, name: str = "Olga Petrova") -> dict:
        chat = self._staff_chat()
        msg: dict[str, Any] = {
            "message_id": message.message_id,
            "date": int(time.time()),
            "chat": chat,
            "text": message.text or "",
        }
        if message.thread_id:
            msg.update(message_thread_id=message.thread_id, is_topic_message=True)
        cq = {
            "id": f"cq{next(self._update_ids)}",
            "from": self._user(user_id, name, None, "en"),
            "chat_instance": "2",
            "message": msg,
            "data": data,
        }
        return self.push_update({"callback_query": cq})

    async def deliver(self, update: dict, *, secret: str | None = None, url: str | None = None) -> int:
        """POST an update to the bot's webhook (as Telegram does); returns the HTTP status."""
        url = url or (self.webhook or {}).get("url")
        assert url, "no webhook set"
        if secret is None:
            secret = (self.webhook or {}).get("secret_token")
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
        async with aiohttp.ClientSession() as s, s.post(url, json=update, headers=headers) as r:
            return r.status

    def polled_past(self, update: dict) -> bool:
        """The bot asked for updates after ``update`` (it confirmed it: handled, or given up)."""
        return any(m == "getUpdates" and int(p.get("offset") or 0) > update["update_id"] for m, p in self.calls)

    def group_sends(self) -> list[str]:
        """Every call that put messages (or a topic) into the staff group and succeeded, by method, in order."""
        return list(self.staff_calls)

    def take_update(self) -> dict:
        """Remove the oldest queued update (to POST it to a webhook instead of serving it to getUpdates)."""
        return self._updates.popleft()

    # ------------------------------------------------------------------ test side: reading
    def sent_to(self, chat_id: int, thread_id: int | None = ..., kind: str | None = None) -> list[Sent]:  # type: ignore[assignment]
        return [
            s
            for s in self.sent
            if s.chat_id == chat_id
            and (thread_id is ... or s.thread_id == thread_id)
            and (kind is None or s.kind == kind)
            and s.kind != "topic"
        ]

    def texts_to(self, chat_id: int) -> list[str]:
        return [s.text or "" for s in self.sent_to(chat_id)]

    def topic_messages(self, thread_id: int) -> list[Sent]:
        return self.sent_to(self.staff_chat, thread_id)

    def staff_messages(self) -> list[Sent]:
        return self.sent_to(self.staff_chat)

    def live_topics(self) -> list[Topic]:
        return [t for t in self.topics.values() if not t.deleted]

    def topic_named(self, needle: str) -> Topic | None:
        found = [t for t in self.topics.values() if needle in t.name and not t.deleted]
        return found[-1] if found else None

    def delete_topic(self, thread_id: int) -> None:
        self.topics[thread_id].deleted = True

    def close_topic(self, thread_id: int) -> None:
        self.topics[thread_id].closed = True

    async def wait_for(self, predicate, timeout: float = 10.0, interval: float = 0.02, what: str = ""):  # noqa: ASYNC109
        """Poll ``predicate`` until it returns something truthy (returned); AssertionError after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
            await asyncio.sleep(interval)

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

    @staticmethod
    def _ok(result: Any) -> web.Response:
        return web.json_response({"ok": True, "result": result})

    @staticmethod
    def _error(code: int, description: str, **parameters: Any) -> web.Response:
        body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
        if parameters:
            body["parameters"] = parameters
        return web.json_response(body, status=code)

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

    def _thread_error(self, params: dict) -> web.Response | None:
        thread = params.get("message_thread_id")
        chat = int(params.get("chat_id", 0))
        if thread is None or chat != self.staff_chat:
            return None
        topic = self.topics.get(int(thread))
        if topic is None or topic.deleted:
            return self._error(400, "Bad Request: message thread not found")
        if topic.closed:
            return self._error(400, "Bad Request: TOPIC_CLOSED")
        return None

    def _copy_record(self, rec: Sent, src: tuple[int, int]) -> None:
        original = self.messages[src]
        rec.copy_of = src
        rec.text = original.get("text") or original.get("caption")
        for f in FILE_FIELDS:
            if f in original:
                obj = original[f]
                rec.file = (obj[-1] if isinstance(obj, list) else obj)["file_id"]
                rec.kind = f"copy:{f}"
        for f in CONTENT_FIELDS & original.keys():
            rec.kind = f"copy:{f}"

    def _send(self, method: str, params: dict) -> web.Response:
        err = self._thread_error(params)
        if err is not None:
            return err
        chat = int(params["chat_id"])
        kind = SEND_METHODS[method]
        mid = next(self._msg_ids[chat])
        thread = params.get("message_thread_id")
        reply = params.get("reply_parameters") or {}
        rec = Sent(
            method,
            chat,
            mid,
            int(thread) if thread is not None else None,
            kind,
            text=params.get("text") or params.get("caption"),
            reply_markup=params.get("reply_markup"),
            reply_to=reply.get("message_id") or params.get("reply_to_message_id"),
            ts=time.monotonic(),
            parse_mode=params.get("parse_mode") or None,
            entities=params.get("entities") or params.get("caption_entities"),
        )
        result: dict[str, Any] = {
            "message_id": mid,
            "date": int(time.time()),
            "chat": {"id": chat, "type": "private" if chat > 0 else "supergroup"},
        }
        if thread is not None:
            result.update(message_thread_id=int(thread), is_topic_message=True)
        if kind == "copy":
            src = (int(params["from_chat_id"]), int(params["message_id"]))
            if src not in self.messages:
                return self._error(400, "Bad Request: message to copy not found")
            self._copy_record(rec, src)
            self.sent.append(rec)
            return self._ok({"message_id": mid})
        if kind == "text":
            result["text"] = rec.text or ""
        else:
            value = params.get(kind)
            if isinstance(value, tuple):  # an upload
                rec.data, rec.filename = value
                rec.file = self.add_file(rec.data, rec.filename)
            elif isinstance(value, str):
                if value not in self.files:
                    return self._error(400, "Bad Request: wrong file identifier/HTTP URL specified")
                rec.file = value
                rec.data, rec.filename = self.files[value]
            else:
                return self._error(400, f"Bad Request: there is no {kind} in the request")
            obj = {"file_id": rec.file, "file_unique_id": rec.file, "file_size": len(rec.data or b"")}
            if kind == "photo":
                result["photo"] = [{**obj, "width": 90, "height": 90}]
            elif kind == "sticker":
                result["sticker"] = {
                    **obj,
                    "width": 512,
                    "height": 512,
                    "is_animated": False,
                    "is_video": False,
                    "type": "regular",
                }
            elif kind == "video_note":
                result[kind] = {**obj, "length": 240, "duration": 1}
            elif kind in ("voice", "audio", "video"):
                result[kind] = {**obj, "duration": 1, **({"width": 1, "height": 1} if kind == "video" else {})}
            else:
                result["document"] = obj
            if rec.text:
                result["caption"] = rec.text
        self.messages[(chat, mid)] = result
        self.sent.append(rec)
        return self._ok(result)

    # --- methods with their own handling
    async def m_getMe(self, params: dict) -> web.Response:
        bot_id = int(self.token.split(":")[0])
        return self._ok({"id": bot_id, "is_bot": True, "first_name": "Support", "username": self.bot_username})

    async def m_getUpdates(self, params: dict) -> web.Response:
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        timeout = float(params.get("timeout") or 0)
        while self._updates and self._updates[0]["update_id"] < offset:
            self._updates.popleft()  # confirmed
        if not self._updates and timeout:
            async with self._cond:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout):
                        await self._cond.wait_for(lambda: bool(self._updates) or self.closing)
        batch = [u for u in self._updates if u["update_id"] >= offset][:limit]
        return self._ok(batch)

    async def m_copyMessages(self, params: dict) -> web.Response:
        """Several messages of one chat copied in one call: an array of MessageId (missing ones are skipped)."""
        err = self._thread_error(params)
        if err is not None:
            return err
        chat, source = int(params["chat_id"]), int(params["from_chat_id"])
        ids = params.get("message_ids")
        if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
            return self._error(400, "Bad Request: message_ids must be a list of 1-100 identifiers")
        if any(b <= a for a, b in itertools.pairwise(ids)):
            return self._error(400, "Bad Request: message identifiers must be in a strictly increasing order")
        thread = params.get("message_thread_id")
        result = []
        for message_id in ids:
            if (source, int(message_id)) not in self.messages:
                continue
            mid = next(self._msg_ids[chat])
            rec = Sent("copyMessages", chat, mid, int(thread) if thread is not None else None, "copy")
            rec.ts = time.monotonic()
            self._copy_record(rec, (source, int(message_id)))
            self.sent.append(rec)
            result.append({"message_id": mid})
        return self._ok(result)

    async def m_getChat(self, params: dict) -> web.Response:
        chat = int(params.get("chat_id", 0))
        if chat != self.staff_chat or not self.staff_exists:
            return self._error(400, "Bad Request: chat not found")
        return self._ok(
            {
                **self._staff_chat(),
                "type": self.staff_type,
                "accent_color_id": 0,
                "max_reaction_count": 11,
                "accepted_gift_types": {
                    k: True
                    for k in (
                        "unlimited_gifts",
                        "limited_gifts",
                        "unique_gifts",
                        "premium_subscription",
                        "gifts_from_channels",
                    )
                },
            }
        )

    async def m_getChatMember(self, params: dict) -> web.Response:
        chat = int(params.get("chat_id", 0))
        if chat != self.staff_chat or not self.staff_exists:
            return self._error(400, "Bad Request: chat not found")
        user = int(params.get("user_id", 0))
        if user != self.bot_user()["id"]:
            return self._ok({"status": "member", "user": self._user(user)})
        if self.bot_status == "administrator":
            rights = {
                k: True
                for k in (
                    "can_be_edited",
                    "can_manage_chat",
                    "can_change_info",
                    "can_delete_messages",
                    "can_invite_users",
                    "can_restrict_members",
                    "can_pin_messages",
                    "can_promote_members",
                    "can_manage_video_chats",
                    "can_post_stories",
                    "can_edit_stories",
                    "can_delete_stories",
                    "can_send_welcome_messages",
                )
            }
            rights["can_be_edited"] = False
            return self._ok(
                {
                    "status": "administrator",
                    "user": self.bot_user(),
                    "is_anonymous": False,
                    "can_manage_topics": self.can_manage_topics,
                    **rights,
                }
            )
        return self._ok({"status": self.bot_status, "user": self.bot_user()})

    async def m_setWebhook(self, params: dict) -> web.Response:
        self.webhook = {"url": params.get("url"), "secret_token": params.get("secret_token")}
        return self._ok(True)

    async def m_deleteWebhook(self, params: dict) -> web.Response:
        self.webhook = None
        return self._ok(True)

    async def m_getWebhookInfo(self, params: dict) -> web.Response:
        url = (self.webhook or {}).get("url") or ""
        return self._ok({"url": url, "has_custom_certificate": False, "pending_update_count": len(self._updates)})

    async def m_answerCallbackQuery(self, params: dict) -> web.Response:
        self.callback_answers.append(params)
        return self._ok(True)

    async def m_createForumTopic(self, params: dict) -> web.Response:
        if int(params["chat_id"]) != self.staff_chat:
            return self._error(400, "Bad Request: chat not found")
        if not self.forum:
            return self._error(400, "Bad Request: the chat is not a forum")
        thread = next(self._topic_ids)
        self.topics[thread] = Topic(thread, params["name"], names=[params["name"]])
        self.sent.append(
            Sent("createForumTopic", self.staff_chat, thread, thread, "topic", text=params["name"], ts=time.monotonic())
        )
        return self._ok({"message_thread_id": thread, "name": params["name"], "icon_color": 7322096})

    async def m_editForumTopic(self, params: dict) -> web.Response:
        err = self._thread_error(params)
        if err is not None:
            return err
        topic = self.topics[int(params["message_thread_id"])]
        if params.get("name"):
            if params["name"] == topic.name:
                return self._error(400, "Bad Request: TOPIC_NOT_MODIFIED")
            topic.name = params["name"]
            topic.names.append(topic.name)
        return self._ok(True)

    async def m_reopenForumTopic(self, params: dict) -> web.Response:
        topic = self.topics.get(int(params["message_thread_id"]))
        if topic is None or topic.deleted:
            return self._error(400, "Bad Request: message thread not found")
        if not topic.closed:
            return self._error(400, "Bad Request: TOPIC_NOT_CLOSED")
        topic.closed = False
        return self._ok(True)

    async def m_deleteForumTopic(self, params: dict) -> web.Response:
        topic = self.topics.get(int(params["message_thread_id"]))
        if topic is None:
            return self._error(400, "Bad Request: message thread not found")
        topic.deleted = True
        return self._ok(True)

    async def m_editMessageReplyMarkup(self, params: dict) -> web.Response:
        return self._ok(True)

    async def m_getFile(self, params: dict) -> web.Response:
        file_id = params.get("file_id")
        if file_id not in self.files:
            return self._error(400, "Bad Request: invalid file_id")
        data, name = self.files[file_id]
        return self._ok(
            {
                "file_id": file_id,
                "file_unique_id": file_id,
                "file_size": len(data),
                "file_path": f"files/{file_id}/{name}",
            }
        )

    async def _file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.Response(status=401)
        parts = request.match_info["path"].split("/")
        if len(parts) < 2 or parts[1] not in self.files:
            return web.Response(status=404)
        return web.Response(body=self.files[parts[1]][0])
