"""VK objects as ours, without I/O: ids, button payloads, attachments (and notes for what is not a file)."""

from __future__ import annotations

import json
import mimetypes
from typing import Any

from core.messages import Attachment, AttachmentKind

# lang_id of client_info -> our language codes (VK: 0 ru, 1 uk, 2 be, 3 en, ...)
LANG_IDS = {0: "ru", 1: "ru", 2: "ru", 3: "en"}


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
                name = f"photo{obj.get('owner_id')}_{obj.get('id')}.jpg"
                result.append(Attachment(AttachmentKind.PHOTO, url, "vk", filename=name, mime="image/jpeg"))
        elif kind == "doc" and obj.get("url"):
            title = obj.get("title") or "document"
            ext = obj.get("ext")
            if ext and not title.lower().endswith("." + ext.lower()):
                title += "." + ext
            mime = mimetypes.guess_type(title)[0]
            result.append(
                Attachment(AttachmentKind.DOCUMENT, obj["url"], "vk", filename=title, mime=mime, size=obj.get("size"))
            )
        elif kind == "audio_message" and (obj.get("link_ogg") or obj.get("link_mp3")):
            ogg = bool(obj.get("link_ogg"))
            url = obj.get("link_ogg") or obj.get("link_mp3")
            name, mime = ("voice.ogg", "audio/ogg") if ogg else ("voice.mp3", "audio/mpeg")
            result.append(Attachment(AttachmentKind.VOICE, url, "vk", filename=name, mime=mime))
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
