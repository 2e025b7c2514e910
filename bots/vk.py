"""VK community messages: Bots Long Poll (default) or the Callback API, on top of the vk-api library.

* vk-api is synchronous: every call runs in a worker thread (``asyncio.to_thread``), never on the event loop.
* vk-api addresses ``https://api.vk.ru/method/...`` itself; ``VK_API_URL`` is honoured by handing it a
  ``requests`` session that rebases those URLs (a supported constructor argument, no global patching).
* Bots Long Poll: ``groups.getLongPollServer`` once, then ``a_check`` requests with aiohttp (cancellable),
  ``failed`` 1/2/3 handled as VK documents them.
* Callback API (when ``VK_CALLBACK_SECRET`` and ``VK_CONFIRMATION_CODE`` are set): ``POST /webhooks/vk``
  answers the confirmation request with the code, checks ``secret`` on every event, answers ``ok`` only once
  the event is handled, and handles a re-sent event (same ``event_id``) once.
* ``messages.send`` gets a ``random_id`` derived from the delivery key: VK drops a retried send.
* Choices and ratings: an inline keyboard with callback buttons (``message_event`` is answered), text buttons
  with a payload for clients without callback support, numbered lines for clients without keyboards.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import logging
import mimetypes
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import aiohttp
import requests
import vk_api
from aiohttp import web
from vk_api.exceptions import ApiError, ApiHttpError
from vk_api.keyboard import MAX_INLINE_LINES, VkKeyboard, VkKeyboardColor
from vk_api.upload import VkUpload

from bots.channel import DeliveryError, Limit, Media, numbered
from core.config import Settings
from core.messages import Attachment, AttachmentKind, Inbound, Outbound, customer
from core.store import Store

if TYPE_CHECKING:
    from bots.runner import Hub

log = logging.getLogger(__name__)

API_VERSION = "5.199"
VK_DEFAULT_API = "https://api.vk.ru"
LONGPOLL_WAIT = 25
TEXT_MAX = 4096
LABEL_MAX = 40
BUTTONS_MAX = 10  # an inline keyboard holds at most 10 buttons
NAME_TTL = 7 * 24 * 3600
CLIENT_TTL = 30 * 24 * 3600
# lang_id of client_info -> our language codes (VK: 0 ru, 1 uk, 2 be, 3 en, ...)
_LANG_IDS = {0: "ru", 1: "ru", 2: "ru", 3: "en"}

# Errors the operator should read in plain words; the customer cannot be reached until they act.
PERMANENT_ERRORS = {
    900: "the customer has blacklisted the community",
    901: "the customer has not allowed messages from the community",
    902: "the customer's privacy settings do not allow messages from the community",
    7: "the community token lacks the messages permission",
    15: "access denied",
    914: "the message is too long",
    936: "the contact was not found",
}
# Rate limits: wait that long and retry (6: too many requests per second; 9: flood control; 29: rate limit)
RATE_ERRORS = {6: 1.0, 9: 10.0, 29: 60.0}
RETRYABLE_ERRORS = {1, 10}  # unknown error, internal server error


def random_id(key: str, part: int = 0) -> int:
    """A stable positive 31-bit ``random_id`` for one part of one delivery: a retried send is not delivered twice."""
    digest = hashlib.sha1(f"{key}#{part}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF or 1


def vk_error(exc: Exception) -> DeliveryError:
    """A vk-api / transport exception as the DeliveryError the outbox understands."""
    if isinstance(exc, ApiError):
        code = exc.code
        message = exc.error.get("error_msg", "")
        if code in RATE_ERRORS:
            return DeliveryError(f"VK rate limit (VK error {code}: {message})", retry_after=RATE_ERRORS[code])
        if code in PERMANENT_ERRORS:
            return DeliveryError(f"not delivered: {PERMANENT_ERRORS[code]} (VK error {code})", permanent=True)
        if code in RETRYABLE_ERRORS:
            return DeliveryError(f"VK error {code}: {message}")
        return DeliveryError(f"not delivered: VK error {code}: {message}", permanent=True)
    if isinstance(exc, ApiHttpError):
        status = exc.response.status_code
        if status == 429:
            return DeliveryError(f"VK answered HTTP {status}", retry_after=1.0)
        return DeliveryError(f"VK answered HTTP {status}", permanent=400 <= status < 500 and status != 408)
    if isinstance(exc, requests.RequestException | aiohttp.ClientError | OSError | ValueError):
        return DeliveryError(f"VK unreachable: {exc.__class__.__name__}: {exc}")
    return DeliveryError(f"VK call failed: {exc.__class__.__name__}: {exc}")


class RebasedSession(requests.Session):
    """A requests session that sends what vk-api addresses to https://api.vk.ru to ``base`` instead.

    vk-api builds method URLs from a fixed host but accepts a custom session: the supported seam.
    """

    def __init__(self, base: str):
        super().__init__()
        self.base = base.rstrip("/")
        self.headers["User-Agent"] = "supportbot (vk-api)"

    def request(self, method, url, *args, **kwargs):  # type: ignore[override]
        if isinstance(url, str) and url.startswith(VK_DEFAULT_API + "/") and self.base != VK_DEFAULT_API:
            url = self.base + url[len(VK_DEFAULT_API) :]
        kwargs.setdefault("timeout", 30)
        return super().request(method, url, *args, **kwargs)


def make_api(token: str, api_url: str = VK_DEFAULT_API) -> vk_api.VkApi:
    """A vk-api client for a community token, API 5.199, pointed at ``api_url``."""
    vk = vk_api.VkApiGroup(token=token, api_version=API_VERSION, session=RebasedSession(api_url))
    # vk-api sleeps and retries error 6 forever inside the call; we map it to a DeliveryError(retry_after)
    vk.error_handlers.pop(vk_api.vk_api.TOO_MANY_RPS_CODE, None)
    return vk


class VkChannel:
    name = "vk"

    def __init__(self, settings: Settings, store: Store):
        assert settings.vk_group_token and settings.vk_group_id, "VK_GROUP_TOKEN and VK_GROUP_ID are required"
        self.settings = settings
        self.store = store
        self.group_id = int(settings.vk_group_id)
        self.vk = make_api(settings.vk_group_token, settings.vk_api_url)
        self.api = self.vk.get_api()
        self.upload = VkUpload(self.vk)
        self.secret = settings.vk_callback_secret
        self.confirmation = settings.vk_confirmation_code
        self.callback_mode = bool(self.secret and self.confirmation)
        self.longpoll_wait = LONGPOLL_WAIT
        # Set by the delivery: fetches a file another channel received (an operator's Telegram photo...).
        self.media: Callable[[Attachment], Awaitable[Media]] | None = None
        self._http: aiohttp.ClientSession | None = None

    # ------------------------------------------------------------------ plumbing
    async def call(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """Run a synchronous vk-api call in a worker thread."""
        return await asyncio.to_thread(fn, *args, **kwargs)

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_connect=15))
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
        await asyncio.to_thread(self.vk.http.close)

    def limits(self, out: Outbound) -> list[Limit]:
        # A community token may make 20 requests per second; one send may need a few (uploads).
        return [Limit("vk:api", 15, 1.0)]

    # ------------------------------------------------------------------ receiving: long poll
    async def run(self, hub: Hub) -> None:
        if self.callback_mode:
            return  # updates come to POST /webhooks/vk
        server = await self._longpoll_server()
        backoff = 1.0
        while True:
            try:
                timeout = aiohttp.ClientTimeout(total=self.longpoll_wait + 15)
                params = {"act": "a_check", "key": server["key"], "ts": server["ts"], "wait": self.longpoll_wait}
                async with self._session().get(server["server"], params=params, timeout=timeout) as resp:
                    resp.raise_for_status()
                    data = await resp.json(content_type=None)
            except asyncio.CancelledError:
                raise
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                log.warning("VK long poll failed (%s); retrying in %.0f s", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            backoff = 1.0
            failed = data.get("failed")
            if failed == 1:  # events were lost: continue from the ts given
                server["ts"] = data["ts"]
                continue
            if failed in (2, 3):  # key expired (2) or information lost (3): a new key (and ts for 3)
                fresh = await self._longpoll_server()
                server["server"], server["key"] = fresh["server"], fresh["key"]
                if failed == 3:
                    server["ts"] = fresh["ts"]
                continue
            if failed:
                log.warning("VK long poll answered failed=%s; asking for a new server", failed)
                server = await self._longpoll_server()
                continue
            for update in data.get("updates", []):
                await self._handle_with_retries(hub, update)
            server["ts"] = data.get("ts", server["ts"])

    async def _handle_with_retries(self, hub: Hub, update: dict[str, Any], attempts: int = 3) -> None:
        """Long poll cannot re-deliver: retry a failed update a few times (the desk undid its dedup mark)."""
        for attempt in range(1, attempts + 1):
            try:
                await self.handle_update(hub, update)
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                if attempt == attempts:
                    log.exception("VK update %s dropped after %d attempts", update.get("type"), attempts)
                    return
                log.warning("VK update %s failed (attempt %d); retrying", update.get("type"), attempt, exc_info=True)
                await asyncio.sleep(attempt)

    async def _longpoll_server(self) -> dict[str, Any]:
        delay = 1.0
        while True:
            try:
                return dict(await self.call(self.api.groups.getLongPollServer, group_id=self.group_id))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("VK groups.getLongPollServer failed (%s); retrying in %.0f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 60.0)

    # ------------------------------------------------------------------ receiving: callback API
    def routes(self, hub: Hub) -> list[web.RouteDef]:
        if not self.callback_mode:
            return []

        async def webhook(request: web.Request) -> web.Response:
            try:
                body = await request.json()
            except ValueError:
                return web.Response(status=400, text="bad json")
            if not isinstance(body, dict):
                return web.Response(status=400, text="bad json")
            if body.get("group_id") is not None and int(body.get("group_id") or 0) != self.group_id:
                return web.Response(status=403, text="unknown group")
            if body.get("type") == "confirmation":
                return web.Response(text=self.confirmation or "")
            if body.get("secret") != self.secret:
                log.warning("VK callback with a wrong secret rejected")
                return web.Response(status=403, text="bad secret")
            event_id = str(body.get("event_id") or "")
            if event_id and not await self.store.first_time("vk", f"cb:{event_id}"):
                return web.Response(text="ok")  # a re-sent event: handled already
            try:
                await self.handle_update(hub, body)
            except Exception:
                log.exception("VK callback event %s failed", event_id)
                if event_id:
                    await self.store.forget("vk", f"cb:{event_id}")
                return web.Response(status=500, text="error")  # VK re-sends it
            return web.Response(text="ok")

        return [web.post("/webhooks/vk", webhook)]

    # ------------------------------------------------------------------ native update -> Inbound
    async def handle_update(self, hub: Hub, update: dict[str, Any]) -> None:
        kind = update.get("type")
        obj = update.get("object") or {}
        if kind == "message_new":
            event = await self.inbound(obj)
            if event is not None:
                await hub.customer(event)
        elif kind == "message_event":
            event = await self.button_press(obj)
            if event is not None:
                await hub.customer(event)

    async def inbound(self, obj: dict[str, Any]) -> Inbound | None:
        message = obj.get("message") or obj
        from_id = int(message.get("from_id") or 0)
        peer_id = int(message.get("peer_id") or from_id)
        if from_id <= 0 or peer_id != from_id or message.get("out"):
            return None  # communities, group chats and our own messages are not customers
        user = customer("vk", from_id)
        info = obj.get("client_info")
        if isinstance(info, dict):
            await self.store.redis.set(self._client_key(from_id), json.dumps(info), ex=CLIENT_TTL)
        msg_id = int(message.get("id") or 0)
        native_id = str(msg_id) if msg_id else f"c{peer_id}:{message.get('conversation_message_id')}"
        payload = None
        raw_payload = message.get("payload")
        if raw_payload:
            payload = _our_payload(raw_payload)
        text = message.get("text") or ""
        attachments, notes = _attachments(message.get("attachments") or [])
        if notes:
            text = (text + "\n" if text else "") + " ".join(notes)
        lang = _LANG_IDS.get(info.get("lang_id")) if isinstance(info, dict) else None
        return Inbound(
            sender=user, text=text, message_id=native_id, attachments=attachments, payload=payload,
            language=lang, name=await self.display_name(from_id), handle=f"vk.com/id{from_id}",
        )

    async def button_press(self, obj: dict[str, Any]) -> Inbound | None:
        user_id = int(obj.get("user_id") or 0)
        peer_id = int(obj.get("peer_id") or user_id)
        event_id = str(obj.get("event_id") or "")
        if user_id <= 0 or not event_id:
            return None
        try:  # stop the button's spinner; a failure here must not lose the press
            await self.call(self.api.messages.sendMessageEventAnswer, event_id=event_id, user_id=user_id,
                            peer_id=peer_id)
        except Exception as exc:
            log.warning("VK messages.sendMessageEventAnswer failed: %s", exc)
        payload = _our_payload(obj.get("payload"))
        if payload is None:
            return None  # not one of our buttons
        return Inbound(
            sender=customer("vk", user_id), text="", message_id=f"btn:{event_id}", payload=payload,
            name=await self.display_name(user_id), handle=f"vk.com/id{user_id}",
        )

    async def display_name(self, user_id: int) -> str | None:
        """'First Last' from users.get, fetched once and kept in Redis."""
        key = self.store.k("vk", "name", user_id)
        cached = await self.store.redis.get(key)
        if cached is not None:
            return cached or None
        try:
            users = await self.call(self.api.users.get, user_ids=user_id)
        except Exception as exc:
            log.warning("VK users.get failed: %s", exc)
            return None
        name = ""
        if users:
            name = " ".join(p for p in (users[0].get("first_name"), users[0].get("last_name")) if p)
        await self.store.redis.set(key, name, ex=NAME_TTL)
        return name or None

    def _client_key(self, user_id: int | str) -> str:
        return self.store.k("vk", "client", user_id)

    # ------------------------------------------------------------------ sending
    async def send(self, out: Outbound, key: str) -> str:
        assert out.to is not None and out.to.channel == "vk"
        peer_id = int(out.to.user_id)
        uploaded: list[str] = []
        for att in out.attachments:
            uploaded.append(await self._upload(att, peer_id))
        text, keyboard = await self._text_and_keyboard(out)
        chunks = _split(text, TEXT_MAX) or [""]
        first: str | None = None
        for i, chunk in enumerate(chunks):
            last = i == len(chunks) - 1
            values: dict[str, Any] = {"peer_id": peer_id, "random_id": random_id(key, i), "message": chunk}
            if last and uploaded:
                values["attachment"] = ",".join(uploaded)
            if last and keyboard:
                values["keyboard"] = keyboard
            if not chunk and "attachment" not in values:
                continue
            try:
                result = await self.call(self.vk.method, "messages.send", values)
            except Exception as exc:
                raise vk_error(exc) from exc
            message_id = result.get("message_id") if isinstance(result, dict) else result
            first = first or str(message_id)
        return first or ""

    async def _text_and_keyboard(self, out: Outbound) -> tuple[str, str | None]:
        if not out.buttons:
            return out.text, None
        raw = await self.store.redis.get(self._client_key(out.to.user_id)) if out.to else None
        info = json.loads(raw) if raw else {}
        actions = info.get("button_actions") or ["text", "callback"]
        inline_ok = info.get("inline_keyboard", True)
        keyboard_ok = info.get("keyboard", True)
        if not keyboard_ok or len(out.buttons) > BUTTONS_MAX:
            return numbered(out.text, [b.label for b in out.buttons]), None
        kb = VkKeyboard(inline=bool(inline_ok), one_time=not inline_ok)
        per_line = 1 if len(out.buttons) <= MAX_INLINE_LINES else 2
        for i, button in enumerate(out.buttons):
            if i and i % per_line == 0:
                kb.add_line()
            label = button.label if len(button.label) <= LABEL_MAX else button.label[: LABEL_MAX - 1] + "…"
            payload = {"p": button.payload}
            if inline_ok and "callback" in actions:
                kb.add_callback_button(label, VkKeyboardColor.SECONDARY, payload)
            else:
                kb.add_button(label, VkKeyboardColor.SECONDARY, payload)
        return out.text, kb.get_keyboard()

    async def _upload(self, att: Attachment, peer_id: int) -> str:
        media = await self._fetch(att)
        buffer = io.BytesIO(media.data)
        buffer.name = media.filename or "file"
        is_photo = att.kind == AttachmentKind.PHOTO and (media.mime or "image/jpeg").startswith("image/")
        try:
            if is_photo:
                photos = await self.call(self.upload.photo_messages, buffer, peer_id=peer_id)
                photo = photos[0]
                return _attachment_id("photo", photo)
            title = media.filename or "file"
            saved = await self.call(self.upload.document_message, buffer, title=title, peer_id=peer_id)
            doc_type = saved.get("type", "doc")
            return _attachment_id("doc", saved.get(doc_type) or saved.get("doc") or {})
        except Exception as exc:
            raise vk_error(exc) from exc

    async def _fetch(self, att: Attachment) -> Media:
        if att.channel == self.name:
            return await self.download(att)
        if self.media is None:
            raise DeliveryError(f"cannot fetch a {att.channel} file for VK (no media resolver)", permanent=True)
        return await self.media(att)

    async def download(self, attachment: Attachment) -> Media:
        """Customer files come with a direct URL (``Attachment.ref``)."""
        try:
            async with self._session().get(attachment.ref, timeout=aiohttp.ClientTimeout(total=120)) as resp:
                if resp.status >= 400:
                    raise DeliveryError(f"VK file download answered HTTP {resp.status}",
                                        permanent=resp.status in (403, 404, 410))
                data = await resp.read()
                mime = attachment.mime or resp.headers.get("Content-Type", "").split(";")[0] or None
        except aiohttp.ClientError as exc:
            raise DeliveryError(f"VK file download failed: {exc}") from exc
        filename = attachment.filename or "file" + (mimetypes.guess_extension(mime or "") or "")
        return Media(data, filename, mime)


def _our_payload(raw: Any) -> str | None:
    """Our payload string from a VK button payload ({"p": "..."}, as JSON text or already parsed)."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return raw
    if isinstance(raw, dict):
        if "p" in raw:
            return str(raw["p"])
        if raw.get("command") == "start":  # the "Start" button of a new dialog
            return None
    return None


def _attachment_id(kind: str, obj: dict[str, Any]) -> str:
    ident = f"{kind}{obj.get('owner_id')}_{obj.get('id')}"
    return f"{ident}_{obj['access_key']}" if obj.get("access_key") else ident


def _attachments(items: list[dict[str, Any]]) -> tuple[tuple[Attachment, ...], list[str]]:
    """VK attachments as ours; what cannot be fetched (video, sticker, wall post...) becomes a note in the text."""
    result: list[Attachment] = []
    notes: list[str] = []
    for item in items:
        kind = item.get("type")
        obj = item.get(kind) or {}
        if kind == "photo":
            sizes = obj.get("sizes") or []
            if not sizes:
                continue
            best = max(sizes, key=lambda s: (s.get("width") or 0) * (s.get("height") or 0))
            url = best.get("url") or best.get("src")
            if url:
                result.append(Attachment(AttachmentKind.PHOTO, url, "vk",
                                         filename=f"photo{obj.get('owner_id')}_{obj.get('id')}.jpg",
                                         mime="image/jpeg"))
        elif kind == "doc" and obj.get("url"):
            title = obj.get("title") or "document"
            ext = obj.get("ext")
            if ext and not title.lower().endswith("." + ext.lower()):
                title += "." + ext
            result.append(Attachment(AttachmentKind.DOCUMENT, obj["url"], "vk", filename=title,
                                     mime=mimetypes.guess_type(title)[0], size=obj.get("size")))
        elif kind == "audio_message" and (obj.get("link_ogg") or obj.get("link_mp3")):
            url = obj.get("link_ogg") or obj.get("link_mp3")
            ogg = bool(obj.get("link_ogg"))
            result.append(Attachment(AttachmentKind.VOICE, url, "vk", filename="voice.ogg" if ogg else "voice.mp3",
                                     mime="audio/ogg" if ogg else "audio/mpeg"))
        elif kind == "sticker":
            notes.append("[sticker]")
        else:
            notes.append(f"[{kind}]")
    return tuple(result), notes


def _split(text: str, limit: int) -> list[str]:
    parts = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit)
        cut = cut if cut > limit // 2 else limit
        parts.append(text[:cut])
        text = text[cut:].lstrip("\n")
    if text:
        parts.append(text)
    return parts
