"""Sending to WhatsApp customers, and fetching their files.

The 24-hour rule: the customer's latest message time is in the channel's memory (``last``). A reply after the
window closed is sent as the approved template ``WHATSAPP_REOPEN_TEMPLATE`` (its body must have exactly one
variable, ``{{1}}``, which receives the operator's text; ``name`` or ``name:language_code``), otherwise it
fails permanently with the closing time, which the operator sees in the case's topic.

Buttons: up to 3 short ones as reply buttons, up to 10 as a list, more (or a body too long for an interactive
message) as numbered lines (``bots.kit.render``). A long text goes out in parts, files after it; each part sent
is recorded in ``ctx.progress`` and not sent again on a retry. What went out under a wamid is remembered
(``memory.set_hash("sent")``) for a later ``failed`` status. Files over ``MAX_DOWNLOAD`` are refused before
they are read.
"""

from __future__ import annotations

import mimetypes
import re
from dataclasses import replace
from typing import Any

import aiohttp

from bots.kit import MAX_DOWNLOAD, clip, read_capped, render, split_text, too_large
from bots.ports import Capabilities, DeliveryError, Limit, Media, SendContext
from bots.whatsapp.api import REENGAGEMENT, WINDOW, GraphError, graph_error
from core.cards import fmt_time
from core.messages import Attachment, AttachmentKind, Outbound
from core.texts import t

TEXT_MAX = 4096
BODY_MAX = 1024  # the body of an interactive message
BUTTONS_MAX = 3  # reply buttons
BUTTON_TITLE_MAX = 20
ROWS_MAX = 10  # list rows
ROW_TITLE_MAX = 24
ROW_DESCRIPTION_MAX = 72
ROW_ID_MAX = 200
TEMPLATE_PARAM_MAX = 1024
SENT_TTL = 7 * 24 * 3600
CAPABILITIES = Capabilities(text_max=TEXT_MAX, buttons=ROWS_MAX, button_label_max=ROW_DESCRIPTION_MAX)
_TEMPLATE = "template:"  # how a sent template is recorded in the progress of a send


class WindowClosed(Exception):
    """WhatsApp refused a free-form message: the customer's 24-hour window is closed."""


class WhatsAppSender:
    async def send(self, out: Outbound, ctx: SendContext) -> str:
        assert out.to is not None and out.to.channel == self.name
        if not out.text.strip() and not out.attachments:
            # e.g. a location, contact or poll an operator sent in Telegram: no text, no file, only copy_from
            raise DeliveryError(
                "WhatsApp cannot show this kind of message (no text and no file, e.g. a location, "
                "contact or poll); send it as text or a file",
                permanent=True,
            )
        raw = await self.memory.get("last", out.to.user_id)
        last = float(raw) if raw else None
        if last is not None and self.options.clock() - last > WINDOW:
            return await self._send_closed(out, ctx, last)
        try:
            return await self._send_free(out, ctx)
        except WindowClosed:
            return await self._send_closed(out, ctx, last)

    async def _send_free(self, out: Outbound, ctx: SendContext) -> str:
        parts: list[dict[str, Any] | Attachment] = [*text_messages(out), *out.attachments]
        last_id = ctx.progress.sent[-1] if ctx.progress.sent else ""
        for i, part in enumerate(parts):
            if i < ctx.progress.done:
                continue  # sent on an earlier attempt
            message = await self._media_message(part, ctx) if isinstance(part, Attachment) else part
            last_id = await self._post_message(message, out)
            await ctx.progress.mark(i, last_id)
        return last_id

    async def _send_closed(self, out: Outbound, ctx: SendContext, last: float | None) -> str:
        closed = f" at {fmt_time(last + WINDOW)}" if last is not None else ""
        name, _, lang = (self.options.reopen_template or "").strip().partition(":")
        if not name or not out.text.strip():
            raise DeliveryError(
                f"not delivered: WhatsApp's 24-hour window closed{closed} (no reply from the customer since); "
                "set WHATSAPP_REOPEN_TEMPLATE to send such replies as an approved template",
                permanent=True,
            )
        wamid = next((s[len(_TEMPLATE) :] for s in ctx.progress.sent if s.startswith(_TEMPLATE)), "")
        if not wamid:
            text = re.sub(r"\s*\n\s*", " · ", out.text.strip())  # template variables allow no new lines
            text = clip(re.sub(r"\s{4,}", "   ", text), TEMPLATE_PARAM_MAX)
            message = {
                "type": "template",
                "template": {
                    "name": name,
                    "language": {"code": lang or out.lang or self.options.default_language},
                    "components": [{"type": "body", "parameters": [{"type": "text", "text": text or "…"}]}],
                },
            }
            try:
                wamid = await self._post_message(message, out)
            except WindowClosed as exc:
                raise DeliveryError("not delivered: WhatsApp refused the reopen template", permanent=True) from exc
            await ctx.progress.mark(ctx.progress.done, _TEMPLATE + wamid)
        if out.attachments:
            raise DeliveryError(
                f"the text went out as the template {name!r}, but the {len(out.attachments)} file(s) "
                f"did not: WhatsApp's 24-hour window closed{closed}; send them again after the customer replies",
                permanent=True,
            )
        return wamid

    async def _post_message(self, message: dict[str, Any], out: Outbound) -> str:
        wa_id = out.to.user_id  # type: ignore[union-attr]
        body = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": wa_id, **message}
        try:
            result = await self.graph.request("POST", f"{self.options.phone_number_id}/messages", json=body)
        except GraphError as exc:
            if exc.code in REENGAGEMENT:
                raise WindowClosed from exc
            raise graph_error(exc) from exc
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise graph_error(exc) from exc
        messages = result.get("messages")
        wamid = str((messages[0] if isinstance(messages, list) and messages else {}).get("id") or "")
        if wamid and out.case_id is not None:  # for a "failed" status that may come later
            preview = " ".join(out.text.split())[:200]
            sent = {"case": str(out.case_id), "to": wa_id, "text": preview}
            await self.memory.set_hash("sent", wamid, sent, ttl=SENT_TTL)
        return wamid

    async def _media_message(self, att: Attachment, ctx: SendContext) -> dict[str, Any]:
        media = await ctx.media(att)
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
            uploaded = await self.graph.request("POST", f"{self.options.phone_number_id}/media", data=form)
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
            info = await self.graph.request("GET", attachment.ref)
            size = info.get("file_size")
            if isinstance(size, int) and size > MAX_DOWNLOAD:
                raise too_large(size)
            async with self.graph.http().get(info["url"]) as resp:
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

    def limits(self, out: Outbound) -> list[Limit]:
        # Cloud API throughput: 80 messages/s per number; bursts to one user are limited too (error 131056).
        return [Limit("whatsapp:number", 80, 1.0), Limit(f"whatsapp:pair:{out.to.user_id if out.to else ''}", 10, 6.0)]


def text_messages(out: Outbound) -> list[dict[str, Any]]:
    """The text (and buttons) as one or more messages: reply buttons, a list, or text with numbered lines."""
    caps = CAPABILITIES
    if len(out.text) > BODY_MAX or any(len(b.payload) > ROW_ID_MAX for b in out.buttons):
        caps = replace(caps, buttons=0)  # this message cannot carry buttons
    text, buttons, _ = render(out, caps)
    if buttons and len(buttons) <= BUTTONS_MAX and all(len(b.label) <= BUTTON_TITLE_MAX for b in buttons):
        replies = [{"type": "reply", "reply": {"id": b.payload, "title": b.label}} for b in buttons]
        action: dict[str, Any] = {"buttons": replies}
        return [_interactive("button", text, action)]
    if buttons:
        rows = []
        for b in buttons:
            row: dict[str, Any] = {"id": b.payload, "title": clip(b.label, ROW_TITLE_MAX)}
            if len(b.label) > ROW_TITLE_MAX:
                row["description"] = clip(b.label, ROW_DESCRIPTION_MAX)
            rows.append(row)
        action = {"button": clip(t("wa_list_button", out.lang), BUTTON_TITLE_MAX), "sections": [{"rows": rows}]}
        return [_interactive("list", text, action)]
    if not text.strip():
        return []  # files only: WhatsApp refuses an empty text message
    return [{"type": "text", "text": {"body": chunk, "preview_url": False}} for chunk in split_text(text, TEXT_MAX)]


def _interactive(kind: str, text: str, action: dict[str, Any]) -> dict[str, Any]:
    return {"type": "interactive", "interactive": {"type": kind, "body": {"text": text or "…"}, "action": action}}
