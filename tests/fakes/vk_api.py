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

This module is the server: ``FakeVk`` with its state, the method dispatch and failures (``fail``), uploads,
downloads and the long-poll server. Its other parts are mixins: ``tests.fakes.vk_records`` (``SentMessage``,
``Failure`` and the reading queries), ``tests.fakes.vk_updates`` (the updates a test queues) and
``tests.fakes.vk_methods`` (the API methods); their names stay importable from here.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

from aiohttp import web

from tests.fakes.server import drop_connection, serve, stream_big_file
from tests.fakes.vk_methods import VkMethodsMixin
from tests.fakes.vk_records import API_VERSION, ERROR_TEXTS, Failure, SentMessage, VkReadingMixin
from tests.fakes.vk_updates import VkUpdatesMixin

__all__ = ["API_VERSION", "Failure", "FakeVk", "SentMessage"]


class FakeVk(VkUpdatesMixin, VkReadingMixin, VkMethodsMixin):
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
            return self._error(failure.error_code or 1, ERROR_TEXTS.get(failure.error_code, "Unknown error"), params)
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
            return self._error(failure.error_code or 1, ERROR_TEXTS.get(failure.error_code, "Unknown error"), params)
        return web.json_response({"response": result})

    def _ts_now(self) -> int:
        return len(self.updates)

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
