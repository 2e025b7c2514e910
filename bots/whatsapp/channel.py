"""``WhatsAppChannel``: the WhatsApp Cloud API for customers (receiving in ``intake``, sending in ``send``)."""

from __future__ import annotations

import logging

from bots.ports import ChannelMemory
from bots.whatsapp.api import GraphClient, WhatsAppOptions
from bots.whatsapp.intake import WhatsAppIntake
from bots.whatsapp.send import CAPABILITIES, WhatsAppSender

log = logging.getLogger("bots.whatsapp")


class WhatsAppChannel(WhatsAppIntake, WhatsAppSender):
    """Translates Meta's webhook calls into events for the sink, and ``Outbound`` messages into Graph API calls.

    ``memory`` keeps the adapter's small facts: each customer's latest message time (``last``: the 24-hour
    window) and what was sent under a wamid (``sent``: for a later ``failed`` status)."""

    name = "whatsapp"
    capabilities = CAPABILITIES

    def __init__(self, options: WhatsAppOptions, *, memory: ChannelMemory):
        self.options = options
        self.memory = memory
        self.graph = GraphClient(options)
        if not options.app_secret:
            log.error("WHATSAPP_APP_SECRET is not set: every WhatsApp webhook call will be rejected (403)")

    async def close(self) -> None:
        await self.graph.close()
