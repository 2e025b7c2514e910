"""VK community messages: Bots Long Poll (default) or the Callback API, on top of the vk-api library.

``api``: options, the client, error mapping, random_id; ``mapping``: VK objects as ours; ``intake``: updates
-> events; ``send``: messages, keyboards, files; ``channel``: ``VkChannel``.
"""

from bots.vk.api import ERRORS, SETUP_ERRORS, RebasedSession, VkOptions, VkSetupError, make_api, random_id, vk_error
from bots.vk.channel import VkChannel
from bots.vk.mapping import _attachments, _link, _our_payload

__all__ = [
    "ERRORS",
    "SETUP_ERRORS",
    "RebasedSession",
    "VkChannel",
    "VkOptions",
    "VkSetupError",
    "_attachments",
    "_link",
    "_our_payload",
    "make_api",
    "random_id",
    "vk_error",
]
