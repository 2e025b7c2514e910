"""WhatsApp Cloud API: a thin aiohttp client of our own, behind our own web server.

Why not pywa: pywa (4.5) fixes the Graph API host (``GraphAPI`` overwrites the session's base URL with
``https://graph.facebook.com/v{version}``), so ``WHATSAPP_API_URL`` (tests, proxies) could only be honoured by
patching its internals; its webhook side is built for FastAPI/Flask (we serve aiohttp), and it would add httpx
for the handful of calls we make (send, upload, media URL, download). The error codes we act on (131047...)
are plain JSON either way.

Webhook: ``GET /webhooks/whatsapp`` answers Meta's verification; ``POST /webhooks/whatsapp`` checks
``X-Hub-Signature-256`` over the raw body before parsing (403 when it is missing or wrong, or when no
``WHATSAPP_APP_SECRET`` is configured), and answers 200 only after the messages were handed to the desk.

The 24-hour rule: the customer's last message time is kept in Redis (``wa:last:{wa_id}``). A reply after
the window closed is sent as the approved template ``WHATSAPP_REOPEN_TEMPLATE`` (its body must have exactly
one variable, ``{{1}}``, which receives the operator's text; ``name`` or ``name:language_code``), otherwise it
fails permanently with the closing time, which the operator sees in the case's topic.

Files over ``MAX_DOWNLOAD`` are refused (permanently) before they are read. A message WhatsApp marks
``unsupported`` gets one short reply (at most once an hour per customer) and reaches the operator of an open case.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import mimetypes
import re
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web

from bots.channel import MAX_DOWNLOAD, DeliveryError, Limit, Media, fetch_media, numbered, read_capped, too_large
from core.cards import fmt_time
from core.config import Settings
from core.messages import (
    Attachment,
    AttachmentKind,
    Audience,
    Inbound,
    Outbound,
    StaffKind,
    customer,
    to_customer,
    to_staff,
)
from core.store import Store
from core.texts import t

if TYPE_CHECKING:
    from bots.runner import Hub

log = logging.getLogger(__name__)

GRAPH_VERSION = "v21.0"
WINDOW = 24 * 3600
TEXT_MAX = 4096
BODY_MAX = 1024  # interactive message body
BUTTONS_MAX = 3
BUTTON_TITLE_MAX = 20
ROWS_MAX = 10
ROW_TITLE_MAX = 24
ROW_DESCRIPTION_MAX = 72
TEMPLATE_PARAM_MAX = 1024
LAST_TTL = 8 * 24 * 3600
UNSUPPORTED_NOTICE_TTL = 3600  # the "not supported" reply: at most once an hour per customer
SENT_TTL = 7 * 24 * 3600

# Errors after which a retry cannot help; the operator reads the reason.
PERMANENT_ERRORS = {
    131026: "the message is undeliverable (the number may not use WhatsApp, or has not accepted the terms)",
    131030: "the number is not in the test recipients list",
    131031: "the business account is locked",
    131045: "the phone number is not registered",
    131051: "unsupported message type",
    131052: "the media could not be downloaded",
    131053: "the media could not be uploaded",
    132000: "the template parameters do not match the template",
    132001: "the template does not exist (in that language) or is not approved",
    132015: "the template is paused",
    132016: "the template is disabled",
    190: "the access token is invalid or expired",
    10: "the app lacks the permission",
    100: "invalid parameter",
    200: "the app lacks the permission",
}
RATE_ERRORS = {4: 60.0, 80007: 60.0, 130429: 5.0, 131048: 60.0, 131056: 10.0}
REENGAGEMENT = {131047, 470}

# Only the window's closing is kept atomic: a re-delivered older message must not move it back.
_SET_MAX_LUA = """
local cur = redis.call('GET', KEYS[1])
if (not cur) or tonumber(cur) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
  return cur or ''
end
redis.call('EXPIRE', KEYS[1], ARGV[2])
return cur
"""


class GraphError(Exception):
    def __init__(self, status: int, body: dict[str, Any]):
        err = body.get("error") if isinstance(body.get("error"), dict) else {}
        self.status = status
        self.code = int(err.get("code") or 0)
        self.subcode = err.get("error_subcode")
        details = (err.get("error_data") or {}).get("details") if isinstance(err.get("error_data"), dict) else None
        self.message = err.get("message") or err.get("error_user_msg") or f"HTTP {status}"
        self.details = details or ""
        super().__init__(f"Graph API error {self.code}: {self.message}")


def signature_ok(body: bytes, header: str | None, secret: str | None) -> bool:
    """X-Hub-Signature-256: 'sha256=' + HMAC-SHA256(app secret, raw body), hex."""
    if not secret or not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header[len("sha256=") :].strip().lower())


def graph_error(exc: Exception) -> DeliveryError:
    if isinstance(exc, GraphError):
        code = exc.code
        if code in RATE_ERRORS or exc.status == 429:
            return DeliveryError(
                f"WhatsApp rate limit (error {code}: {exc.message})", retry_after=RATE_ERRORS.get(code, 5.0)
            )
        if code in PERMANENT_ERRORS:
            return DeliveryError(f"not delivered: {PERMANENT_ERRORS[code]} (WhatsApp error {code})", permanent=True)
        if exc.status >= 500 or code in (1, 2, 131000, 131016):
            return DeliveryError(f"WhatsApp error {code or exc.status}: {exc.message}")
        return DeliveryError(f"not delivered: WhatsApp error {code or exc.status}: {exc.message}", permanent=True)
    if isinstance(exc, aiohttp.ClientError | TimeoutError | OSError):
        return DeliveryError(f"WhatsApp unreachable: {exc.__class__.__name__}: {exc}")
    return DeliveryError(f"WhatsApp call failed: {exc.__class__.__name__}: {exc}")


class WindowClosed(Exception):
    def __init__(self, closed_at: float | None):
        self.closed_at = closed_at


class WhatsAppChannel:
    name = "whatsapp"

    def __init__(self, settings: Settings, store: Store):
        assert settings.whatsapp_token and settings.whatsapp_phone_number_id, "WHATSAPP_TOKEN/PHONE_NUMBER_ID"
        self.settings = settings
        self.store = store
        self.token = settings.whatsapp_token
        self.phone_id = str(settings.whatsapp_phone_number_id)
        self.base = settings.whatsapp_api_url.rstrip("/") + "/" + GRAPH_VERSION
        self.app_secret = settings.whatsapp_app_secret
        self.verify_token = settings.whatsapp_verify_token
        template = (settings.whatsapp_reopen_template or "").strip()
        self.template_name, _, self.template_lang = template.partition(":")
        self.clock: Callable[[], float] = time.time  # tests move it to close the 24-hour window
        # Set by the delivery: fetches a file another channel received (an operator's Telegram photo...).
        self.media: Callable[[Attachment], Awaitable[Media]] | None = None
        self._http: aiohttp.ClientSession | None = None
        self._set_max = store.redis.register_script(_SET_MAX_LUA)
        if not self.app_secret:
            log.error("WHATSAPP_APP_SECRET is not set: every WhatsApp webhook call will be rejected (403)")

    # ------------------------------------------------------------------ plumbing
    def _session(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=60, sock_connect=15),
                headers={"Authorization": f"Bearer {self.token}"},
            )
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()

    async def _request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        url = path if path.startswith("http") else f"{self.base}/{path}"
        async with self._session().request(method, url, **kwargs) as resp:
            try:
                body = await resp.json(content_type=None)
            except (ValueError, aiohttp.ContentTypeError):
                body = {}
            if resp.status >= 400 or not isinstance(body, dict) or "error" in body:
                raise GraphError(resp.status, body if isinstance(body, dict) else {})
            return body

    def limits(self, out: Outbound) -> list[Limit]:
        # Cloud API throughput: 80 messages/s per number; bursts to one user are limited too (error 131056).
        return [Limit("whatsapp:number", 80, 1.0), Limit(f"whatsapp:pair:{out.to.user_id if out.to else ''}", 10, 6.0)]

    async def run(self, hub: Hub) -> None:
        return  # updates come by webhook

    # ------------------------------------------------------------------ webhook
    def routes(self, hub: Hub) -> list[web.RouteDef]:
        async def verify(request: web.Request) -> web.Response:
            q = request.query
            if (
                q.get("hub.mode") == "subscribe"
                and self.verify_token
                and hmac.compare_digest(q.get("hub.verify_token", ""), self.verify_token)
            ):
                return web.Response(text=q.get("hub.challenge", ""))
            return web.Response(status=403, text="verification failed")

        async def receive(request: web.Request) -> web.Response:
            raw = await request.read()
            if not signature_ok(raw, request.headers.get("X-Hub-Signature-256"), self.app_secret):
                log.warning("WhatsApp webhook with a missing or bad signature rejected")
                return web.Response(status=403, text="bad signature")
            try:
                body = json.loads(raw)
            except ValueError:
                return web.Response(status=400, text="bad json")
            try:
                await self.handle_webhook(hub, body)
            except Exception:
                log.exception("WhatsApp webhook failed")
                return web.Response(status=500, text="error")  # Meta re-delivers; the wamid dedups
            return web.Response(text="ok")

        return [web.get("/webhooks/whatsapp", verify), web.post("/webhooks/whatsapp", receive)]

    async def handle_webhook(self, hub: Hub, body: dict[str, Any]) -> None:
        for entry in body.get("entry") or []:
            for change in entry.get("changes") or []:
                if change.get("field") != "messages":
                    continue
                value = change.get("value") or {}
                number = str((value.get("metadata") or {}).get("phone_number_id") or "")
                if number and number != self.phone_id:
                    log.info("WhatsApp webhook for another number (%s) ignored", number)
                    continue
                names = {c.get("wa_id"): (c.get("profile") or {}).get("name") for c in value.get("contacts") or []}
                for message in value.get("messages") or []:
                    await self._message(hub, message, names)
                for status in value.get("statuses") or []:
                    await self._status(hub, status)

    async def _message(self, hub: Hub, message: dict[str, Any], names: dict[str, str | None]) -> None:
        event = self.inbound(message, names)
        if event is None:
            return
        wa_id = event.sender.user_id
        sent_at = float(message.get("timestamp") or self.clock())
        previous = await self._set_max(keys=[self._last_key(wa_id)], args=[repr(sent_at), LAST_TTL])
        if message.get("type") == "unsupported":
            await self._unsupported(hub, event)
            return
        await hub.customer(event)
        await self._note_window(hub, event, sent_at, float(previous) if previous else None)

    async def _unsupported(self, hub: Hub, event: Inbound) -> None:
        """A message WhatsApp could not pass on (a poll, a view-once photo...): tell the customer once (not for
        every such message), and the operator when a case is open; no FAQ answer to "[unsupported]"."""
        user = event.sender
        lang = (await self.store.get_user(user)).get("lang") or self.settings.default_language  # before the desk
        if await self.store.open_case_of(user) is not None:
            await hub.customer(event)  # relayed to the case's topic
        if await self.store.redis.set(
            self.store.k("wa", "unsupported", user.user_id), "1", nx=True, ex=UNSUPPORTED_NOTICE_TTL
        ):
            await hub.submit([to_customer(user, t("unsupported_message", lang))])

    async def _note_window(self, hub: Hub, event: Inbound, sent_at: float, previous: float | None) -> None:
        """Show in the case's topic until when free-form replies are possible: once per case, and again when the
        customer writes after the window had closed."""
        case = await self.store.open_case_of(event.sender)
        if case is None:
            return
        meta = await self.store.case_meta(case.id)
        reopened = previous is not None and sent_at - previous > WINDOW
        if meta.get("wa_window_noted") and not reopened:
            return
        await self.store.set_case_meta(case.id, wa_window_noted="1")
        closes = fmt_time(sent_at + WINDOW)
        await hub.submit(
            [
                to_staff(
                    case.id,
                    f"WhatsApp: free-form replies are possible until {closes} "
                    "(24 hours after the customer's last message; "
                    "each new message from the customer moves this on).",
                    StaffKind.INFO,
                    meta={"wa_window_closes": sent_at + WINDOW},
                )
            ]
        )

    def inbound(self, message: dict[str, Any], names: dict[str, str | None]) -> Inbound | None:
        wa_id = str(message.get("from") or "")
        wamid = message.get("id")
        if not wa_id or not wamid:
            return None
        kind = message.get("type")
        text = ""
        payload = None
        attachments: list[Attachment] = []
        if kind == "text":
            text = (message.get("text") or {}).get("body", "")
        elif kind in ("image", "document", "audio", "video", "sticker"):
            media = message.get(kind) or {}
            text = media.get("caption") or ""
            mime = media.get("mime_type")
            att_kind = {
                "image": AttachmentKind.PHOTO,
                "document": AttachmentKind.DOCUMENT,
                "video": AttachmentKind.VIDEO,
                "sticker": AttachmentKind.STICKER,
                "audio": AttachmentKind.VOICE if media.get("voice") else AttachmentKind.AUDIO,
            }[kind]
            filename = media.get("filename") or f"{kind}{mimetypes.guess_extension((mime or '').split(';')[0]) or ''}"
            if media.get("id"):
                attachments.append(Attachment(att_kind, str(media["id"]), self.name, filename=filename, mime=mime))
        elif kind == "interactive":
            inter = message.get("interactive") or {}
            reply = inter.get("button_reply") or inter.get("list_reply") or {}
            payload = reply.get("id")
            text = reply.get("title") or ""
        elif kind == "button":  # a template's quick-reply button
            button = message.get("button") or {}
            text = button.get("text") or ""
        elif kind == "location":
            loc = message.get("location") or {}
            text = f"[location {loc.get('latitude')}, {loc.get('longitude')}] {loc.get('name') or ''}".strip()
        elif kind in ("reaction", "system", "ephemeral"):
            return None
        else:
            text = f"[{kind}]"
        return Inbound(
            sender=customer(self.name, wa_id),
            text=text,
            message_id=str(wamid),
            attachments=tuple(attachments),
            payload=payload,
            name=names.get(wa_id) or None,
            handle="+" + wa_id,
        )

    async def _status(self, hub: Hub, status: dict[str, Any]) -> None:
        """Delivery statuses: a failed one is reported in the case's topic (once)."""
        if status.get("status") != "failed":
            return
        wamid = str(status.get("id") or "")
        if not wamid or not await self.store.first_time(self.name, f"status:{wamid}:failed"):
            return
        sent = await self.store.redis.hgetall(self._sent_key(wamid))
        errors = status.get("errors") or [{}]
        err = errors[0]
        code = int(err.get("code") or 0)
        if code in REENGAGEMENT:
            reason = f"not delivered: WhatsApp's 24-hour window was closed (WhatsApp error {code})"
        elif code in PERMANENT_ERRORS:
            reason = f"not delivered: {PERMANENT_ERRORS[code]} (WhatsApp error {code})"
        else:
            detail = (err.get("error_data") or {}).get("details") or err.get("message") or err.get("title") or ""
            reason = f"not delivered: WhatsApp error {code}: {detail}".rstrip(": ")
        if not sent.get("case"):
            log.warning("WhatsApp message %s failed (%s); no case known", wamid, reason)
            return
        recipient = customer(self.name, status.get("recipient_id") or sent.get("to") or "")
        out = Outbound(Audience.CUSTOMER, sent.get("text", ""), to=recipient, case_id=int(sent["case"]))
        try:
            follow = await hub.desk.delivery_failed(out, reason)
            await hub.submit(follow)
        except Exception:
            await self.store.forget(self.name, f"status:{wamid}:failed")
            raise

    # ------------------------------------------------------------------ sending
    async def send(self, out: Outbound, key: str) -> str:
        assert out.to is not None and out.to.channel == self.name
        if not out.text.strip() and not out.attachments:
            # e.g. a location, contact or poll an operator sent in Telegram: no text, no file, only copy_from
            raise DeliveryError(
                "WhatsApp cannot show this kind of message (no text and no file, e.g. a location, "
                "contact or poll); send it as text or a file",
                permanent=True,
            )
        wa_id = out.to.user_id
        last = await self.store.redis.get(self._last_key(wa_id))
        if last is not None and self.clock() - float(last) > WINDOW:
            return await self._send_closed(out, key, float(last))
        try:
            return await self._send_free(out, key)
        except WindowClosed:
            return await self._send_closed(out, key, float(last) if last is not None else None)

    async def _send_free(self, out: Outbound, key: str) -> str:
        wa_id = out.to.user_id  # type: ignore[union-attr]
        parts: list[dict[str, Any] | Attachment] = [*self._text_message(out), *out.attachments]
        first = ""
        for i, part in enumerate(parts):
            done_key = self.store.k("wa", "sent", key, i)
            done = await self.store.redis.get(done_key)
            if done:  # this part went out on an earlier attempt
                first = first or done
                continue
            message = await self._media_message(part) if isinstance(part, Attachment) else part
            wamid = await self._post_message(wa_id, message, out)
            await self.store.redis.set(done_key, wamid, ex=SENT_TTL)
            first = first or wamid
        return first

    async def _send_closed(self, out: Outbound, key: str, last: float | None) -> str:
        closed = f" at {fmt_time(last + WINDOW)}" if last is not None else ""
        if not self.template_name or not out.text.strip():
            raise DeliveryError(
                f"not delivered: WhatsApp's 24-hour window closed{closed} (no reply from the customer since); "
                "set WHATSAPP_REOPEN_TEMPLATE to send such replies as an approved template",
                permanent=True,
            )
        done_key = self.store.k("wa", "sent", key, "template")
        wamid = await self.store.redis.get(done_key)
        if not wamid:
            text = re.sub(r"\s*\n\s*", " · ", out.text.strip())  # template variables allow no new lines
            text = re.sub(r"\s{4,}", "   ", text)
            if len(text) > TEMPLATE_PARAM_MAX:
                text = text[: TEMPLATE_PARAM_MAX - 1] + "…"
            message = {
                "type": "template",
                "template": {
                    "name": self.template_name,
                    "language": {"code": self.template_lang or out.lang or self.settings.default_language},
                    "components": [{"type": "body", "parameters": [{"type": "text", "text": text or "…"}]}],
                },
            }
            try:
                wamid = await self._post_message(out.to.user_id, message, out)  # type: ignore[union-attr]
            except WindowClosed as exc:
                raise DeliveryError("not delivered: WhatsApp refused the reopen template", permanent=True) from exc
            await self.store.redis.set(done_key, wamid, ex=SENT_TTL)
        if out.attachments:
            raise DeliveryError(
                f"the text went out as the template {self.template_name!r}, but the {len(out.attachments)} file(s) "
                f"did not: WhatsApp's 24-hour window closed{closed}; send them again after the customer replies",
                permanent=True,
            )
        return wamid

    async def _post_message(self, wa_id: str, message: dict[str, Any], out: Outbound) -> str:
        body = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": wa_id, **message}
        try:
            result = await self._request("POST", f"{self.phone_id}/messages", json=body)
        except GraphError as exc:
            if exc.code in REENGAGEMENT:
                raise WindowClosed(None) from exc
            raise graph_error(exc) from exc
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise graph_error(exc) from exc
        wamid = str(((result.get("messages") or [{}])[0]).get("id") or "")
        if wamid and out.case_id is not None:
            preview = " ".join(out.text.split())[:200]
            async with self.store.redis.pipeline(transaction=True) as p:
                p.hset(self._sent_key(wamid), mapping={"case": out.case_id, "to": wa_id, "text": preview})
                p.expire(self._sent_key(wamid), SENT_TTL)
                await p.execute()
        return wamid

    def _text_message(self, out: Outbound) -> list[dict[str, Any]]:
        """The text (and buttons) as one or more messages: reply buttons, a list, or numbered lines."""
        text = out.text
        buttons = out.buttons
        if buttons and len(text) <= BODY_MAX:
            if (
                len(buttons) <= BUTTONS_MAX
                and all(len(b.label) <= BUTTON_TITLE_MAX for b in buttons)
                and all(len(b.payload) <= 256 for b in buttons)
            ):
                return [
                    {
                        "type": "interactive",
                        "interactive": {
                            "type": "button",
                            "body": {"text": text or "…"},
                            "action": {
                                "buttons": [
                                    {"type": "reply", "reply": {"id": b.payload, "title": b.label}} for b in buttons
                                ]
                            },
                        },
                    }
                ]
            if len(buttons) <= ROWS_MAX and all(len(b.payload) <= 200 for b in buttons):
                rows = []
                for b in buttons:
                    row: dict[str, Any] = {"id": b.payload, "title": _clip(b.label, ROW_TITLE_MAX)}
                    if len(b.label) > ROW_TITLE_MAX:
                        row["description"] = _clip(b.label, ROW_DESCRIPTION_MAX)
                    rows.append(row)
                return [
                    {
                        "type": "interactive",
                        "interactive": {
                            "type": "list",
                            "body": {"text": text or "…"},
                            "action": {
                                "button": _clip(t("wa_list_button", out.lang), BUTTON_TITLE_MAX),
                                "sections": [{"rows": rows}],
                            },
                        },
                    }
                ]
        if buttons:
            text = numbered(text, [b.label for b in buttons])
        if not text.strip():
            return []  # files only: WhatsApp refuses an empty text message
        return [{"type": "text", "text": {"body": chunk, "preview_url": False}} for chunk in _split(text, TEXT_MAX)]

    async def _media_message(self, att: Attachment) -> dict[str, Any]:
        media = await fetch_media(self, att)
        mime = media.mime or mimetypes.guess_type(media.filename)[0] or "application/octet-stream"
        if att.kind == AttachmentKind.PHOTO and mime in ("image/jpeg", "image/png"):
            kind = "image"
        elif att.kind in (AttachmentKind.AUDIO, AttachmentKind.VOICE) and mime.startswith("audio/"):
            kind = "audio"
        elif att.kind == AttachmentKind.VIDEO and mime in ("video/mp4", "video/3gpp"):
            kind = "video"
        else:
            kind = "document"
        form = aiohttp.FormData()
        form.add_field("messaging_product", "whatsapp")
        form.add_field("type", mime)
        form.add_field("file", media.data, filename=media.filename, content_type=mime)
        try:
            uploaded = await self._request("POST", f"{self.phone_id}/media", data=form)
        except (GraphError, aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise graph_error(exc) from exc
        body: dict[str, Any] = {"id": uploaded["id"]}
        if kind == "document":
            body["filename"] = media.filename
        return {"type": kind, kind: body}

    async def download(self, attachment: Attachment) -> Media:
        """A customer's file: its URL from the media id, then the bytes (both with the token); files over
        ``MAX_DOWNLOAD`` are refused before they are read (their size, then Content-Length, then what arrives)."""
        if attachment.size and attachment.size > MAX_DOWNLOAD:
            raise too_large(attachment.size)
        try:
            info = await self._request("GET", attachment.ref)
            size = _int(info.get("file_size"))
            if size and size > MAX_DOWNLOAD:
                raise too_large(size)
            async with self._session().get(info["url"]) as resp:
                if resp.status >= 400:
                    raise DeliveryError(
                        f"WhatsApp media download answered HTTP {resp.status}",
                        permanent=resp.status in (401, 403, 404, 410),
                    )
                data = await read_capped(resp, MAX_DOWNLOAD)
        except GraphError as exc:
            raise graph_error(exc) from exc
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:  # the type only: the message can carry the URL
            raise DeliveryError(f"WhatsApp media download failed: {exc.__class__.__name__}") from exc
        mime = info.get("mime_type") or attachment.mime
        filename = attachment.filename or "file" + (mimetypes.guess_extension(mime or "") or "")
        return Media(data, filename, mime)

    # ------------------------------------------------------------------ keys
    def _last_key(self, wa_id: str) -> str:
        return self.store.k("wa", "last", wa_id)

    def _sent_key(self, wamid: str) -> str:
        return self.store.k("wa", "msg", wamid)

    async def window_closes(self, wa_id: str) -> float | None:
        """When free-form replies to this customer stop being possible (None: no message from them known)."""
        last = await self.store.redis.get(self._last_key(wa_id))
        return float(last) + WINDOW if last is not None else None


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _split(text: str, limit: int) -> list[str]:
    parts = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit)
        cut = cut if cut > limit // 2 else limit
        parts.append(text[:cut])
        text = text[cut:].lstrip("\n")
    return [*parts, text] if text or not parts else parts
