"""A local stand-in of the WhatsApp Cloud (Graph) API for tests, and a customer's phone that calls our webhook.

Server side (what our client calls, over HTTP, Bearer token checked):

* ``POST /{version}/{phone_number_id}/messages`` records a message and answers ``{"messages": [{"id": wamid}]}``;
* ``POST /{version}/{phone_number_id}/media`` (multipart) stores a file and answers its media id;
* ``GET /{version}/{media_id}`` answers the media's download URL; ``GET /download/{media_id}`` the bytes
  (``add_big_media``: a file of any size, streamed, with or without ``file_size`` / Content-Length).

Customer side: ``customer_writes`` / ``customer_sends_media`` / ``customer_presses`` build the webhook payload
Meta sends, sign it with the app secret (X-Hub-Signature-256) and POST it to the bot; ``post_webhook`` sends
any payload with any signature (re-deliveries, bad signatures). ``fail`` makes the next send(s) fail.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from tests.fakes.server import first_sent, serve, stream_big_file

VERSION = "v21.0"


@dataclass
class Failure:
    status: int = 500
    code: int = 1
    message: str = "An unknown error has occurred."
    times: int = 1


class FakeGraph:
    def __init__(
        self, token: str = "wa-test-token", phone_number_id: str = "100200300", app_secret: str = "wa-app-secret"
    ):
        self.token = token
        self.phone_number_id = phone_number_id
        self.app_secret = app_secret
        self.url = ""
        self.webhook_url = ""  # the bot's POST /webhooks/whatsapp, set by the test
        self.sent: list[dict[str, Any]] = []  # message bodies as posted, with "id" (wamid) added
        self.media: dict[str, tuple[bytes, str, str]] = {}  # media id -> (data, mime, filename)
        self.failures: list[Failure] = []
        self.requests: list[tuple[str, str]] = []
        self.big_media: dict[str, tuple[int, bool, bool]] = {}  # id -> (size, report file_size, Content-Length)
        self.window_closed: set[str] = set()  # customers outside the 24-hour window: free-form sends fail (131047)
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None

    async def start(self) -> FakeGraph:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.add_routes(
            [
                web.post(f"/{VERSION}/{{phone}}/messages", self._messages),
                web.post(f"/{VERSION}/{{phone}}/media", self._upload),
                web.get(f"/{VERSION}/{{media_id}}", self._media_url),
                web.get("/download/{media_id}", self._download),
            ]
        )
        self._runner, self.url = await serve(app)
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # ------------------------------------------------------------------ server
    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.token}"

    @staticmethod
    def _error(status: int, code: int, message: str) -> web.Response:
        return web.json_response(
            {
                "error": {
                    "message": message,
                    "type": "OAuthException",
                    "code": code,
                    "error_data": {"messaging_product": "whatsapp", "details": message},
                    "fbtrace_id": "AbCdEf",
                }
            },
            status=status,
        )

    async def _messages(self, request: web.Request) -> web.Response:
        self.requests.append(("messages", request.match_info["phone"]))
        if not self._authorized(request):
            return self._error(401, 190, "Invalid OAuth access token.")
        if request.match_info["phone"] != self.phone_number_id:
            return self._error(400, 100, "Unsupported post request.")
        body = await request.json()
        if self.failures:
            failure = self.failures[0]
            failure.times -= 1
            if failure.times <= 0:
                self.failures.pop(0)
            return self._error(failure.status, failure.code, failure.message)
        assert body.get("messaging_product") == "whatsapp", body
        if body["to"] in self.window_closed and body.get("type") != "template":
            return self._error(400, 131047, "Re-engagement message")
        problem = _validate(body, self.media)
        if problem:
            return self._error(400, 100, problem)
        wamid = f"wamid.OUT{next(self._ids):06d}"
        body["id"] = wamid
        self.sent.append(body)
        return web.json_response(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": body["to"], "wa_id": body["to"]}],
                "messages": [{"id": wamid}],
            }
        )

    async def _upload(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._error(401, 190, "Invalid OAuth access token.")
        reader = await request.multipart()
        fields: dict[str, Any] = {}
        while (part := await reader.next()) is not None:
            if part.name == "file":  # type: ignore[union-attr]
                fields["file"] = (bytes(await part.read()), part.filename)  # type: ignore[union-attr]
            else:
                fields[part.name] = await part.text()  # type: ignore[union-attr]
        if fields.get("messaging_product") != "whatsapp" or "file" not in fields:
            return self._error(400, 100, "messaging_product and file are required")
        data, filename = fields["file"]
        media_id = self.add_media(data, fields.get("type") or "application/octet-stream", filename or "file")
        return web.json_response({"id": media_id})

    async def _media_url(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._error(401, 190, "Invalid OAuth access token.")
        media_id = request.match_info["media_id"]
        if media_id not in self.media:
            return self._error(400, 100, "Unsupported get request.")
        data, mime, _ = self.media[media_id]
        info = {
            "messaging_product": "whatsapp",
            "url": f"{self.url}/download/{media_id}",
            "mime_type": mime,
            "sha256": hashlib.sha256(data).hexdigest(),
            "file_size": len(data),
            "id": media_id,
        }
        if media_id in self.big_media:
            size, report, _ = self.big_media[media_id]
            info["file_size"] = size
            if not report:
                del info["file_size"]
        return web.json_response(info)

    async def _download(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(("download", request.match_info["media_id"]))
        if not self._authorized(request):
            return web.Response(status=401)
        if request.match_info["media_id"] in self.big_media:
            size, _, with_length = self.big_media[request.match_info["media_id"]]
            return await stream_big_file(request, size, with_length)
        item = self.media.get(request.match_info["media_id"])
        if item is None:
            return web.Response(status=404)
        return web.Response(body=item[0], content_type=item[1])

    # ------------------------------------------------------------------ helpers: the API side
    def add_media(self, data: bytes, mime: str, filename: str = "file") -> str:
        media_id = str(9_000_000 + next(self._ids))
        self.media[media_id] = (data, mime, filename)
        return media_id

    def add_big_media(
        self, size: int, mime: str = "video/mp4", *, file_size: bool = True, content_length: bool = True
    ) -> str:
        """Media of ``size`` zero bytes, streamed; ``file_size`` / ``content_length``: whether they are told."""
        media_id = self.add_media(b"", mime, "big.mp4")
        self.big_media[media_id] = (size, file_size, content_length)
        return media_id

    def fail(
        self, status: int = 500, code: int = 1, message: str = "An unknown error has occurred.", times: int = 1
    ) -> None:
        self.failures.append(Failure(status, code, message, times))

    def to(self, wa_id: str) -> list[dict[str, Any]]:
        return [m for m in self.sent if m["to"] == wa_id]

    def media_bytes(self, message: dict[str, Any]) -> bytes:
        kind = message["type"]
        return self.media[message[kind]["id"]][0]

    async def wait_sent(
        self, wa_id: str, predicate=lambda m: True, within: float = 10.0, after: int = 0
    ) -> dict[str, Any]:
        missing = lambda: f"no matching WhatsApp message to {wa_id}; sent: {self.to(wa_id)}"  # noqa: E731
        return await first_sent(lambda: self.to(wa_id), predicate, within, after, missing)

    # ------------------------------------------------------------------ helpers: the customer side
    def sign(self, body: bytes, secret: str | None = None) -> str:
        key = (secret if secret is not None else self.app_secret).encode()
        return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()

    def payload(
        self, wa_id: str, name: str, message: dict[str, Any] | None = None, statuses: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        value: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550001111", "phone_number_id": self.phone_number_id},
        }
        if message is not None:
            value["contacts"] = [{"profile": {"name": name}, "wa_id": wa_id}]
            value["messages"] = [
                {"from": wa_id, "id": f"wamid.IN{next(self._ids):06d}", "timestamp": str(int(time.time())), **message}
            ]
        if statuses is not None:
            value["statuses"] = statuses
        return {
            "object": "whatsapp_business_account",
            "entry": [{"id": "WABA1", "changes": [{"value": value, "field": "messages"}]}],
        }

    async def post_webhook(self, payload: dict[str, Any] | bytes, signature: str | None = "sign") -> tuple[int, str]:
        raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
        if signature == "sign":
            headers["X-Hub-Signature-256"] = self.sign(raw)
        elif signature is not None:
            headers["X-Hub-Signature-256"] = signature
        async with aiohttp.ClientSession() as s, s.post(self.webhook_url, data=raw, headers=headers) as resp:
            return resp.status, await resp.text()

    async def _deliver(self, payload: dict[str, Any]) -> dict[str, Any]:
        status, text = await self.post_webhook(payload)
        assert status == 200, (status, text)
        return payload

    async def customer_writes(self, wa_id: str, text: str, name: str = "Maria") -> dict[str, Any]:
        return await self._deliver(self.payload(wa_id, name, {"type": "text", "text": {"body": text}}))

    async def customer_sends_media(
        self,
        wa_id: str,
        kind: str,
        data: bytes,
        mime: str,
        *,
        caption: str = "",
        filename: str | None = None,
        name: str = "Maria",
    ) -> dict[str, Any]:
        media_id = self.add_media(data, mime, filename or kind)
        media: dict[str, Any] = {"id": media_id, "mime_type": mime, "sha256": hashlib.sha256(data).hexdigest()}
        if caption:
            media["caption"] = caption
        if filename:
            media["filename"] = filename
        return await self._deliver(self.payload(wa_id, name, {"type": kind, kind: media}))

    async def customer_presses(
        self, wa_id: str, message: dict[str, Any], title_part: str, name: str = "Maria"
    ) -> dict[str, Any]:
        """Press a reply button or pick a list row of a message the bot sent."""
        inter = message["interactive"]
        if inter["type"] == "button":
            reply = next(b["reply"] for b in inter["action"]["buttons"] if title_part in b["reply"]["title"])
            body = {"type": "button_reply", "button_reply": {"id": reply["id"], "title": reply["title"]}}
        else:
            rows = [r for section in inter["action"]["sections"] for r in section["rows"]]
            row = next(r for r in rows if title_part in r["title"] or title_part in r.get("description", ""))
            body = {"type": "list_reply", "list_reply": {"id": row["id"], "title": row["title"]}}
        return await self._deliver(
            self.payload(
                wa_id,
                name,
                {
                    "type": "interactive",
                    "interactive": body,
                    "context": {"from": "15550001111", "id": message["id"]},
                },
            )
        )

    async def status(
        self, wamid: str, wa_id: str, status: str = "failed", code: int = 131026, title: str = "Message undeliverable."
    ) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "id": wamid,
            "status": status,
            "timestamp": str(int(time.time())),
            "recipient_id": wa_id,
        }
        if status == "failed":
            entry["errors"] = [{"code": code, "title": title, "message": title, "error_data": {"details": title}}]
        return await self._deliver(self.payload(wa_id, "", statuses=[entry]))


def _validate(body: dict[str, Any], media: dict[str, Any]) -> str | None:
    """The Cloud API's limits our client must respect."""
    kind = body.get("type")
    if kind == "text":
        if len(body["text"]["body"]) > 4096:
            return "text too long"
        if not body["text"]["body"].strip():
            return "The parameter text['body'] is required."
    elif kind == "interactive":
        inter = body["interactive"]
        if len(inter["body"]["text"]) > 1024:
            return "body too long"
        if inter["type"] == "button":
            buttons = inter["action"]["buttons"]
            if not 1 <= len(buttons) <= 3 or any(len(b["reply"]["title"]) > 20 for b in buttons):
                return "Param interactive['action']['buttons'] is invalid"
        elif inter["type"] == "list":
            rows = [r for s in inter["action"]["sections"] for r in s["rows"]]
            if len(rows) > 10 or any(len(r["title"]) > 24 or len(r.get("description", "")) > 72 for r in rows):
                return "Param interactive['action']['sections'] is invalid"
            if len(inter["action"]["button"]) > 20:
                return "list button too long"
    elif kind in ("image", "document", "audio", "video"):
        if "id" not in body[kind] and "link" not in body[kind]:
            return "media id required"
        if "id" in body[kind] and body[kind]["id"] not in media:
            return "unknown media id"
    elif kind == "template":
        if not body["template"].get("name"):
            return "template name required"
    else:
        return f"unsupported type {kind}"
    return None
