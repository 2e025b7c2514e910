"""Receiving: Bots Long Poll (default) or the Callback API; native updates -> events -> the sink.

* Long poll: ``groups.getLongPollServer`` once, then ``a_check`` requests with aiohttp (cancellable),
  ``failed`` 1/2/3 handled as VK documents them. A batch's updates are handled per peer: different customers
  concurrently, one customer's in order. ``ts`` moves past a batch only when every update in it was handled
  (a failed one is retried with capped backoff: long poll cannot re-deliver, and the intake's dedup makes a
  retry safe); one that keeps failing is parked (``memory.push("parked")``) so that it cannot stop the intake
  of every VK customer. A refused token (VK errors 5, 15, 27) stops ``run`` with an error that says what to fix.
* Callback API (when ``VK_CALLBACK_SECRET`` and ``VK_CONFIRMATION_CODE`` are set): ``POST /webhooks/vk``
  answers the confirmation request with the code, checks ``secret`` on every event, answers ``ok`` only once
  the event is handled (the sink returned). A re-sent event is skipped by the intake (same message id).
  Every update (either way) is checked against ``bots.vk.models`` before any work; the answers to bad input
  (400, 403, or ``ok`` and a WARNING for an unusable event VK would re-send) are listed there.
* Dedup keys: ``message_new`` -> the VK message id; ``message_event`` (a callback button) -> its ``event_id``.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from typing import Any, TypeVar

import aiohttp
from aiohttp import web
from vk_api.exceptions import ApiError

from bots.kit import Unusable, parse, webhook
from bots.ports import EventSink
from bots.vk.api import SETUP_ERRORS, VkSetupError
from bots.vk.mapping import LANG_IDS, _attachments, _our_payload, _peer_of
from bots.vk.models import MessageEvent, MessageNew, VkUpdate
from core.events import ButtonPress
from core.messages import Inbound, customer

log = logging.getLogger("bots.vk")

NAME_TTL = 7 * 24 * 3600
CLIENT_TTL = 30 * 24 * 3600
CALLBACK_MAX_BODY = 1024 * 1024


class VkIntake:
    # ------------------------------------------------------------------ long poll
    async def run(self, sink: EventSink) -> None:
        if self.options.callback_mode:
            return  # updates come to POST /webhooks/vk
        server = await self._longpoll_server()
        backoff = 1.0
        wait = self.options.longpoll_wait
        while True:
            try:
                timeout = aiohttp.ClientTimeout(total=wait + 15)
                params = {"act": "a_check", "key": server["key"], "ts": server["ts"], "wait": wait}
                async with self.http().get(server["server"], params=params, timeout=timeout) as resp:
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
            await self._handle_batch(sink, updates if isinstance(updates, list) else [])
            server["ts"] = data.get("ts", server["ts"])

    async def _handle_batch(self, sink: EventSink, updates: list[Any]) -> None:
        """One long-poll batch, handled before ``ts`` moves on: each peer's updates in order, peers concurrently
        (one customer waiting on their lane or a failing update does not hold up the others)."""
        by_peer: dict[str, list[dict[str, Any]]] = {}
        for update in updates:
            if isinstance(update, dict):
                by_peer.setdefault(_peer_of(update), []).append(update)

        async def one_peer(items: list[dict[str, Any]]) -> None:
            for update in items:
                await self._handle_until_done(sink, update)

        if len(by_peer) == 1:
            await one_peer(next(iter(by_peer.values())))
            return
        async with asyncio.TaskGroup() as group:
            for items in by_peer.values():
                group.create_task(one_peer(items))

    async def _handle_until_done(self, sink: EventSink, update: dict[str, Any]) -> None:
        """Long poll cannot re-deliver, so a failed update is retried (capped backoff): the intake did not mark it
        handled, so a retry is safe. One that still fails after ``park_after`` attempts is parked (raw JSON, in
        the channel's memory, logged as an error) so that one poisoned update cannot stop the intake of every
        VK customer; nothing is thrown away."""
        opts = self.options
        delay = opts.retry_delay
        attempt = 0
        while True:
            attempt += 1
            try:
                await self.handle_update(sink, update)
            except asyncio.CancelledError:
                raise
            except Exception:
                if attempt >= opts.park_after and await self._park(update):
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
                delay = min(delay * 2, opts.retry_delay_max)
                continue
            if attempt > 1:
                log.info("VK update %s (peer %s) handled on attempt %d", update.get("type"), _peer_of(update), attempt)
            return

    async def _park(self, update: dict[str, Any]) -> bool:
        try:
            await self.memory.push("parked", json.dumps(update, ensure_ascii=False))
        except Exception:  # Redis itself is failing: keep retrying instead
            return False
        log.error(
            "VK update %s (peer %s) still failing after %d attempts: parked (the VK channel's 'parked' list) "
            "for a person to look at; moving on",
            update.get("type"),
            _peer_of(update),
            self.options.park_after,
        )
        return True

    async def _longpoll_server(self) -> dict[str, Any]:
        delay = 1.0
        while True:
            try:
                api = self.client.api
                return dict(await self.client.call(api.groups.getLongPollServer, group_id=self.options.group_id))
            except asyncio.CancelledError:
                raise
            except ApiError as exc:
                if exc.code in SETUP_ERRORS:
                    msg = exc.error.get("error_msg", "")
                    message = SETUP_ERRORS[exc.code].format(msg=msg, group=self.options.group_id)
                    log.error("%s", message)
                    raise VkSetupError(message) from None
                log.warning("VK groups.getLongPollServer failed (%s); retrying in %.0f s", exc, delay)
            except Exception as exc:
                log.warning("VK groups.getLongPollServer failed (%s); retrying in %.0f s", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 60.0)

    # ------------------------------------------------------------------ Callback API
    def routes(self, sink: EventSink) -> list[web.RouteDef]:
        """``POST /webhooks/vk``; what it answers, and why, is in ``bots.vk.models``."""
        if not self.options.callback_mode:
            return []
        opts = self.options
        expected = (opts.callback_secret or "").encode()

        async def callback(body: dict[str, Any]) -> web.Response | str | None:
            if body.get("type") == "confirmation":
                if parse(VkUpdate, body).group_id != opts.group_id:
                    return web.Response(status=403, text="unknown group")
                return opts.confirmation_code or ""
            secret = body.get("secret")
            given = secret.encode("utf-8", "surrogatepass") if isinstance(secret, str) else None
            if given is None or not hmac.compare_digest(given, expected):
                log.warning("VK callback with a wrong secret rejected")
                return web.Response(status=403, text="bad secret")
            update = parse(VkUpdate, body)  # not VK's envelope: 400
            if update.group_id != opts.group_id:
                log.warning("VK callback for another community (%s) rejected", update.group_id)
                return web.Response(status=403, text="unknown group")
            await self.handle_event(sink, update)  # raises: 500, and VK sends it again
            return None

        return [web.post("/webhooks/vk", webhook(callback, max_body=CALLBACK_MAX_BODY, name="VK callback"))]

    # ------------------------------------------------------------------ native update -> event
    async def handle_update(self, sink: EventSink, update: dict[str, Any]) -> None:
        """A long-poll update: checked (``bots.vk.models``; an unusable one is skipped), then handled."""
        try:
            checked = parse(VkUpdate, update)
        except Unusable as e:
            log.warning("VK update skipped, unusable: %s", e)
            return
        await self.handle_event(sink, checked)

    async def handle_event(self, sink: EventSink, update: VkUpdate) -> None:
        """The event an update means, to the sink (raises when the sink did not handle it)."""
        if update.type == "message_new":
            new = _read(MessageNew, update)
            event = await self.inbound(new) if new is not None else None
            if event is not None:
                await sink(event)
        elif update.type == "message_event":
            pressed = _read(MessageEvent, update)
            press = await self.button_press(pressed) if pressed is not None else None
            if press is not None:
                await sink(press)

    async def inbound(self, new: MessageNew) -> Inbound | None:
        message, info = new.message, new.client_info
        from_id, peer_id = message.from_id, message.peer_id
        if from_id <= 0 or peer_id != from_id or message.out:
            return None  # communities, group chats and our own messages are not customers
        if info is not None:
            await self.memory.set("client", from_id, info.model_dump_json(), ttl=CLIENT_TTL)
        native_id = str(message.id) if message.id else f"c{peer_id}:{message.conversation_message_id}"
        payload = _our_payload(message.payload) if message.payload else None
        attachments, notes = _attachments([a.as_dict() for a in message.attachments])
        text = message.text
        if notes:
            text = (text + "\n" if text else "") + " ".join(notes)
        return Inbound(
            sender=customer("vk", from_id),
            text=text,
            message_id=native_id,
            attachments=attachments,
            payload=payload,
            language=LANG_IDS.get(info.lang_id) if info is not None and info.lang_id is not None else None,
            name=await self.display_name(from_id),
            handle=f"vk.com/id{from_id}",
        )

    async def button_press(self, pressed: MessageEvent) -> ButtonPress | None:
        user_id, event_id = pressed.user_id, pressed.event_id
        peer_id = pressed.peer_id or user_id
        if user_id <= 0:
            return None
        try:  # stop the button's spinner; a failure here must not lose the press
            answer = self.client.api.messages.sendMessageEventAnswer
            await self.client.call(answer, event_id=event_id, user_id=user_id, peer_id=peer_id)
        except Exception as exc:
            log.warning("VK messages.sendMessageEventAnswer failed: %s", exc)
        payload = _our_payload(pressed.payload)
        if payload is None:
            return None  # not one of our buttons
        return ButtonPress(
            sender=customer("vk", user_id),
            payload=payload,
            message_id=event_id,
            name=await self.display_name(user_id),
            handle=f"vk.com/id{user_id}",
        )

    async def display_name(self, user_id: int) -> str | None:
        """'First Last' from users.get, fetched once and kept in the channel's memory."""
        cached = await self.memory.get("name", user_id)
        if cached is not None:
            return cached or None
        try:
            users = await self.client.call(self.client.api.users.get, user_ids=user_id)
        except Exception as exc:
            log.warning("VK users.get failed: %s", exc)
            return None
        name = ""
        if users:
            name = " ".join(p for p in (users[0].get("first_name"), users[0].get("last_name")) if p)
        await self.memory.set("name", user_id, name, ttl=NAME_TTL)
        return name or None


M = TypeVar("M", MessageNew, MessageEvent)


def _read(model: type[M], update: VkUpdate) -> M | None:
    """The update's object as ``model``; None (and a WARNING naming the event) when it is not one."""
    try:
        return parse(model, update.object or {})
    except Unusable as e:
        log.warning("VK %s %s skipped, unusable: %s", update.type, update.event_id or "(no event_id)", e)
        return None
