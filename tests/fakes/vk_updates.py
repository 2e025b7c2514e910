"""The updates a test makes the VK stand-in deliver: ``VkUpdatesMixin`` gives ``FakeVk`` the customers' side
(``user_writes`` a message_new, ``press`` / ``press_button`` a message_event), queued for the Bots Long Poll server
and returned (to post to a callback URL with ``post_callback``, or any bytes with ``post_callback_raw``), and the
files a customer attaches (``add_file`` / ``add_big_file`` and the ``photo`` / ``doc`` attachments). The mixin uses
the state ``FakeVk.__init__`` sets up (``updates`` and its event, the id counter, ``files``, ``big_files``, ``url``).
"""

from __future__ import annotations

import json
import time
from typing import Any

import aiohttp

from tests.fakes.vk_records import API_VERSION, SentMessage


class VkUpdatesMixin:
    """The test side of ``FakeVk``: customers' messages, button presses and files."""

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
