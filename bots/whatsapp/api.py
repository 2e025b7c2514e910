"""The Graph API side of the WhatsApp adapter: options, a thin aiohttp client, error mapping, signatures.

Why not pywa: pywa (4.5) fixes the Graph API host (``GraphAPI`` overwrites the session's base URL with
``https://graph.facebook.com/v{version}``), so ``WHATSAPP_API_URL`` (tests, proxies) could only be honoured by
patching its internals; its webhook side is built for FastAPI/Flask (we serve aiohttp), and it would add httpx
for the handful of calls we make (send, upload, media URL, download). The error codes we act on (131047...)
are plain JSON either way.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from bots.kit import ErrorTable, HttpSession
from bots.ports import ConfigError, DeliveryError
from core.config import Settings

GRAPH_VERSION = "v21.0"
WINDOW = 24 * 3600  # free-form messages only within 24 hours of the customer's last message
REENGAGEMENT = {131047, 470}  # "the 24-hour window is closed": only a template may go out

ERRORS = ErrorTable(
    permanent={
        131026: "the message is undeliverable (the number may not use WhatsApp, or has not accepted the terms)",
        131030: "the number is not in the test recipients list",
        131031: "the business account is locked",
        131045: "the phone number is not registered",
        131047: "WhatsApp's 24-hour window was closed",
        470: "WhatsApp's 24-hour window was closed",
        131051: "unsupported message type",
        131052: "the media could not be downloaded",
        131053: "the media could not be uploaded",
        132000: "the template parameters do not match the template",
        132001: "the template does not exist (in that language) or is not approved",
        132015: "the template is paused",
        132016: "the template is disabled",
        190: "the access token is invalid or expired",
        10: "the app lacks the permission",
        100: "invalid parameter",
        200: "the app lacks the permission",
    },
    rate={4: 60.0, 80007: 60.0, 130429: 5.0, 131048: 60.0, 131056: 10.0},
    retryable={1, 2, 131000, 131016},
    platform="WhatsApp",
    default_rate=5.0,
)


@dataclass(frozen=True, slots=True)
class WhatsAppOptions:
    token: str
    phone_number_id: str
    app_secret: str | None = None  # X-Hub-Signature-256 of every webhook call (none: every call is refused)
    verify_token: str | None = None  # Meta's verification handshake
    api_url: str = "https://graph.facebook.com"
    reopen_template: str | None = None  # "name" or "name:language_code": replies after the 24-hour window
    default_language: str = "ru"
    clock: Callable[[], float] = time.time  # tests move it to close the 24-hour window

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> WhatsAppOptions:
        if not (settings.whatsapp_token and settings.whatsapp_phone_number_id):
            raise ConfigError("WhatsApp needs WHATSAPP_TOKEN and WHATSAPP_PHONE_NUMBER_ID")
        values: dict[str, Any] = {
            "token": settings.whatsapp_token,
            "phone_number_id": str(settings.whatsapp_phone_number_id),
            "app_secret": settings.whatsapp_app_secret,
            "verify_token": settings.whatsapp_verify_token,
            "api_url": settings.whatsapp_api_url,
            "reopen_template": settings.whatsapp_reopen_template,
            "default_language": settings.default_language,
        }
        return cls(**{**values, **overrides})


class GraphError(Exception):
    def __init__(self, status: int, body: dict[str, Any]):
        err = body.get("error") if isinstance(body.get("error"), dict) else {}
        self.status = status
        self.code = int(err.get("code") or 0)
        self.subcode = err.get("error_subcode")
        details = (err.get("error_data") or {}).get("details") if isinstance(err.get("error_data"), dict) else None
        self.message = err.get("message") or err.get("error_user_msg") or f"HTTP {status}"
        self.details = details or ""
        super().__init__(f"Graph API error {self.code}: {self.message}")


def graph_error(exc: Exception) -> DeliveryError:
    """A Graph API / transport exception as the DeliveryError the outbox understands."""
    if isinstance(exc, DeliveryError):
        return exc
    if isinstance(exc, GraphError):
        return ERRORS.error(exc.code, exc.message, status=exc.status)
    if isinstance(exc, aiohttp.ClientError | TimeoutError | OSError):
        return DeliveryError(f"WhatsApp unreachable: {exc.__class__.__name__}: {exc}")
    return DeliveryError(f"WhatsApp call failed: {exc.__class__.__name__}: {exc}")


def signature_ok(body: bytes, header: str | None, secret: str | None) -> bool:
    """X-Hub-Signature-256: 'sha256=' + HMAC-SHA256(app secret, raw body), hex."""
    if not secret or not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    given = header[len("sha256=") :].strip().lower().encode("utf-8", "surrogateescape")  # bytes: any text compares
    return hmac.compare_digest(expected.encode(), given)


class GraphClient:
    """Graph API calls with the access token; answers that carry an error raise ``GraphError``."""

    def __init__(self, options: WhatsAppOptions):
        self.base = options.api_url.rstrip("/") + "/" + GRAPH_VERSION
        self.http = HttpSession(total=60, connect=15, headers={"Authorization": f"Bearer {options.token}"})

    async def request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        url = path if path.startswith("http") else f"{self.base}/{path}"
        async with self.http().request(method, url, **kwargs) as resp:
            try:
                body = await resp.json(content_type=None)
            except (ValueError, aiohttp.ContentTypeError):
                body = {}
            if resp.status >= 400 or not isinstance(body, dict) or "error" in body:
                raise GraphError(resp.status, body if isinstance(body, dict) else {})
            return body

    async def close(self) -> None:
        await self.http.close()
