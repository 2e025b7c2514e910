"""What every messenger adapter provides, and the errors delivery understands.

A channel turns native updates into ``Inbound`` events (``run`` for long polling, ``routes`` for webhooks)
and sends ``Outbound`` messages to customers (``send``). It degrades in one place: buttons it cannot show
become numbered lines (``numbered``), which the desk maps back from a typed digit.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import aiohttp
from aiohttp import web

from core.messages import Attachment, Outbound

if TYPE_CHECKING:
    from bots.runner import Hub


class DeliveryError(Exception):
    """A send failed. ``permanent``: retrying cannot help (blocked bot, no such chat, closed 24 h window).

    ``retry_after``: the platform asked to wait that many seconds before trying again (429 and the like).
    ``reason`` is shown to the other side when the message is finally given up on.
    """

    def __init__(self, reason: str, *, permanent: bool = False, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Media:
    data: bytes
    filename: str
    mime: str | None = None


@dataclass(frozen=True, slots=True)
class Limit:
    """At most ``count`` sends per ``per`` seconds for everything sharing ``key`` (all processes)."""

    key: str
    count: int
    per: float


class Channel(Protocol):
    name: str  # "telegram", "vk", "whatsapp"
    # Set by bots.delivery.Delivery when it is built (before anything is sent): ``await self.media(att)``
    # returns the bytes of an attachment received by ANY channel (it calls ``download`` on the channel named
    # ``att.channel``). Use it in ``send`` for attachments whose ``att.channel`` is not this channel, e.g. an
    # operator's Telegram photo going to a VK customer. Declare it in ``__init__`` (``self.media = None``).
    media: Callable[[Attachment], Awaitable[Media]] | None

    async def run(self, hub: Hub) -> None:
        """Receive updates until cancelled (long polling), passing them to ``hub.customer``; return at once
        when updates come by webhook."""

    def routes(self, hub: Hub) -> list[web.RouteDef]:
        """Webhook routes for the built-in web server (may be empty); handlers call ``hub.customer`` and answer
        only after it returned (the update is then handled and its answers are in the Redis outbox)."""

    async def send(self, out: Outbound, key: str) -> str:
        """Send to the customer; return the native message id; raise DeliveryError.

        ``key`` identifies this delivery and stays the same across retries (VK derives random_id from it,
        so a retried send is not delivered twice)."""

    async def download(self, attachment: Attachment) -> Media:
        """Fetch a file this channel received, to upload it again on another channel."""

    def limits(self, out: Outbound) -> list[Limit]:
        """The rate limits a send of ``out`` counts against."""

    async def close(self) -> None: ...


def numbered(text: str, labels: list[str]) -> str:
    """Buttons as numbered lines, for channels (or sizes) that cannot show them."""
    if not labels:
        return text
    return text + "\n" + "\n".join(f"{i}. {label}" for i, label in enumerate(labels, 1))


async def fetch_media(channel: Channel, attachment: Attachment) -> Media:
    """The bytes of a file to send on ``channel``: its own download, or another channel's via ``channel.media``."""
    if attachment.channel == channel.name:
        return await channel.download(attachment)
    if channel.media is None:
        raise DeliveryError(
            f"cannot fetch a {attachment.channel} file for {channel.name} (no media resolver)", permanent=True
        )
    return await channel.media(attachment)


MAX_DOWNLOAD = 50 * 1024 * 1024  # files larger than this are not relayed between channels


def too_large(size: int | None, cap: int = MAX_DOWNLOAD) -> DeliveryError:
    got = f"{math.ceil(size / 2**20)} MB" if size else f"over {cap // 2**20} MB"
    return DeliveryError(f"file too large ({got}; files over {cap // 2**20} MB are not relayed)", permanent=True)


async def read_capped(resp: aiohttp.ClientResponse, cap: int = MAX_DOWNLOAD) -> bytes:
    """The body, refused (``too_large``) when its Content-Length, or what actually arrives, exceeds ``cap``."""
    if resp.content_length is not None and resp.content_length > cap:
        raise too_large(resp.content_length, cap)
    data = bytearray()
    async for chunk in resp.content.iter_chunked(256 * 1024):
        data += chunk
        if len(data) > cap:
            raise too_large(None, cap)
    return bytes(data)
