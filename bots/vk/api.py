"""The VK side of the adapter: options, the vk-api client (in worker threads), error mapping, random_id.

* vk-api is synchronous: every call runs in a worker thread (``asyncio.to_thread``), never on the event loop.
* vk-api addresses ``https://api.vk.ru/method/...`` itself; ``VK_API_URL`` is honoured by handing it a
  ``requests`` session that rebases those URLs (a supported constructor argument, no global patching).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import requests
import vk_api
from vk_api.exceptions import ApiError, ApiHttpError
from vk_api.upload import VkUpload

from bots.kit import ErrorTable
from bots.ports import ConfigError, DeliveryError
from core.config import Settings

API_VERSION = "5.199"
VK_DEFAULT_API = "https://api.vk.ru"

# Errors the operator should read in plain words; the customer cannot be reached until they act.
# Rate limits (6: too many requests per second; 9: flood control; 29: rate limit): wait that long and retry.
ERRORS = ErrorTable(
    permanent={
        900: "the customer has blacklisted the community",
        901: "the customer has not allowed messages from the community",
        902: "the customer's privacy settings do not allow messages from the community",
        7: "the community token lacks the messages permission",
        15: "access denied",
        914: "the message is too long",
        936: "the contact was not found",
    },
    rate={6: 1.0, 9: 10.0, 29: 60.0},
    retryable={1, 10},  # unknown error, internal server error
    platform="VK",
)

# groups.getLongPollServer errors that mean the configuration is wrong (stop, say what to fix)
SETUP_ERRORS = {
    5: "VK_GROUP_TOKEN was refused (VK error 5: {msg}): create a new community access token "
    "(community → Manage → API usage → Access tokens) and set VK_GROUP_TOKEN",
    15: "VK denied access to the community's Long Poll (VK error 15: {msg}): give VK_GROUP_TOKEN the "
    "'community management' and 'messages' permissions and enable Bots Long Poll API "
    "(community → Manage → API usage → Long Poll API)",
    27: "VK_GROUP_TOKEN was refused (VK error 27, group authorization failed: {msg}): use a community token "
    "of the community VK_GROUP_ID={group}",
}


class VkSetupError(ConfigError):
    """VK refused the community's credentials: retrying cannot help, an administrator must act (``supportbot run``
    stops with "configuration error: ...")."""


@dataclass(frozen=True, slots=True)
class VkOptions:
    """Everything the VK adapter is configured with (tests shorten the waits)."""

    group_token: str
    group_id: int
    api_url: str = VK_DEFAULT_API
    callback_secret: str | None = None  # with confirmation_code: the Callback API instead of long poll
    confirmation_code: str | None = None
    default_language: str = "ru"
    longpoll_wait: int = 25  # seconds a long-poll request waits for updates
    retry_delay: float = 1.0  # a long-poll update that failed is retried with this backoff...
    retry_delay_max: float = 30.0
    park_after: int = 20  # ...this many times (about 8 minutes), then parked for a person to look at

    @property
    def callback_mode(self) -> bool:
        return bool(self.callback_secret and self.confirmation_code)

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> VkOptions:
        if not (settings.vk_group_token and settings.vk_group_id):
            raise ConfigError("VK needs VK_GROUP_TOKEN and VK_GROUP_ID")
        values: dict[str, Any] = {
            "group_token": settings.vk_group_token,
            "group_id": int(settings.vk_group_id),
            "api_url": settings.vk_api_url,
            "callback_secret": settings.vk_callback_secret,
            "confirmation_code": settings.vk_confirmation_code,
            "default_language": settings.default_language,
        }
        return cls(**{**values, **overrides})


def random_id(key: str, part: int = 0, salt: str = "") -> int:
    """A stable positive 31-bit ``random_id`` for one part of one delivery: a retried send is not delivered twice.

    ``salt`` (per install, kept in the channel's memory) keeps ids apart when the outbox counter starts again."""
    digest = hashlib.sha1(f"{salt}|{key}#{part}".encode() if salt else f"{key}#{part}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF or 1


def vk_error(exc: Exception) -> DeliveryError:
    """A vk-api / transport exception as the DeliveryError the outbox understands."""
    if isinstance(exc, DeliveryError):
        return exc
    if isinstance(exc, ApiError):
        return ERRORS.error(exc.code, exc.error.get("error_msg", ""))
    if isinstance(exc, ApiHttpError):
        status = exc.response.status_code
        if status == 429:
            return DeliveryError(f"VK answered HTTP {status}", retry_after=1.0)
        return DeliveryError(f"VK answered HTTP {status}", permanent=400 <= status < 500 and status != 408)
    if isinstance(exc, requests.RequestException | aiohttp.ClientError | OSError | ValueError):
        return DeliveryError(f"VK unreachable: {exc.__class__.__name__}: {exc}")
    return DeliveryError(f"VK call failed: {exc.__class__.__name__}: {exc}")


class RebasedSession(requests.Session):
    """A requests session that sends what vk-api addresses to https://api.vk.ru to ``base`` instead.

    vk-api builds method URLs from a fixed host but accepts a custom session: the supported seam.
    """

    def __init__(self, base: str):
        super().__init__()
        self.base = base.rstrip("/")
        self.headers["User-Agent"] = "supportbot (vk-api)"

    def request(self, method, url, *args, **kwargs):  # type: ignore[override]
        if isinstance(url, str) and url.startswith(VK_DEFAULT_API + "/") and self.base != VK_DEFAULT_API:
            url = self.base + url[len(VK_DEFAULT_API) :]
        kwargs.setdefault("timeout", 30)
        return super().request(method, url, *args, **kwargs)


def make_api(token: str, api_url: str = VK_DEFAULT_API) -> vk_api.VkApi:
    """A vk-api client for a community token, API 5.199, pointed at ``api_url``."""
    vk = vk_api.VkApiGroup(token=token, api_version=API_VERSION, session=RebasedSession(api_url))
    # vk-api sleeps and retries error 6 forever inside the call; we map it to a DeliveryError(retry_after)
    vk.error_handlers.pop(vk_api.vk_api.TOO_MANY_RPS_CODE, None)
    return vk


class VkClient:
    """The vk-api objects of one community, called from worker threads."""

    def __init__(self, options: VkOptions):
        self.vk = make_api(options.group_token, options.api_url)
        self.api = self.vk.get_api()
        self.upload = VkUpload(self.vk)

    @staticmethod
    async def call(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """Run a synchronous vk-api call in a worker thread."""
        return await asyncio.to_thread(fn, *args, **kwargs)

    async def method(self, name: str, values: dict[str, Any]) -> Any:
        return await self.call(self.vk.method, name, values)

    async def close(self) -> None:
        await asyncio.to_thread(self.vk.http.close)
