"""The platforms' API stand-ins of the load bench (``bench/load.py``), as the bench uses them: each tells
``Arrivals`` when the bot's answer to a customer reaches it (Telegram Bot API, VK API, WhatsApp Cloud API from
``tests/fakes``), so the customer waiting for that answer can ask the next question.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from tests.fakes.graph_api import FakeGraph
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.vk_api import FakeVk


class Arrivals:
    """When the bot's answer to each customer reached a stand-in: resolves the customer's waiting future."""

    def __init__(self) -> None:
        self.waiting: dict[tuple[str, str], asyncio.Future] = {}
        self.unexpected = 0
        self.strays: list[tuple[str, str]] = []  # (channel, user) of answers nobody was waiting for

    def expect(self, channel: str, user: str) -> asyncio.Future:
        fut = asyncio.get_running_loop().create_future()
        self.waiting[(channel, user)] = fut
        return fut

    def arrived(self, channel: str, user: str) -> None:
        fut = self.waiting.pop((channel, user), None)
        if fut is not None and fut.cancelled():  # the load stopped while this customer waited
            return
        if fut is None or fut.done():  # a second answer to one question
            self.unexpected += 1
            self.strays.append((channel, user))
            return
        fut.set_result(time.perf_counter())


class LoadTelegram(FakeTelegram):
    arrivals: Arrivals

    def _send(self, method: str, params: dict) -> Any:
        resp = super()._send(method, params)
        if resp.status == 200 and int(params.get("chat_id") or 0) > 0:
            self.arrivals.arrived("telegram", str(params["chat_id"]))
        return resp


class LoadVk(FakeVk):
    arrivals: Arrivals

    def _m_messages_send(self, params: dict) -> Any:
        result = super()._m_messages_send(params)
        self.arrivals.arrived("vk", str(params["peer_id"]))
        return result


class LoadGraph(FakeGraph):
    arrivals: Arrivals

    async def _messages(self, request: Any) -> Any:
        resp = await super()._messages(request)
        if resp.status == 200 and self.sent:
            self.arrivals.arrived("whatsapp", self.sent[-1]["to"])
        return resp
