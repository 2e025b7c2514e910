"""``VkChannel``: VK community messages for customers (receiving in ``intake``, sending in ``send``)."""

from __future__ import annotations

from bots.kit import HttpSession
from bots.ports import Capabilities, ChannelMemory
from bots.vk.api import VkClient, VkOptions
from bots.vk.intake import VkIntake
from bots.vk.send import TEXT_MAX, VkSender

BUTTONS_MAX = 10  # an inline keyboard holds at most 10 buttons


class VkChannel(VkIntake, VkSender):
    """Translates VK updates into events for the sink, and ``Outbound`` messages into VK API calls.

    ``memory`` keeps the adapter's small facts: display names, clients' keyboard support, the random_id
    salt, and updates that kept failing (``parked``)."""

    name = "vk"
    capabilities = Capabilities(text_max=TEXT_MAX, buttons=BUTTONS_MAX, button_label_max=64)

    def __init__(self, options: VkOptions, *, memory: ChannelMemory):
        self.options = options
        self.memory = memory
        self.client = VkClient(options)
        self.http = HttpSession(total=None, connect=15)

    async def close(self) -> None:
        await self.http.close()
        await self.client.close()
