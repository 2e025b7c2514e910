"""VK updates (Bots Long Poll and the Callback API share the shape) as typed models, checked before any work.

Lenient where VK adds fields (``extra="ignore"``), strict on what we read: ids are JSON integers (not strings,
not booleans), texts strings, URLs http(s). ``VkUpdate`` is the envelope; its ``object`` is read per ``type``:
``MessageNew`` (``message_new``) and ``MessageEvent`` (``message_event``, a callback button); other types are
not ours and are ignored. An attachment that is not what its type says is skipped (a WARNING), not the message.

What ``POST /webhooks/vk`` (``bots.vk.intake``) answers, and why (VK sends an event again on anything but
``ok``, and may turn the server off after repeated errors):

* a body over ``CALLBACK_MAX_BODY``: 413; not JSON, or not a JSON object: 400;
* ``type: "confirmation"``: the confirmation code (403 for another group's, 400 for a malformed envelope);
* a ``secret`` that is missing or wrong (checked right after the JSON is read, before the envelope is validated,
  since VK puts it in the body): 403;
* an envelope that is not VK's (``type`` not a string, ``group_id`` not an integer, ``object`` not an object,
  ``v`` / ``event_id`` not strings): 400: VK never sends one, so it is no poison VK would re-send;
  another community's ``group_id`` (or none): 403;
* a well-formed envelope of ours whose ``object`` is unusable (e.g. a ``from_id`` that is not an integer):
  ``ok`` and a WARNING naming the event: VK would re-send the same poison, and no retry can make it usable;
* a type we do not take (``message_reply``, ``group_join``...): ``ok``;
* the sink raising (Redis away): 500, so that VK sends the event again.

Long poll reads the same models: an unusable update is skipped with a WARNING (there is nobody to answer).
"""

from __future__ import annotations

import json
import logging
from typing import Annotated, Any

from pydantic import AfterValidator, Field, Strict, StringConstraints, model_validator

from bots.kit import Lenient, NativeId, Text, each

log = logging.getLogger("bots.vk")

VkInt = Annotated[int, Strict(), Field(ge=-(2**63), lt=2**63)]  # a JSON integer (VK ids are 64-bit at most)
Url = Annotated[str, StringConstraints(max_length=4096, pattern=r"^https?://\S+$")]
Kind = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]  # an attachment's or event's type


def _payload(value: Any) -> Any:
    """A button payload as VK gives it (JSON text in a message, an object in a callback press): the object when
    the text is a JSON object, the text itself when it is not JSON, None when it is neither usable nor text."""
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return value
        except RecursionError:
            return None
        return parsed if isinstance(parsed, dict) else None
    return value if isinstance(value, dict) else None


Payload = Annotated[Any, AfterValidator(_payload)]


class _Object(Lenient):
    """Fields every attachment object may carry (a link to it on vk.com is made of them)."""

    id: VkInt | None = None
    owner_id: VkInt | None = None
    to_id: VkInt | None = None
    from_id: VkInt | None = None
    post_id: VkInt | None = None
    access_key: NativeId | None = None
    url: Url | None = None


class PhotoSize(Lenient):
    url: Url | None = None
    src: Url | None = None
    width: VkInt = 0
    height: VkInt = 0


class Photo(_Object):
    sizes: tuple[PhotoSize, ...] = ()


class Doc(_Object):
    title: Text | None = None
    ext: Annotated[str, StringConstraints(max_length=16)] | None = None
    size: Annotated[int, Strict(), Field(ge=0)] | None = None


class AudioMessage(_Object):
    link_ogg: Url | None = None
    link_mp3: Url | None = None


class StickerImage(Lenient):
    url: Url
    width: VkInt = 0
    height: VkInt = 0


class Sticker(_Object):
    images: tuple[StickerImage, ...] = ()


_KINDS: dict[str, type[_Object]] = {"photo": Photo, "doc": Doc, "audio_message": AudioMessage, "sticker": Sticker}


class Attachment(Lenient):
    """``{"type": kind, kind: {...}}``: the object under its kind, typed for the kinds we read (``other``: the
    object of any other kind, for a link to it)."""

    type: Kind
    photo: Photo | None = None
    doc: Doc | None = None
    audio_message: AudioMessage | None = None
    sticker: Sticker | None = None
    other: _Object | None = None

    @model_validator(mode="before")
    @classmethod
    def _object_under_its_kind(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("type"), str):
            kind = data["type"]
            return {"type": kind, kind if kind in _KINDS else "other": data.get(kind)}
        return data

    def as_dict(self) -> dict[str, Any]:
        """The attachment as ``bots.vk.mapping._attachments`` reads it (every value of the right type)."""
        item = getattr(self, self.type) if self.type in _KINDS else self.other
        return {"type": self.type, self.type: item.model_dump() if item is not None else {}}


Attachments = each(Attachment, "VK attachment", log)


class ClientInfo(Lenient):
    """What the customer's VK client can show (kept for sending: keyboards)."""

    button_actions: tuple[Annotated[str, StringConstraints(max_length=64)], ...] = ()
    keyboard: bool = True
    inline_keyboard: bool = True
    carousel: bool = False
    lang_id: VkInt | None = None


class Message(Lenient):
    id: VkInt = 0
    from_id: VkInt
    peer_id: VkInt
    date: VkInt | None = None
    text: Text = ""
    out: Annotated[int, Strict()] | bool = 0
    conversation_message_id: VkInt | None = None
    payload: Payload = None  # JSON text in a message
    attachments: Attachments = ()


class MessageNew(Lenient):
    """``message_new``: the message (API 5.103+: under ``message``; older versions: the object itself)."""

    message: Message
    client_info: ClientInfo | None = None

    @model_validator(mode="before")
    @classmethod
    def _old_versions(cls, data: Any) -> Any:
        if isinstance(data, dict) and "message" not in data:
            return {"message": data}
        return data


class MessageEvent(Lenient):
    """``message_event``: a callback button pressed."""

    user_id: VkInt
    peer_id: VkInt | None = None
    event_id: NativeId
    conversation_message_id: VkInt | None = None
    payload: Payload = None  # an object in a press


class VkUpdate(Lenient):
    """The envelope: ``{"type", "object", "group_id", "event_id", "v"}`` (+ ``secret`` in the Callback API)."""

    type: Annotated[str, Strict(), StringConstraints(max_length=64)]
    group_id: VkInt | None = None
    event_id: Annotated[str, StringConstraints(max_length=256)] | None = None
    v: Annotated[str, StringConstraints(max_length=16)] | None = None
    object: dict[str, Any] | None = None
