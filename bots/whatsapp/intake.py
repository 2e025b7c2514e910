"""Receiving: Meta's webhook -> events for the sink. The adapter only translates; the desk decides.

``GET /webhooks/whatsapp`` answers Meta's verification; ``POST /webhooks/whatsapp`` checks
``X-Hub-Signature-256`` over the raw body before parsing (403 when it is missing or wrong, or when no
``WHATSAPP_APP_SECRET`` is configured), reads it as ``bots.whatsapp.models`` (a signed body that is not Meta's
shape: 200 and a WARNING; an unusable message in it: skipped with a WARNING; see there), and answers 200 only
after every message in it was handled by the sink (a failure: 500, Meta delivers it again, and the intake skips
what was handled: the wamid is the dedup key).

* Each customer message carries its reply window: ``reply_window`` (24 hours after the customer's latest
  message) and ``window_reopened`` (the customer wrote after the window had closed). The latest message time
  is kept with ``memory.set_max("last", ...)``: sending reads it to know whether the window is open.
* A message WhatsApp marks ``unsupported`` becomes ``Inbound(unsupported=True, text="[unsupported]")``.
* A ``failed`` delivery status becomes a ``DeliveryReport`` about what was sent under that wamid.
"""

from __future__ import annotations

import hmac
import logging
import mimetypes
from dataclasses import replace
from typing import Any

from aiohttp import web

from bots.kit import Unusable, parse, webhook
from bots.ports import EventSink
from bots.whatsapp.api import ERRORS, WINDOW, signature_ok
from bots.whatsapp.models import Message, Status, StatusError, Value, Webhook
from core.events import DeliveryReport
from core.messages import Attachment, AttachmentKind, Audience, Inbound, Outbound, customer

log = logging.getLogger("bots.whatsapp")

PATH = "/webhooks/whatsapp"
LAST_TTL = 8 * 24 * 3600
_MEDIA_KINDS = {
    "image": AttachmentKind.PHOTO,
    "document": AttachmentKind.DOCUMENT,
    "video": AttachmentKind.VIDEO,
    "sticker": AttachmentKind.STICKER,
    "audio": AttachmentKind.AUDIO,
}


class WhatsAppIntake:
    async def run(self, sink: EventSink) -> None:
        return  # updates come by webhook

    def routes(self, sink: EventSink) -> list[web.RouteDef]:
        opts = self.options

        async def verify(request: web.Request) -> web.Response:
            q = request.query
            given = q.get("hub.verify_token", "").encode("utf-8", "surrogateescape")  # any text: bytes compare
            if (
                q.get("hub.mode") == "subscribe"
                and opts.verify_token
                and hmac.compare_digest(given, opts.verify_token.encode())
            ):
                return web.Response(text=q.get("hub.challenge", ""))
            return web.Response(status=403, text="verification failed")

        def signed(raw: bytes, request: web.Request) -> web.Response | None:
            if signature_ok(raw, request.headers.get("X-Hub-Signature-256"), opts.app_secret):
                return None
            log.warning("WhatsApp webhook with a missing or bad signature rejected")
            return web.Response(status=403, text="bad signature")

        async def receive(body: dict[str, Any]) -> None:
            await self.handle_webhook(sink, body)

        # a signed body we cannot use: 200 and a WARNING (Meta would deliver the same poison for days)
        hook = webhook(receive, check=signed, name="WhatsApp webhook", unusable=200)
        return [web.get(PATH, verify), web.post(PATH, hook)]

    async def handle_webhook(self, sink: EventSink, body: dict[str, Any]) -> None:
        """Every message and status of a webhook call, to the sink; ``Unusable`` when the call is not Meta's
        shape (``bots.whatsapp.models``: an unusable item inside is skipped with a WARNING)."""
        hook = parse(Webhook, body)
        if hook.object != "whatsapp_business_account":
            raise Unusable(f"object {hook.object!r} is not whatsapp_business_account")
        for entry in hook.entry:
            for change in entry.changes:
                if change.field != "messages":
                    continue
                try:
                    value = parse(Value, change.value)
                except Unusable as e:
                    log.warning("WhatsApp change of entry %s skipped, unusable: %s", entry.id, e)
                    continue
                number = value.metadata.phone_number_id if value.metadata is not None else None
                if number and number != self.options.phone_number_id:
                    log.info("WhatsApp webhook for another number (%s) ignored", number)
                    continue
                names = {c.wa_id: c.profile.name for c in value.contacts if c.profile is not None}
                for message in value.messages:
                    await self._message(sink, message, names)
                for status in value.statuses:
                    await self._status(sink, status)

    async def _message(self, sink: EventSink, message: Message, names: dict) -> None:
        event = inbound(message, names)
        if event is None:
            return
        sent_at = float(message.timestamp) if message.timestamp else self.options.clock()
        previous = await self.memory.set_max("last", event.sender.user_id, sent_at, LAST_TTL)
        await sink(
            replace(
                event,
                reply_window=max(sent_at, previous or 0.0) + WINDOW,
                window_reopened=previous is not None and sent_at - previous > WINDOW,
            )
        )

    async def _status(self, sink: EventSink, status: Status) -> None:
        """A failed delivery status: reported (once: the intake dedups by the wamid) about what was sent."""
        if status.status != "failed":
            return
        wamid = status.id
        err = status.errors[0] if status.errors else StatusError()
        code = err.code or 0
        data = err.error_data
        detail = (data.details if data is not None else None) or err.message or err.title or ""
        mapped = ERRORS.error(code, detail)
        reason = mapped.reason if mapped.permanent else f"not delivered: WhatsApp error {code}: {detail}".rstrip(": ")
        sent = await self.memory.get_hash("sent", wamid)
        if not sent.get("case"):
            log.warning("WhatsApp message %s failed (%s); no case known", wamid, reason)
            return
        recipient = customer(self.name, status.recipient_id or sent.get("to") or "")
        out = Outbound(Audience.CUSTOMER, sent.get("text", ""), to=recipient, case_id=int(sent["case"]))
        await sink(DeliveryReport(out, reason, message_id=f"wa-status:{wamid}"))


def inbound(message: Message | dict[str, Any], names: dict[str, str | None]) -> Inbound | None:
    """A customer's WhatsApp message as ours (without its reply window); None for what is not a message.
    A dict is checked first (``Unusable`` when it is not a message)."""
    m = message if isinstance(message, Message) else parse(Message, message)
    kind = m.type
    text = ""
    payload = None
    attachments: list[Attachment] = []
    if m.text is not None and kind == "text":
        text = m.text.body
    elif kind in _MEDIA_KINDS:
        media = getattr(m, kind)
        text = media.caption or ""
        mime = media.mime_type
        att_kind = AttachmentKind.VOICE if kind == "audio" and media.voice else _MEDIA_KINDS[kind]
        filename = media.filename or f"{kind}{mimetypes.guess_extension((mime or '').split(';')[0]) or ''}"
        attachments.append(Attachment(att_kind, media.id, "whatsapp", filename=filename, mime=mime))
    elif m.interactive is not None and kind == "interactive":
        reply = m.interactive.button_reply or m.interactive.list_reply
        payload = reply.id if reply is not None else None
        text = reply.title if reply is not None else ""
    elif m.button is not None and kind == "button":  # a template's quick-reply button
        text = m.button.text
    elif m.location is not None and kind == "location":
        loc = m.location
        text = f"[location {loc.latitude}, {loc.longitude}] {loc.name or ''}".strip()
    elif kind in ("reaction", "system", "ephemeral"):
        return None
    else:
        text = f"[{kind}]"  # "[unsupported]": a poll, a view-once photo... WhatsApp could not pass on
    return Inbound(
        sender=customer("whatsapp", m.from_),
        text=text,
        message_id=m.id,
        attachments=tuple(attachments),
        payload=payload,
        name=names.get(m.from_) or None,
        handle="+" + m.from_,
        unsupported=kind == "unsupported",
    )
