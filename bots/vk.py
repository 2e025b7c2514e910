"""VK community messages: Bots Long Poll (default) or the Callback API, on top of the vk-api library.

* vk-api is synchronous: every call runs in a worker thread (``asyncio.to_thread``), never on the event loop.
* vk-api addresses ``https://api.vk.ru/method/...`` itself; ``VK_API_URL`` is honoured by handing it a
  ``requests`` session that rebases those URLs (a supported constructor argument, no global patching).
* Bots Long Poll: ``groups.getLongPollServer`` once, then ``a_check`` requests with aiohttp (cancellable),
  ``failed`` 1/2/3 handled as VK documents them. A batch's updates are handled per peer: different customers
  concurrently, one customer's in order. ``ts`` moves past a batch only when every update in it was handled
  (a failed one is retried with capped backoff: long poll cannot re-deliver, and the desk's dedup makes a retry
  safe). A refused token (VK errors 5, 15, 27) stops ``run`` with an error that says what to fix.
* Callback API (when ``VK_CALLBACK_SECRET`` and ``VK_CONFIRMATION_CODE`` are set): ``POST /webhooks/vk``
  answers the confirmation request with the code, checks ``secret`` on every event, answers ``ok`` only once
  the event is handled, and handles a re-sent event (same ``event_id``) once.
* ``messages.send`` gets a ``random_id`` derived from the delivery key and a per-install salt kept in Redis
  (``vk:salt``): VK drops a retried send, but not a new message after the outbox counter restarted.
* Files are fetched with a cap (``MAX_DOWNLOAD``): a larger one fails permanently, before it is read.
* Choices and ratings: an inline keyboard with callback buttons (``message_event`` is answered), text buttons
  with a payload for clients without callback support, numbered lines for clients without keyboards.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import json
import logging
import mimetypes
import secrets
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import aiohttp
import requests
import vk_api
from aiohttp import web
from vk_api.exceptions import ApiError, ApiHttpError
from vk_api.keyboard import MAX_INLINE_LINES, VkKeyboard, VkKeyboardColor
from vk_api.upload import VkUpload

from bots.channel import MAX_DOWNLOAD, DeliveryError, Limit, Media, fetch_media, numbered, read_capped, too_large
from bots.runner import ConfigError
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
RETRY_DELAY, RETRY_DELAY_MAX = 1.0, 30.0  # a long-poll update that failed: retried with this backoff
PARK_AFTER = 20  # attempts (about 8 minutes) before a failing update is parked in Redis and intake moves on


class VkSetupError(ConfigError):
    """VK refused the community's credentials: retrying cannot help, an administrator must act (``supportbot run``
    stops with "configuration error: ...")."""


# groups.getLongPollServer errors that mean the configuration is wrong (stop, say what to fix)
SETUP_ERRORS = {
    5: "VK_GROUP_TOKEN was refused (VK error 5: {msg}): create a new community access token "
    "(community → Manage → API usage → Access tokens) and set VK_GROUP_TOKEN",
    15: "VK denied access to the community's Long Poll (VK error 15: {msg}): give VK_GROUP_TOKEN the "
    "'community management' and 'messages' permissions and enable Bots Long Poll API "
    "(community → Manage → API usage → Long Poll API)",
    27: "VK_GROUP_TOKEN was refused (VK error 27, group authorization failed: {msg}): use a community token "
    "of the community VK_GROUP_ID={group}",
}


def random_id(key: str, part: int = 0, salt: str = "") -> int:
    """A stable positive 31-bit ``random_id`` for one part of one delivery: a retried send is not delivered twice.

    ``salt`` (per install, see ``VkChannel._salt``) keeps ids apart when the outbox counter starts again."""
    digest = hashlib.sha1(f"{salt}|{key}#{part}".encode() if salt else f"{key}#{part}".encode()).digest()
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
        self.retry_delay, self.retry_delay_max = RETRY_DELAY, RETRY_DELAY_MAX
        self.park_after = PARK_AFTER
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
                # only the type and the status: the message can carry the request URL, with the long-poll key
                status = f", HTTP {exc.status}" if isinstance(exc, aiohttp.ClientResponseError) else ""
                log.warning("VK long poll failed (%s%s); retrying in %.0f s", exc.__class__.__name__, status, backoff)
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
            updates = data.get("updates")
            await self._handle_batch(hub, updates if isinstance(updates, list) else [])
            server["ts"] = data.get("ts", server["ts"])

    async def _handle_batch(self, hub: Hub, updates: list[Any]) -> None:
        """One long-poll batch, handled before ``ts`` moves on: each peer's updates in order, peers concurrently
        (one customer waiting on their lock or a failing update does not hold up the others)."""
        by_peer: dict[str, list[dict[str, Any]]] = {}
        for update in updates:
            if isinstance(update, dict):
                by_peer.setdefault(_peer_of(update), []).append(update)

        async def one_peer(items: list[dict[str, Any]]) -> None:
            for update in items:
                await self._handle_until_done(hub, update)

        if len(by_peer) == 1:
            await one_peer(next(iter(by_peer.values())))
            return
        async with asyncio.TaskGroup() as group:
            for items in by_peer.values():
                group.create_task(one_peer(items))

    async def _handle_until_done(self, hub: Hub, update: dict[str, Any]) -> None:
        """Long poll cannot re-deliver, so a failed update is retried (capped backoff): the desk undid its dedup
        mark, so a retry is safe. One that still fails after ``park_after`` attempts (about 8 minutes) is parked
        in Redis (``vk:parked``, raw JSON, logged as an error) so that one poisoned update cannot stop the
        intake of every VK customer; nothing is thrown away."""
        delay = self.retry_delay
        attempt = 0
        while True:
            attempt += 1
            try:
                await self.handle_update(hub, update)
            except asyncio.CancelledError:
                raise
            except Exception:
                if attempt >= self.park_after and await self._park(update):
                    return
                log.error(
                    "VK update %s (peer %s) failed (attempt %d); retrying in %.1f s, it is not skipped",
                    update.get("type"),
                    _peer_of(update),
                    attempt,
                    delay,
                    exc_info=attempt == 1,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.retry_delay_max)
                continue
            if attempt > 1:
                log.info("VK update %s (peer %s) handled on attempt %d", update.get("type"), _peer_of(update), attempt)
            return

    async def _park(self, update: dict[str, Any]) -> bool:
        try:
            await self.store.redis.rpush(self.store.k("vk", "parked"), json.dumps(update, ensure_ascii=False))
        except Exception:  # Redis itself is failing: keep retrying instead
            return False
        log.error(
            "VK update %s (peer %s) still failing after %d attempts: parked in Redis list %s for a person "
            "to look at; moving on",
            update.get("type"),
            _peer_of(update),
            self.park_after,
            self.store.k("vk", "parked"),
        )
        return True

    async def _longpoll_server(self) -> dict[str, Any]:
        delay = 1.0
        while True:
            try:
                return dict(await self.call(self.api.groups.getLongPollServer, group_id=self.group_id))
            except asyncio.CancelledError:
                raise
            except ApiError as exc:
                if exc.code in SETUP_ERRORS:
                    message = SETUP_ERRORS[exc.code].format(msg=exc.error.get("error_msg", ""), group=self.group_id)
                    log.error("%s", message)
                    raise VkSetupError(message) from None
                log.warning("VK groups.getLongPollServer failed (%s); retrying in %.0f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 60.0)
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
            if body.get("group_id") is not None:
                group_id = _int(body["group_id"])
                if group_id is None:
                    return web.Response(status=400, text="bad group_id")
                if group_id != self.group_id:
                    return web.Response(status=403, text="unknown group")
            if body.get("type") == "confirmation":
                return web.Response(text=self.confirmation or "")
            secret = body.get("secret")
            if not isinstance(secret, str) or not hmac.compare_digest(secret.encode(), (self.secret or "").encode()):
                log.warning("VK callback with a wrong secret rejected")
                return web.Response(status=403, text="bad secret")
            if not isinstance(body.get("object", {}), dict):
                return web.Response(status=400, text="bad object")
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
        if not isinstance(obj, dict):
            log.warning("VK update %s without an object ignored", kind)
            return
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
        if not isinstance(message, dict):
            return None
        from_id = _int(message.get("from_id") or 0) or 0
        peer_id = _int(message.get("peer_id") or from_id) or 0
        if from_id <= 0 or peer_id != from_id or message.get("out"):
            return None  # communities, group chats and our own messages are not customers
        user = customer("vk", from_id)
        info = obj.get("client_info")
        if isinstance(info, dict):
            await self.store.redis.set(self._client_key(from_id), json.dumps(info), ex=CLIENT_TTL)
        msg_id = _int(message.get("id") or 0) or 0
        native_id = str(msg_id) if msg_id else f"c{peer_id}:{message.get('conversation_message_id')}"
        payload = None
        raw_payload = message.get("payload")
        if raw_payload:
            payload = _our_payload(raw_payload)
        text = message.get("text") if isinstance(message.get("text"), str) else ""
        items = message.get("attachments")
        attachments, notes = _attachments([i for i in items if isinstance(i, dict)] if isinstance(items, list) else [])
        if notes:
            text = (text + "\n" if text else "") + " ".join(notes)
        lang = _LANG_IDS.get(info.get("lang_id")) if isinstance(info, dict) else None
        return Inbound(
            sender=user,
            text=text,
            message_id=native_id,
            attachments=attachments,
            payload=payload,
            language=lang,
            name=await self.display_name(from_id),
            handle=f"vk.com/id{from_id}",
        )

    async def button_press(self, obj: dict[str, Any]) -> Inbound | None:
        user_id = _int(obj.get("user_id") or 0) or 0
        peer_id = _int(obj.get("peer_id") or user_id) or user_id
        event_id = str(obj.get("event_id") or "")
        if user_id <= 0 or not event_id:
            return None
        try:  # stop the button's spinner; a failure here must not lose the press
            await self.call(
                self.api.messages.sendMessageEventAnswer, event_id=event_id, user_id=user_id, peer_id=peer_id
            )
        except Exception as exc:
            log.warning("VK messages.sendMessageEventAnswer failed: %s", exc)
        payload = _our_payload(obj.get("payload"))
        if payload is None:
            return None  # not one of our buttons
        return Inbound(
            sender=customer("vk", user_id),
            text="",
            message_id=f"btn:{event_id}",
            payload=payload,
            name=await self.display_name(user_id),
            handle=f"vk.com/id{user_id}",
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
        if not text.strip() and not uploaded:
            # e.g. a location, contact or poll an operator sent in Telegram: no text, no file, only copy_from
            raise DeliveryError(
                "VK cannot show this kind of message (no text and no file, e.g. a location, "
                "contact or poll); send it as text or a file",
                permanent=True,
            )
        salt = await self._salt()
        chunks = _split(text, TEXT_MAX) or [""]
        first: str | None = None
        for i, chunk in enumerate(chunks):
            last = i == len(chunks) - 1
            values: dict[str, Any] = {"peer_id": peer_id, "random_id": random_id(key, i, salt), "message": chunk}
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

    async def _salt(self) -> str:
        """This install's random_id salt, created once (SET NX) and read on every send: when Redis is wiped the
        outbox counter starts again, and a new salt keeps VK from dropping new messages as repeats."""
        key = self.store.k("vk", "salt")
        salt = await self.store.redis.get(key)
        if salt is None:
            await self.store.redis.set(key, secrets.token_hex(8), nx=True)
            salt = await self.store.redis.get(key)
        return salt or ""

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
        media = await fetch_media(self, att)
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

    async def download(self, attachment: Attachment) -> Media:
        """Customer files come with a direct URL (``Attachment.ref``); at most ``MAX_DOWNLOAD`` bytes are read."""
        if attachment.size and attachment.size > MAX_DOWNLOAD:
            raise too_large(attachment.size)
        try:
            async with self._session().get(attachment.ref, timeout=aiohttp.ClientTimeout(total=120)) as resp:
                if resp.status >= 400:
                    raise DeliveryError(
                        f"VK file download answered HTTP {resp.status}", permanent=resp.status in (403, 404, 410)
                    )
                data = await read_capped(resp, MAX_DOWNLOAD)
                mime = attachment.mime or resp.headers.get("Content-Type", "").split(";")[0] or None
        except aiohttp.ClientError as exc:  # not the message: it can carry the file's signed URL
            raise DeliveryError(f"VK file download failed: {exc.__class__.__name__}") from exc
        filename = attachment.filename or "file" + (mimetypes.guess_extension(mime or "") or "")
        return Media(data, filename, mime)


def _int(value: Any) -> int | None:
    """An id from an update (int or digit string); None when it is not one."""
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _peer_of(update: dict[str, Any]) -> str:
    """Whose conversation an update belongs to (updates of one peer are handled in order)."""
    obj = update.get("object")
    if not isinstance(obj, dict):
        return ""
    message = obj.get("message") if isinstance(obj.get("message"), dict) else obj
    return str(message.get("peer_id") or message.get("from_id") or obj.get("user_id") or "")


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
    """VK attachments as ours; what cannot be fetched (video, sticker, wall post...) becomes a note in the text,
    with a link to it where VK gives one."""
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
                result.append(
                    Attachment(
                        AttachmentKind.PHOTO,
                        url,
                        "vk",
                        filename=f"photo{obj.get('owner_id')}_{obj.get('id')}.jpg",
                        mime="image/jpeg",
                    )
                )
        elif kind == "doc" and obj.get("url"):
            title = obj.get("title") or "document"
            ext = obj.get("ext")
            if ext and not title.lower().endswith("." + ext.lower()):
                title += "." + ext
            result.append(
                Attachment(
                    AttachmentKind.DOCUMENT,
                    obj["url"],
                    "vk",
                    filename=title,
                    mime=mimetypes.guess_type(title)[0],
                    size=obj.get("size"),
                )
            )
        elif kind == "audio_message" and (obj.get("link_ogg") or obj.get("link_mp3")):
            url = obj.get("link_ogg") or obj.get("link_mp3")
            ogg = bool(obj.get("link_ogg"))
            result.append(
                Attachment(
                    AttachmentKind.VOICE,
                    url,
                    "vk",
                    filename="voice.ogg" if ogg else "voice.mp3",
                    mime="audio/ogg" if ogg else "audio/mpeg",
                )
            )
        else:
            link = _link(kind, obj)
            notes.append(f"[{kind}] {link}" if link else f"[{kind}]")
    return tuple(result), notes


# what cannot be fetched as a file but can be opened on vk.com: type -> link prefix
_LINKS = {
    "video": "video",
    "wall": "wall",
    "audio": "audio",
    "poll": "poll",
    "market": "product",
    "wall_reply": "wall",
    "audio_playlist": "music/playlist/",
}


def _link(kind: str | None, obj: Any) -> str | None:
    """A link the operator can open for an attachment we do not relay (video, wall post, sticker image...)."""
    if not isinstance(obj, dict):
        return None
    if kind == "link":
        return obj.get("url") if isinstance(obj.get("url"), str) else None
    if kind == "sticker":
        images = [i for i in obj.get("images") or [] if isinstance(i, dict) and i.get("url")]
        return max(images, key=lambda i: i.get("width") or 0)["url"] if images else None
    owner = _int(obj.get("owner_id") or obj.get("to_id") or obj.get("from_id"))
    item = _int(obj.get("post_id") if kind == "wall_reply" else obj.get("id"))
    if kind not in _LINKS or owner is None or item is None:
        return None
    return f"https://vk.com/{_LINKS[kind]}{owner}_{item}"


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
