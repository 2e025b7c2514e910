"""Sending to VK customers, and fetching their files.

* ``messages.send`` gets a ``random_id`` derived from the delivery key and a per-install salt (kept in the
  channel's memory): VK drops a retried send, but not a new message after the outbox counter restarted. A long
  text goes out in parts; each part sent is recorded in ``ctx.progress`` and not sent again on a retry.
* Choices and ratings: an inline keyboard with callback buttons (``message_event`` is answered), text buttons
  with a payload for clients without callback support, numbered lines (``bots.kit.render``) for clients
  without keyboards and for more buttons than a keyboard holds.
* Files: other channels' files come through ``ctx.media``; a customer's file is fetched with a cap
  (``MAX_DOWNLOAD``): a larger one fails permanently, before it is read.
"""

from __future__ import annotations

import io
import json
import mimetypes
import secrets
from dataclasses import replace
from typing import Any

import aiohttp
from vk_api.keyboard import MAX_INLINE_LINES, VkKeyboard, VkKeyboardColor

from bots.kit import MAX_DOWNLOAD, clip, read_capped, render, split_text, too_large
from bots.ports import DeliveryError, Limit, Media, SendContext
from bots.vk.api import random_id, vk_error
from bots.vk.mapping import _attachment_id
from core.messages import Attachment, AttachmentKind, Button, Outbound

TEXT_MAX = 4096
LABEL_MAX = 40  # VK shows at most 40 characters of a button's label: longer ones are clipped


class VkSender:
    async def send(self, out: Outbound, ctx: SendContext) -> str:
        assert out.to is not None and out.to.channel == "vk"
        peer_id = int(out.to.user_id)
        raw = await self.memory.get("client", peer_id) if out.buttons else None
        info = json.loads(raw) if raw else {}
        caps = self.capabilities if info.get("keyboard", True) else replace(self.capabilities, buttons=0)
        text, buttons, _ = render(out, caps)
        if not text.strip() and not out.attachments:
            # e.g. a location, contact or poll an operator sent in Telegram: no text, no file, only copy_from
            raise DeliveryError(
                "VK cannot show this kind of message (no text and no file, e.g. a location, "
                "contact or poll); send it as text or a file",
                permanent=True,
            )
        keyboard = _keyboard(buttons, info) if buttons else None
        salt = await self._salt()
        chunks = split_text(text, TEXT_MAX) or [""]
        last_id = ctx.progress.sent[-1] if ctx.progress.sent else ""
        for i, chunk in enumerate(chunks):
            if i < ctx.progress.done:
                continue  # sent on an earlier attempt
            values: dict[str, Any] = {"peer_id": peer_id, "random_id": random_id(ctx.key, i, salt), "message": chunk}
            if i == len(chunks) - 1:
                if out.attachments:
                    values["attachment"] = ",".join([await self._upload(a, peer_id, ctx) for a in out.attachments])
                if keyboard:
                    values["keyboard"] = keyboard
            try:
                result = await self.client.method("messages.send", values)
            except Exception as exc:
                raise vk_error(exc) from exc
            last_id = str(result.get("message_id") if isinstance(result, dict) else result)
            await ctx.progress.mark(i, last_id)
        return last_id

    async def _salt(self) -> str:
        """This install's random_id salt, created once (SET NX) and read on every send: when Redis is wiped the
        outbox counter starts again, and a new salt keeps VK from dropping new messages as repeats."""
        salt = await self.memory.get("salt", "random_id")
        if salt is None:
            await self.memory.set("salt", "random_id", secrets.token_hex(8), nx=True)
            salt = await self.memory.get("salt", "random_id")
        return salt or ""

    async def _upload(self, att: Attachment, peer_id: int, ctx: SendContext) -> str:
        media = await ctx.media(att)
        buffer = io.BytesIO(media.data)
        buffer.name = media.filename or "file"
        is_photo = att.kind == AttachmentKind.PHOTO and (media.mime or "image/jpeg").startswith("image/")
        upload = self.client.upload
        try:
            if is_photo:
                photos = await self.client.call(upload.photo_messages, buffer, peer_id=peer_id)
                return _attachment_id("photo", photos[0])
            title = media.filename or "file"
            saved = await self.client.call(upload.document_message, buffer, title=title, peer_id=peer_id)
            doc_type = saved.get("type", "doc")
            return _attachment_id("doc", saved.get(doc_type) or saved.get("doc") or {})
        except Exception as exc:
            raise vk_error(exc) from exc

    async def download(self, attachment: Attachment) -> Media:
        """Customer files come with a direct URL (``Attachment.ref``); at most ``MAX_DOWNLOAD`` bytes are read."""
        if attachment.size and attachment.size > MAX_DOWNLOAD:
            raise too_large(attachment.size)
        try:
            async with self.http().get(attachment.ref, timeout=aiohttp.ClientTimeout(total=120)) as resp:
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

    def limits(self, out: Outbound) -> list[Limit]:
        # A community token may make 20 requests per second; one send may need a few (uploads).
        return [Limit("vk:api", 15, 1.0)]


def _keyboard(buttons: tuple[Button, ...], info: dict[str, Any]) -> str:
    """An inline keyboard of callback buttons; text buttons (one-time keyboard) for clients without them."""
    actions = info.get("button_actions") or ["text", "callback"]
    inline_ok = info.get("inline_keyboard", True)
    kb = VkKeyboard(inline=bool(inline_ok), one_time=not inline_ok)
    per_line = 1 if len(buttons) <= MAX_INLINE_LINES else 2
    for i, button in enumerate(buttons):
        if i and i % per_line == 0:
            kb.add_line()
        payload = {"p": button.payload}
        if inline_ok and "callback" in actions:
            kb.add_callback_button(clip(button.label, LABEL_MAX), VkKeyboardColor.SECONDARY, payload)
        else:
            kb.add_button(clip(button.label, LABEL_MAX), VkKeyboardColor.SECONDARY, payload)
    return kb.get_keyboard()
