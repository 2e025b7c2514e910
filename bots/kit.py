"""What every adapter needs and none should write again: text splitting, capped downloads, an HTTP session,
error tables, the webhook wrapper and payload validation, and ``render``: buttons degraded to what a channel can
show, in one place.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar

import aiohttp
from aiohttp import web
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    PlainValidator,
    StringConstraints,
    TypeAdapter,
    ValidationError,
)

from bots.ports import Capabilities, DeliveryError, numbered
from core.messages import Button, Outbound

log = logging.getLogger(__name__)

MAX_DOWNLOAD = 50 * 1024 * 1024  # files larger than this are not relayed between channels
MAX_WEBHOOK_BODY = 4 * 1024 * 1024  # a webhook call larger than this is refused (413)


# ---------------------------------------------------------------------------------------------- text
def split_text(text: str, size: int) -> list[str]:
    """``text`` in parts of at most ``size`` characters, cut at a line break, else a space, else anywhere.

    Nothing is lost but the break a cut lands on; an empty text is no part at all."""
    parts: list[str] = []
    while len(text) > size:
        cut = text.rfind("\n", 0, size + 1)
        if cut <= 0:
            cut = text.rfind(" ", 0, size + 1)
        if cut <= 0:
            parts.append(text[:size])
            text = text[size:]
            continue
        parts.append(text[:cut])
        text = text[cut + 1 :]
    if text:
        parts.append(text)
    return parts


def render(out: Outbound, caps: Capabilities) -> tuple[str, tuple[Button, ...], bool]:
    """The text to show and the buttons to show with it: ``(text, buttons_shown, numbered)``.

    When the channel (``caps.buttons == 0``) or this message cannot carry its buttons (more than
    ``caps.buttons``, a label longer than ``caps.button_label_max``), they become numbered lines under the
    text (the desk maps a typed number back to the button) and no button is shown."""
    buttons = out.buttons
    if not buttons:
        return out.text, (), False
    if len(buttons) <= caps.buttons and all(len(b.label) <= caps.button_label_max for b in buttons):
        return out.text, buttons, False
    return numbered(out.text, [b.label for b in buttons]), (), True


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, with an ellipsis when it was cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------------------------------------- errors
@dataclass(frozen=True)
class ErrorTable:
    """A platform's API error codes, as the ``DeliveryError`` the outbox understands.

    ``permanent``: code -> what went wrong, in words an operator can act on (retrying cannot help);
    ``rate``: code -> seconds to wait before retrying; ``retryable``: codes worth retrying with backoff.
    Any other code fails permanently with the platform's own message."""

    permanent: dict[int, str]
    rate: dict[int, float]
    retryable: set[int] = field(default_factory=set)
    platform: str = "API"  # "VK", "WhatsApp": named in every reason
    default_rate: float = 5.0  # the wait after an HTTP 429 whose code is not in ``rate``

    def error(self, code: int, message: str, *, status: int | None = None) -> DeliveryError:
        """``code``: the platform's error code (0 if none); ``status``: the HTTP status, when there was one."""
        shown = code or status or 0
        name = self.platform
        if code in self.rate or status == 429:
            wait = self.rate.get(code, self.default_rate)
            return DeliveryError(f"{name} rate limit ({name} error {shown}: {message})", retry_after=wait)
        if code in self.permanent:
            return DeliveryError(f"not delivered: {self.permanent[code]} ({name} error {code})", permanent=True)
        if code in self.retryable or (status is not None and status >= 500):
            return DeliveryError(f"{name} error {shown}: {message}")
        return DeliveryError(f"not delivered: {name} error {shown}: {message}".rstrip(": "), permanent=True)


# ---------------------------------------------------------------------------------------------- HTTP
class HttpSession:
    """An aiohttp session created on first use (inside the running loop), with timeouts; ``close`` ends it."""

    def __init__(self, *, total: float | None = 60, connect: float = 15, headers: dict[str, str] | None = None):
        self.timeout = aiohttp.ClientTimeout(total=total, sock_connect=connect)
        self.headers = dict(headers or {})
        self._session: aiohttp.ClientSession | None = None

    def __call__(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self.timeout, headers=self.headers)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


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


# ---------------------------------------------------------------------------------------------- payloads
class Lenient(BaseModel):
    """A platform's object: fields the platform adds are ignored; the fields we declare are checked."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


_SURROGATE = re.compile(r"[\ud800-\udfff]")


def valid_unicode(text: str) -> str:
    """``text`` with lone surrogates (a JSON ``"\\ud800"``) as U+FFFD: it can then be encoded, stored and sent."""
    return _SURROGATE.sub("\ufffd", text)


Text = Annotated[str, AfterValidator(valid_unicode)]  # text from a person: any string, made encodable
# an opaque id of the platform's: stored in keys and sent back, so printable, no spaces, bounded
NativeId = Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=r"^[^\s\x00-\x1f\x7f]+$")]

M = TypeVar("M", bound=BaseModel)


def describe(error: ValidationError, limit: int = 3) -> str:
    """What was wrong, by path, without the values (they may be large or personal)."""
    parts = [f"{'.'.join(map(str, e['loc'])) or '(top)'}: {e['msg']}" for e in error.errors(include_url=False)]
    more = f" (+{len(parts) - limit} more)" if len(parts) > limit else ""
    return "; ".join(parts[:limit]) + more


def each(model: type[M], what: str, logger: logging.Logger) -> Any:
    """A list field whose invalid items are skipped (a WARNING each, naming ``what``) instead of failing the
    whole payload: one unusable message must not lose the others delivered with it. Not a list: invalid."""
    adapter = TypeAdapter(model)

    def keep_valid(value: Any) -> tuple[M, ...]:
        if not isinstance(value, list | tuple):
            raise ValueError(f"{what}s should be a list")
        kept: list[M] = []
        for i, item in enumerate(value):
            try:
                kept.append(adapter.validate_python(item))
            except ValidationError as e:
                ident = f" {str(item.get('id'))[:80]!r}" if isinstance(item, dict) and "id" in item else ""
                logger.warning("%s %d%s skipped, unusable: %s", what, i, ident, describe(e))
        return tuple(kept)

    return Annotated[tuple[model, ...], PlainValidator(keep_valid)]  # type: ignore[valid-type]


def parse(model: type[M], data: Any, context: dict[str, Any] | None = None) -> M:
    """``data`` as ``model``; ``Unusable`` (saying what is wrong) when it is not one."""
    try:
        return model.model_validate(data, context=context)
    except ValidationError as e:
        raise Unusable(f"not a valid {model.__name__}: {describe(e)}") from None
    except (ValueError, TypeError, RecursionError) as e:  # raised by a model's own validator, or nested too deep
        raise Unusable(f"not a valid {model.__name__}: {e.__class__.__name__}: {str(e)[:100]}") from None


# ---------------------------------------------------------------------------------------------- webhooks
class Unusable(Exception):
    """A webhook body that cannot be used (not JSON, not the platform's shape): the wrapper answers the route's
    ``unusable`` status and logs a WARNING naming it; it never reaches the sink."""


WebhookHandler = Callable[[dict[str, Any]], Awaitable[web.StreamResponse | str | None]]
Guard = Callable[[web.Request], web.StreamResponse | None]
RawCheck = Callable[[bytes, web.Request], web.StreamResponse | None]


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:20]} is out of range")
    return value


def loads(raw: bytes) -> Any:
    """Strict JSON: UTF-8 only, no NaN / Infinity (nor 1e999), not nested deeper than Python can parse."""
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_no_constant, parse_float=_finite)
    except (ValueError, RecursionError) as e:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise Unusable(f"not JSON ({e.__class__.__name__}: {str(e)[:100]})") from None


def webhook(
    handler: WebhookHandler,
    *,
    max_body: int = MAX_WEBHOOK_BODY,
    guard: Guard | None = None,
    check: RawCheck | None = None,
    name: str = "webhook",
    unusable: int = 400,
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """An aiohttp handler around ``handler``, which only validates and translates a JSON object.

    * ``guard(request)``, before the body is read (a secret in a header): its response, when it returns one;
    * a body over ``max_body`` bytes: 413 (refused before it is read in full);
    * ``check(raw body, request)``, before parsing (a signature): its response, when it returns one;
    * not JSON (``loads``), not a JSON object at the top, or ``handler`` raising ``Unusable``: the status
      ``unusable`` (400; 200 where the platform would deliver the same poison again and again), with a WARNING;
    * ``handler(body)`` returns a response, a text (answered with 200) or None (``ok``); when it raises anything
      else (the sink could not handle the update: Redis away) the answer is 500, so the platform delivers it
      again: the one legitimate 500."""

    def refuse(reason: str, raw: bytes) -> web.Response:
        log.warning("%s: unusable body skipped (answered %d): %s; body %r", name, unusable, reason, raw[:200])
        return web.Response(status=unusable, text="ok" if unusable == 200 else f"bad request: {reason}"[:200])

    async def route(request: web.Request) -> web.StreamResponse:
        if guard is not None:
            refused = guard(request)
            if refused is not None:
                return refused
        if request.content_length is not None and request.content_length > max_body:
            return web.Response(status=413, text="too large")
        raw = bytearray()
        async for chunk in request.content.iter_chunked(64 * 1024):
            raw += chunk
            if len(raw) > max_body:
                return web.Response(status=413, text="too large")
        if check is not None:
            refused = check(bytes(raw), request)
            if refused is not None:
                return refused
        try:
            body = loads(bytes(raw))
            if not isinstance(body, dict):
                raise Unusable(f"not a JSON object but {type(body).__name__}")
            answer = await handler(body)
        except Unusable as e:
            return refuse(str(e), bytes(raw))
        except Exception:
            log.exception("%s: the update could not be handled; answering 500 so that it is delivered again", name)
            return web.Response(status=500, text="error")
        if answer is None:
            return web.Response(text="ok")
        return web.Response(text=answer) if isinstance(answer, str) else answer

    return route
