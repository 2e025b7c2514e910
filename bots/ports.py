"""What an adapter gets and what it provides. Imports no adapter (and no aiogram, vk_api or aiohttp server).

An adapter translates, nothing else:
* native update -> a typed event (``core.events``) handed to the ``EventSink`` it was given; the sink returns
  once the event is handled and what it caused is durably queued (raise -> the update was not handled: do
  not acknowledge it, the platform or the poll loop must deliver it again);
* ``Outbound`` -> API calls, in ``send`` (customers) or ``send_staff`` (the staff group), called by the
  outbox with a ``SendContext``; failures are ``DeliveryError``.

Adapters never receive the desk or the store: per-channel memory goes through ``ChannelMemory`` (keys are
built by the store) and the staff side asks ``StaffDirectory`` about cases.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from core.events import Event
from core.messages import Attachment, Button, Outbound

if TYPE_CHECKING:
    from aiohttp import web


class ConfigError(RuntimeError):
    """The configuration cannot work (a refused token, a missing setting): ``supportbot run`` stops with it."""


class Unavailable(RuntimeError):
    """A platform could not be reached at start (network, outage): not a configuration error, so ``supportbot
    run`` exits with status 1 and is restarted, instead of waiting for an administrator (status 2)."""


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


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a channel can show; ``bots.kit.render`` degrades everything else in one place."""

    text_max: int = 4096
    buttons: int = 0  # how many buttons one message may carry (0: none, numbered lines instead)
    button_label_max: int = 64


EventSink = Callable[[Event], Awaitable[None]]


class Progress(Protocol):
    """The outbox's record of a multi-part send: parts already sent are not sent again after a retry."""

    done: int  # parts sent so far
    sent: list[str]  # their native ids

    async def mark(self, part: int, native_id: str) -> None:
        """Part ``part`` (0-based) went out as ``native_id``: recorded before the next part is sent."""


@dataclass
class SendContext:
    """One attempt to deliver one outbox entry.

    ``key``: the entry's idempotency key, the same across retries (VK derives random_id from it);
    ``progress``: which parts already went out; ``media``: the bytes of an attachment received by any channel.
    """

    key: str
    progress: Progress
    media: Callable[[Attachment], Awaitable[Media]]
    # links to record when the entry is done (in the same Redis step): (kind, native id, case id, ttl seconds or 0)
    links: list[tuple[str, str, int, int]] = field(default_factory=list)

    def link(self, kind: str, native_id: str | int, case_id: int, ttl: float = 0) -> None:
        """Remember, once the send is done, that a native message belongs to a case (see StaffDirectory)."""
        self.links.append((kind, str(native_id), case_id, int(ttl)))


class Channel(Protocol):
    name: str  # "telegram", "vk", "whatsapp", "console"
    capabilities: Capabilities

    async def run(self, sink: EventSink) -> None:
        """Receive updates until cancelled (long polling); return at once when they come by webhook."""

    def routes(self, sink: EventSink) -> list[web.RouteDef]:
        """Webhook routes for the built-in web server (may be empty)."""

    async def send(self, out: Outbound, ctx: SendContext) -> str:
        """Send to the customer; return the native id of the last message sent; raise DeliveryError."""

    async def download(self, attachment: Attachment) -> Media:
        """Fetch a file this channel received, to upload it again on another channel."""

    def limits(self, out: Outbound) -> list[Limit]:
        """The rate limits a send of ``out`` counts against (a limit listed n times costs n units)."""

    async def close(self) -> None: ...


class StaffChannel(Protocol):
    async def send_staff(self, out: Outbound, ctx: SendContext) -> str:
        """Show a staff-side message (a case's card, a relay, a status line) in the staff group."""

    def staff_limits(self, out: Outbound) -> list[Limit] | Awaitable[list[Limit]]:
        """Like ``Channel.limits``; may be a coroutine (it may need to know how the case is shown)."""


class ChannelMemory(Protocol):
    """Small per-channel facts an adapter keeps (a display-name cache, a customer's client features...)."""

    async def get(self, name: str, key: str | int) -> str | None: ...

    async def set(self, name: str, key: str | int, value: str, ttl: float | None = None, nx: bool = False) -> bool: ...

    async def set_max(self, name: str, key: str | int, value: float, ttl: float) -> float | None:
        """Keep the larger of the stored number and ``value``; returns the number stored before (or None)."""

    async def get_hash(self, name: str, key: str | int) -> dict[str, str]: ...

    async def set_hash(self, name: str, key: str | int, fields: dict[str, str], ttl: float | None = None) -> None: ...

    async def push(self, name: str, value: str) -> None:
        """Append to a list kept for a person to look at (e.g. updates that kept failing)."""


class StaffDirectory(Protocol):
    """What the staff front end needs to know about cases."""

    async def case_of(self, kind: str, native_id: str | int) -> int | None: ...

    async def link(self, kind: str, native_id: str | int, case_id: int, ttl: float | None = None) -> None: ...

    async def place(self, case_id: int) -> dict[str, str]:
        """The front end's own facts about a case (its topic id, its card's message id...)."""

    async def set_place(self, case_id: int, **fields: str) -> None: ...

    async def drop_place(self, case_id: int, *fields: str) -> None: ...

    async def title(self, case_id: int) -> str | None:
        """The case's topic title now (status icon, number, channel, customer)."""

    async def card(self, case_id: int) -> str | None:
        """The case's card, to post again in a recreated topic."""

    def card_buttons(self, case_id: int) -> tuple[Button, ...]:
        """The buttons under the case's card (the desk's, in the staff's language)."""

    def lock(self, name: str, ttl: float) -> Any:
        """An async context manager: a lease on ``name`` shared by every process."""


def numbered(text: str, labels: list[str]) -> str:
    """Buttons as numbered lines, for channels (or sizes) that cannot show them."""
    if not labels:
        return text
    return text + "\n" + "\n".join(f"{i}. {label}" for i, label in enumerate(labels, 1))
