"""A local stand-in of the VK API for tests: methods, the Bots Long Poll server, upload URLs and file URLs.

It speaks HTTP like VK does, so the real vk-api library (and our aiohttp long-poll loop) talk to it unchanged:

* ``POST /method/{name}`` (form data, ``access_token`` and ``v`` checked) for the methods the bot uses;
* ``GET /lp?act=a_check&key=&ts=&wait=`` the Bots Long Poll server (``failed`` 1/2/3 can be forced);
* ``POST /upload/photo`` and ``/upload/doc`` multipart upload URLs; ``GET /files/{id}`` downloads
  (``add_big_file``: a file of any size, streamed, with or without Content-Length).

Test helpers: ``user_writes`` / ``press`` queue customer updates (long poll) and return them (post them to a
callback URL with ``post_callback``); ``sent`` lists what the community sent; ``wait_sent`` polls for it;
``fail`` makes the next call(s) of a method (after ``after`` successful ones) fail with a VK error or an HTTP
status, or drop the connection (``drop``; after delivering the message with ``deliver``: a lost reply);
``lp_http_status`` the next long-poll request(s) answer an HTTP error; ``post_callback_raw`` posts any bytes to
a callback URL.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from tests.fakes.server import drop_connection, serve, stream_big_file

API_VERSION = "5.199"


@dataclass
class SentMessage:
    id: int
    peer_id: int
    text: str
    random_id: int
    keyboard: dict[str, Any] | None = None
    attachments: list[dict[str, Any]] = field(default_factory=list)  # {"type", "id", "data", "filename"}

    @property
    def buttons(self) -> list[dict[str, Any]]:
        return [b["action"] for row in (self.keyboard or {}).get("buttons", []) for b in row]


@dataclass
class Failure:
    method: str
    error_code: int | None = None  # a VK API error
    http_status: int | None = None  # or an HTTP status
    deliver: bool = False  # messages.send only: deliver, then answer with the failure (a lost answer)
    drop: bool = False  # close the connection instead of answering (after delivering, with ``deliver``)
    times: int = 1
    after: int = 0  # calls of the method that still succeed before the failure starts


class FakeVk:
    def __init__(self, token: str = "vk-test-token", group_id: int = 4242):
        self.token = token
        self.group_id = group_id
        self.url = ""
        self.sent: list[SentMessage] = []
        self.calls: list[tuple[str, dict[str, str]]] = []
        self.event_answers: list[dict[str, str]] = []
        self.users: dict[int, tuple[str, str]] = {}
        self.files: dict[str, tuple[bytes, str, str]] = {}  # id -> (data, filename, mime)
        self.failures: list[Failure] = []
        self.force_failed: list[int] = []  # next a_check answers: failed=N
        self.lp_http_status: list[int] = []  # next a_check answers: this HTTP status
        self.big_files: dict[str, tuple[int, bool]] = {}  # id -> (size, send Content-Length): zeros, streamed
        self.downloads: list[str] = []  # file ids requested from /files/{id}
        self.lp_key = "key-1"
        self.lp_keys_issued = 0
        self.updates: list[dict[str, Any]] = []
        self.polls = 0  # a_check requests seen
        self._closing = False
        self._ts = 0
        self._ids = itertools.count(1000)
        self._new = asyncio.Event()
        self._by_random: dict[tuple[int, int], int] = {}
        self._photos: dict[int, str] = {}  # saved photo id -> file id
        self._docs: dict[int, tuple[str, str]] = {}  # saved doc id -> (file id, title)
        self._runner: web.AppRunner | None = None

    # ------------------------------------------------------------------ server
    async def start(self) -> FakeVk:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.add_routes(
            [
                web.post("/method/{name}", self._method),
                web.get("/lp", self._longpoll),
                web.post("/upload/{kind}", self._upload),
                web.get("/files/{id}", self._file),
            ]
        )
        self._runner, self.url = await serve(app)
        return self

    async def stop(self) -> None:
        self._closing = True
        self._new.set()
        if self._runner is not None:
            await self._runner.cleanup()

    # ------------------------------------------------------------------ test helpers
    def add_file(self, data: bytes, filename: str, mime: str) -> str:
        file_id = str(next(self._ids))
        self.files[file_id] = (data, filename, mime)
        return f"{self.url}/files/{file_id}"

    def add_big_file(self, size: int, *, content_length: bool = True) -> str:
        """A file of ``size`` zero bytes, streamed (chunked when ``content_length`` is false); returns its URL."""
        file_id = str(next(self._ids))
        self.big_files[file_id] = (size, content_length)
        return f"{self.url}/files/{file_id}"

    def photo(self, data: bytes, owner_id: int) -> dict[str, Any]:
        url = self.add_file(data, "photo.jpg", "image/jpeg")
        pid = next(self._ids)
        return {
            "type": "photo",
            "photo": {
                "id": pid,
                "owner_id": owner_id,
                "sizes": [
                    {"type": "s", "width": 75, "height": 75, "url": url + "?size=s"},
                    {"type": "x", "width": 604, "height": 453, "url": url},
                ],
            },
        }

    def doc(self, data: bytes, owner_id: int, title: str, ext: str) -> dict[str, Any]:
        url = self.add_file(data, title, "application/octet-stream")
        return {
            "type": "doc",
            "doc": {
                "id": next(self._ids),
                "owner_id": owner_id,
                "title": title,
                "ext": ext,
                "size": len(data),
                "url": url,
            },
        }

    def user_writes(
        self,
        user_id: int,
        text: str = "",
        *,
        attachments: list[dict[str, Any]] = (),
        payload: str | None = None,
        message_id: int | None = None,
        client_info: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A customer's message (message_new), queued for long poll; returns the update (for the callback API)."""
        message = {
            "id": message_id or next(self._ids),
            "date": int(time.time()),
            "peer_id": user_id,
            "from_id": user_id,
            "text": text,
            "conversation_message_id": next(self._ids),
            "out": 0,
            "attachments": list(attachments),
            "fwd_messages": [],
            "important": False,
            "is_hidden": False,
        }
        if payload is not None:
            message["payload"] = json.dumps({"p": payload})
        info = client_info or {
            "button_actions": [
                "text",
                "vkpay",
                "open_app",
                "location",
                "open_link",
                "callback",
                "intent_subscribe",
                "intent_unsubscribe",
            ],
            "keyboard": True,
            "inline_keyboard": True,
            "carousel": True,
            "lang_id": 0,
        }
        return self._queue("message_new", {"message": message, "client_info": info})

    def press(self, user_id: int, payload: dict[str, Any] | str) -> dict[str, Any]:
        """A callback button press (message_event)."""
        if isinstance(payload, str):
            payload = {"p": payload}
        obj = {
            "user_id": user_id,
            "peer_id": user_id,
            "event_id": f"ev{next(self._ids)}",
            "payload": payload,
            "conversation_message_id": next(self._ids),
        }
        return self._queue("message_event", obj)

    def press_button(self, message: SentMessage, label_part: str, user_id: int | None = None) -> dict[str, Any]:
        exact = [a for a in message.buttons if a["label"] == label_part]
        action = (exact or [a for a in message.buttons if label_part in a["label"]])[0]
        return self.press(user_id or message.peer_id, json.loads(action["payload"]))

    def _queue(self, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        update = {
            "type": kind,
            "object": obj,
            "group_id": self.group_id,
            "event_id": f"e{next(self._ids):x}",
            "v": API_VERSION,
        }
        self.updates.append(update)
        self._new.set()
        return update

    async def post_callback(self, url: str, update: dict[str, Any], secret: str | None) -> tuple[int, str]:
        body = dict(update)
        if secret is not None:
            body["secret"] = secret
        async with aiohttp.ClientSession() as s, s.post(url, json=body) as resp:
            return resp.status, await resp.text()

    async def post_callback_raw(self, url: str, raw: bytes) -> tuple[int, str]:
        async with (
            aiohttp.ClientSession() as s,
            s.post(url, data=raw, headers={"Content-Type": "application/json"}) as resp,
        ):
            return resp.status, await resp.text()

    def fail(
        self,
        method: str,
        *,
        error_code: int | None = None,
        http_status: int | None = None,
        deliver: bool = False,
        times: int = 1,
        after: int = 0,
        drop: bool = False,
    ) -> None:
        self.failures.append(Failure(method, error_code, http_status, deliver, drop, times, after))

    async def wait_polling(self, within: float = 10.0) -> None:
        """Until a long-poll client is connected (VK does not deliver what happened before it asked)."""
        deadline = asyncio.get_running_loop().time() + within
        while not self.polls:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError("nobody polls the VK long-poll server")
            await asyncio.sleep(0.02)

    def to(self, peer_id: int) -> list[SentMessage]:
        return [m for m in self.sent if m.peer_id == peer_id]

    async def wait_sent(
        self, peer_id: int, predicate=lambda m: True, within: float = 10.0, after: int = 0
    ) -> SentMessage:
        """The first message to ``peer_id`` (after the first ``after`` ones) matching ``predicate``."""
        deadline = asyncio.get_running_loop().time() + within
        while True:
            for m in self.to(peer_id)[after:]:
                if predicate(m):
                    return m
            if asyncio.get_running_loop().time() > deadline:
                got = [(m.text[:60], [a["type"] for a in m.attachments]) for m in self.to(peer_id)]
                raise AssertionError(f"no matching VK message to {peer_id}; sent: {got}")
            await asyncio.sleep(0.05)

    # ------------------------------------------------------------------ handlers
    def _take_failure(self, method: str) -> Failure | None:
        for f in self.failures:
            if f.method == method:
                if f.after > 0:
                    f.after -= 1
                    return None
                f.times -= 1
                if f.times <= 0:
                    self.failures.remove(f)
                return f
        return None

    @staticmethod
    def _error(code: int, msg: str, params: dict[str, str]) -> web.Response:
        return web.json_response(
            {
                "error": {
                    "error_code": code,
                    "error_msg": msg,
                    "request_params": [{"key": k, "value": v} for k, v in params.items() if k != "access_token"],
                }
            }
        )

    async def _method(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        params = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
        params.update({k: v for k, v in request.query.items()})
        self.calls.append((name, params))
        if params.get("access_token") != self.token:
            return self._error(5, "User authorization failed: invalid access_token (4).", params)
        if params.get("v") != API_VERSION:
            return self._error(8, f"Invalid request: expected v={API_VERSION}", params)
        failure = self._take_failure(name)
        if failure is not None and failure.drop and not failure.deliver:
            drop_connection(request)
            return web.Response(status=500)  # never read: the connection is closed
        if failure is not None and not failure.deliver:
            if failure.http_status:
                return web.Response(status=failure.http_status, text="Internal Server Error")
            return self._error(failure.error_code or 1, _ERROR_TEXTS.get(failure.error_code, "Unknown error"), params)
        handler = getattr(self, "_m_" + name.replace(".", "_"), None)
        if handler is None:
            return self._error(3, f"Unknown method passed: {name}", params)
        result = handler(params)
        if failure is not None:  # delivered, but the answer is lost
            if failure.drop:
                drop_connection(request)
                return web.Response(status=500)
            if failure.http_status:
                return web.Response(status=failure.http_status, text="Internal Server Error")
            return self._error(failure.error_code or 1, _ERROR_TEXTS.get(failure.error_code, "Unknown error"), params)
        return web.json_response({"response": result})

    def _m_groups_getLongPollServer(self, params):
        assert int(params["group_id"]) == self.group_id
        self.lp_keys_issued += 1
        self.lp_key = f"key-{self.lp_keys_issued}"
        return {"server": f"{self.url}/lp", "key": self.lp_key, "ts": str(self._ts_now())}

    def _ts_now(self) -> int:
        return len(self.updates)

    def _m_users_get(self, params):
        out = []
        for uid in str(params.get("user_ids", "")).split(","):
            if uid:
                first, last = self.users.get(int(uid), ("Ivan", "Petrov"))
                out.append(
                    {
                        "id": int(uid),
                        "first_name": first,
                        "last_name": last,
                        "can_access_closed": True,
                        "is_closed": False,
                    }
                )
        return out

    def _m_messages_send(self, params):
        peer_id = int(params["peer_id"])
        rid = int(params["random_id"])
        if rid and (peer_id, rid) in self._by_random:
            return self._by_random[(peer_id, rid)]  # VK: the same random_id is not delivered again
        attachments = []
        for ident in filter(None, (params.get("attachment") or "").split(",")):
            attachments.append(self._resolve_attachment(ident))
        keyboard = json.loads(params["keyboard"]) if params.get("keyboard") else None
        mid = next(self._ids)
        self.sent.append(SentMessage(mid, peer_id, params.get("message", ""), rid, keyboard, attachments))
        if rid:
            self._by_random[(peer_id, rid)] = mid
        return mid

    def _m_messages_sendMessageEventAnswer(self, params):
        self.event_answers.append(params)
        return 1

    def _m_photos_getMessagesUploadServer(self, params):
        return {
            "upload_url": f"{self.url}/upload/photo?peer={params.get('peer_id', '')}",
            "album_id": -3,
            "group_id": self.group_id,
        }

    def _m_docs_getMessagesUploadServer(self, params):
        return {"upload_url": f"{self.url}/upload/doc?peer={params.get('peer_id', '')}"}

    def _m_photos_saveMessagesPhoto(self, params):
        stored = json.loads(params["photo"])
        pid = next(self._ids)
        self._photos[pid] = stored["file"]
        return [{"id": pid, "owner_id": -self.group_id, "access_key": "ak" + str(pid), "sizes": []}]

    def _m_docs_save(self, params):
        file_id = params["file"]
        did = next(self._ids)
        self._docs[did] = (file_id, params.get("title") or "")
        return {
            "type": "doc",
            "doc": {
                "id": did,
                "owner_id": -self.group_id,
                "title": params.get("title") or "",
                "url": f"{self.url}/files/{file_id}",
            },
        }

    def _resolve_attachment(self, ident: str) -> dict[str, Any]:
        kind = "photo" if ident.startswith("photo") else "doc"
        owner_and_id = ident[len(kind) :].split("_")
        item_id = int(owner_and_id[1])
        if kind == "photo":
            file_id = self._photos[item_id]
            title = self.files[file_id][1]
        else:
            file_id, title = self._docs[item_id]
        data, filename, _ = self.files[file_id]
        return {"type": kind, "id": ident, "data": data, "filename": title or filename}

    async def _upload(self, request: web.Request) -> web.Response:
        kind = request.match_info["kind"]
        reader = await request.multipart()
        part = await reader.next()
        data = await part.read()  # type: ignore[union-attr]
        filename = part.filename or "file"  # type: ignore[union-attr]
        file_id = str(next(self._ids))
        self.files[file_id] = (bytes(data), filename, "application/octet-stream")
        if kind == "photo":
            return web.json_response({"server": 1, "photo": json.dumps({"file": file_id}), "hash": "h" + file_id})
        return web.json_response({"file": file_id})

    async def _file(self, request: web.Request) -> web.StreamResponse:
        self.downloads.append(request.match_info["id"])
        if request.match_info["id"] in self.big_files:
            size, with_length = self.big_files[request.match_info["id"]]
            return await stream_big_file(request, size, with_length)
        item = self.files.get(request.match_info["id"])
        if item is None:
            return web.Response(status=404)
        return web.Response(body=item[0], content_type=item[2])

    async def _longpoll(self, request: web.Request) -> web.Response:
        q = request.query
        self.polls += 1
        if q.get("act") != "a_check":
            return web.json_response({"failed": 4})
        if self.lp_http_status:
            return web.Response(status=self.lp_http_status.pop(0), text="Internal Server Error")
        if self.force_failed:
            failed = self.force_failed.pop(0)
            body: dict[str, Any] = {"failed": failed}
            if failed == 1:
                body["ts"] = str(self._ts_now())
            return web.json_response(body)
        if q.get("key") != self.lp_key:
            return web.json_response({"failed": 2})
        ts = int(q.get("ts") or 0)
        if ts > self._ts_now():
            return web.json_response({"failed": 3})
        wait = min(float(q.get("wait") or 25), 90)
        deadline = asyncio.get_running_loop().time() + wait
        while self._ts_now() <= ts and not self._closing:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                break
            self._new.clear()
            try:
                await asyncio.wait_for(self._new.wait(), remaining)
            except TimeoutError:
                break
        return web.json_response({"ts": str(self._ts_now()), "updates": self.updates[ts:]})


_ERROR_TEXTS = {
    6: "Too many requests per second",
    9: "Flood control",
    29: "Rate limit reached",
    900: "Can't send messages for users from blacklist",
    901: "Can't send messages for users without permission",
    902: "Can't send messages to this user due to their privacy settings",
    10: "Internal server error",
}
