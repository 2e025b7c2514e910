"""WhatsApp Cloud API: a thin aiohttp client of our own, behind our own web server.

``api``: options, the Graph client, error mapping, signatures; ``intake``: webhook -> events; ``send``:
messages, the 24-hour window, files; ``channel``: ``WhatsAppChannel``.
"""

from bots.whatsapp.api import (
    ERRORS,
    WINDOW,
    GraphClient,
    GraphError,
    WhatsAppOptions,
    graph_error,
    signature_ok,
)
from bots.whatsapp.channel import WhatsAppChannel
from bots.whatsapp.intake import inbound
from bots.whatsapp.send import CAPABILITIES, text_messages

__all__ = [
    "CAPABILITIES",
    "ERRORS",
    "WINDOW",
    "GraphClient",
    "GraphError",
    "WhatsAppChannel",
    "WhatsAppOptions",
    "graph_error",
    "inbound",
    "signature_ok",
    "text_messages",
]
