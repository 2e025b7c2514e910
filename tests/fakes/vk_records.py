"""What the VK stand-in records and how a test reads it: ``API_VERSION`` (the only one it accepts), ``SentMessage``
(one message the community sent, with its keyboard and resolved attachments), ``Failure`` (a failure ``fail``
queued for a method), ``ERROR_TEXTS`` (VK's texts for the error codes a failure answers) and ``VkReadingMixin``, the
queries ``FakeVk`` gets from it: ``to`` / ``wait_sent`` (what was sent to a peer) and ``wait_polling`` (until a
long-poll client is connected). The mixin reads the state ``FakeVk.__init__`` sets up (``sent``, ``polls``).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.server import first_sent

API_VERSION = "5.199"


@dataclass
class SentMessage:
    id: int
    peer_id: int
    text: str
    random_id: int
    keyboard: dict[str, Any] | None = None
    attachments: list[dict[str, Any]] = field(default_factory=list)  # {"type", "id", "data", "filename"}

    @property
    def buttons(self) -> list[dict[str, Any]]:
        return [b["action"] for row in (self.keyboard or {}).get("buttons", []) for b in row]


@dataclass
class Failure:
    method: str
    error_code: int | None = None  # a VK API error
    http_status: int | None = None  # or an HTTP status
    deliver: bool = False  # messages.send only: deliver, then answer with the failure (a lost answer)
    drop: bool = False  # close the connection instead of answering (after delivering, with ``deliver``)
    times: int = 1
    after: int = 0  # calls of the method that still succeed before the failure starts


ERROR_TEXTS = {
    6: "Too many requests per second",
    9: "Flood control",
    29: "Rate limit reached",
    900: "Can't send messages for users from blacklist",
    901: "Can't send messages for users without permission",
    902: "Can't send messages to this user due to their privacy settings",
    10: "Internal server error",
}


class VkReadingMixin:
    """The test side of ``FakeVk``: what the community sent, and whether the bot polls."""

    async def wait_polling(self, within: float = 10.0) -> None:
        """Until a long-poll client is connected (VK does not deliver what happened before it asked)."""
        deadline = asyncio.get_running_loop().time() + within
        while not self.polls:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError("nobody polls the VK long-poll server")
            await asyncio.sleep(0.02)

    def to(self, peer_id: int) -> list[SentMessage]:
        return [m for m in self.sent if m.peer_id == peer_id]

    async def wait_sent(
        self, peer_id: int, predicate=lambda m: True, within: float = 10.0, after: int = 0
    ) -> SentMessage:
        """The first message to ``peer_id`` (after the first ``after`` ones) matching ``predicate``."""

        def missing() -> str:
            got = [(m.text[:60], [a["type"] for a in m.attachments]) for m in self.to(peer_id)]
            return f"no matching VK message to {peer_id}; sent: {got}"

        return await first_sent(lambda: self.to(peer_id), predicate, within, after, missing)
