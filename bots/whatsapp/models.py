"""Meta's WhatsApp webhook as typed models, checked before any work.

``{"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages", "value": {"metadata",
"contacts": [...], "messages": [...], "statuses": [...]}}]}]}``. Lenient where Meta adds fields
(``extra="ignore"``), strict on what we read: ids are non-empty printable strings (numbers are taken as their
digits), texts strings, timestamps Unix seconds before 2100 (a string of digits, as Meta sends them, or an
integer). A message must carry the object its ``type`` names (a ``text`` without ``text.body`` is unusable); a
type we do not read becomes ``[type]`` for the desk.

What ``POST /webhooks/whatsapp`` (``bots.whatsapp.intake``) answers, and why (Meta delivers a call again and
again, for days, until it gets a 200):

* a body over ``MAX_WEBHOOK_BODY``: 413; a missing or wrong ``X-Hub-Signature-256`` (checked on the raw bytes
  before anything is parsed): 403;
* a well-signed body we cannot use (not JSON, not an object, not this shape, another ``object``): 200 and a
  WARNING naming it: re-sending the same poison cannot help;
* an unusable item inside a usable call (one message, status, contact, change or entry): skipped with a WARNING
  naming it, while the others of the call are handled; 200;
* the sink raising (Redis away): 500, so that Meta delivers the call again (the intake skips what was handled).
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, Strict, StringConstraints, model_validator

from bots.kit import Lenient, NativeId, Text, each

log = logging.getLogger("bots.whatsapp")

MEDIA_KINDS = ("image", "document", "video", "sticker", "audio")
OURS = ("text", *MEDIA_KINDS, "interactive", "button", "location")  # the types whose object we read


def _digits(value: Any) -> Any:
    """An id or a timestamp Meta may write as a number: its digits (never a boolean's)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _seconds(value: Any) -> int:
    """Unix seconds: an integer, or a string of its digits (as Meta sends it)."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 12:
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ValueError("not Unix seconds")


WaId = Annotated[NativeId, BeforeValidator(_digits)]
# a date people can be shown (before 2100): the reply window is rendered from it
Timestamp = Annotated[int, BeforeValidator(_seconds), Field(ge=0, lt=4_102_444_800)]
Finite = Annotated[float, Field(allow_inf_nan=False)]
Short = Annotated[str, StringConstraints(max_length=256)]


class Metadata(Lenient):
    display_phone_number: Short | None = None
    phone_number_id: WaId | None = None


class Profile(Lenient):
    name: Text | None = None


class Contact(Lenient):
    wa_id: WaId
    profile: Profile | None = None


class TextBody(Lenient):
    body: Text


class Media(Lenient):
    id: WaId
    mime_type: Short | None = None
    caption: Text | None = None
    filename: Annotated[Text, StringConstraints(max_length=1024)] | None = None
    voice: bool | None = None
    sha256: Short | None = None


class Reply(Lenient):
    id: Annotated[Text, StringConstraints(max_length=1024)]  # our button's payload
    title: Text = ""
    description: Text | None = None


class Interactive(Lenient):
    type: Short | None = None
    button_reply: Reply | None = None
    list_reply: Reply | None = None

    @model_validator(mode="after")
    def _a_reply(self) -> Interactive:
        if self.button_reply is None and self.list_reply is None:
            raise ValueError("neither button_reply nor list_reply")
        return self


class TemplateButton(Lenient):
    text: Text = ""
    payload: Text | None = None


class Location(Lenient):
    latitude: Finite
    longitude: Finite
    name: Text | None = None
    address: Text | None = None


class Message(Lenient):
    from_: WaId = Field(alias="from")
    id: WaId
    timestamp: Timestamp | None = None
    type: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
    text: TextBody | None = None
    image: Media | None = None
    document: Media | None = None
    video: Media | None = None
    sticker: Media | None = None
    audio: Media | None = None
    interactive: Interactive | None = None
    button: TemplateButton | None = None
    location: Location | None = None

    @model_validator(mode="after")
    def _its_object(self) -> Message:
        if self.type in OURS and getattr(self, self.type) is None:
            raise ValueError(f"a {self.type} message without its {self.type!r} object")
        return self


class ErrorData(Lenient):
    details: Text | None = None


class StatusError(Lenient):
    code: Annotated[int, Strict()] | None = None
    title: Text | None = None
    message: Text | None = None
    error_data: ErrorData | None = None


StatusErrors = each(StatusError, "WhatsApp status error", log)


class Status(Lenient):
    id: WaId
    status: Short
    timestamp: Timestamp | None = None
    recipient_id: WaId | None = None
    errors: StatusErrors = ()


Contacts = each(Contact, "WhatsApp contact", log)
Messages = each(Message, "WhatsApp message", log)
Statuses = each(Status, "WhatsApp status", log)


class Value(Lenient):
    """A ``messages`` change: what happened to one of our numbers."""

    messaging_product: Short | None = None
    metadata: Metadata | None = None
    contacts: Contacts = ()
    messages: Messages = ()
    statuses: Statuses = ()


class Change(Lenient):
    field: Short
    value: Any = None  # read as ``Value`` for the ``messages`` field only


Changes = each(Change, "WhatsApp change", log)


class Entry(Lenient):
    id: WaId | None = None
    changes: Changes = ()


Entries = each(Entry, "WhatsApp entry", log)


class Webhook(Lenient):
    object: Short
    entry: Entries = ()
