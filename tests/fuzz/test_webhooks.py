"""Bad input is a 4xx, never a 500: random and mutated payloads posted to every webhook of a running bot.

Each endpoint gets valid payloads of its platform mutated at random paths (wrong types, missing and extra keys,
other values at the top, huge strings) and bodies mangled at the byte level (invalid JSON, non-UTF-8, UTF-16, deep
nesting), with the right secret or signature so that they get past the check. The answer must be what the module
docstrings of the intakes promise (``bots/telegram/intake.py``, ``bots/vk/models.py``, ``bots/whatsapp/models.py``)
and never a 500; nothing may escape the handler (no ERROR log, no traceback). Hypothesis runs in a worker thread
(derandomized: the same examples on every run) while the bot serves on the test's event loop.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from collections import Counter
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bots.kit import MAX_WEBHOOK_BODY
from bots.telegram.intake import WEBHOOK_MAX_BODY as TG_MAX_BODY
from bots.vk.intake import CALLBACK_MAX_BODY as VK_MAX_BODY
from tests.fuzz.conftest import (
    TG_SECRET,
    VK_CODE,
    VK_SECRET,
    Hooks,
    renewed,
    telegram_bases,
    vk_bases,
    wa_bases,
)
from tests.fuzz.mutate import body, mutated

EXAMPLES = 300
_wa_ids = itertools.count(1)
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # the same examples on every run (CI), still generated at random from a fixed seed
    database=None,
    suppress_health_check=list(HealthCheck),
)
LIMITS = {"telegram": TG_MAX_BODY, "vk": VK_MAX_BODY, "whatsapp": MAX_WEBHOOK_BODY}
# what a body that gets past the secret may be answered, besides 413 for one over the limit
ALLOWED = {"telegram": {200, 400}, "vk": {200, 400, 403}, "whatsapp": {200}}


def headers_for(platform: str, raw: bytes, hooks: Hooks, *, good: bool = True) -> dict[str, str]:
    h = {"Content-Type": "application/json"}
    if platform == "telegram":
        h["X-Telegram-Bot-Api-Secret-Token"] = TG_SECRET if good else "not-the-secret"
    elif platform == "whatsapp":
        h["X-Hub-Signature-256"] = hooks.wa.sign(raw) if good else hooks.wa.sign(raw, "another-secret")
    return h


def bases_for(platform: str, hooks: Hooks) -> list[dict[str, Any]]:
    return {"telegram": telegram_bases, "vk": vk_bases, "whatsapp": wa_bases}[platform](
        {"telegram": hooks.tg, "vk": hooks.vk, "whatsapp": hooks.wa}[platform]
    )


class Poster:
    """Posts from Hypothesis' worker thread through one session on the bot's event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, session: aiohttp.ClientSession):
        self.loop = loop
        self.session = session

    async def _post(self, url: str, raw: bytes, headers: dict[str, str]) -> tuple[int, str]:
        async with self.session.post(url, data=raw, headers=headers) as resp:
            return resp.status, (await resp.read()).decode("utf-8", "replace")

    def __call__(self, url: str, raw: bytes, headers: dict[str, str]) -> tuple[int, str]:
        return asyncio.run_coroutine_threadsafe(self._post(url, raw, headers), self.loop).result(60)


def escaped(caplog) -> list[str]:
    """Log records that mean something escaped a handler: ERROR and worse, or anything with a traceback."""
    return [
        f"{r.name}: {r.getMessage()[:300]}"
        for r in caplog.records
        if r.levelno >= logging.ERROR or r.exc_info or "Traceback" in r.getMessage()
    ]


async def run_in_thread(test: Callable[[], None]) -> None:
    await asyncio.to_thread(test)


@pytest.mark.parametrize("platform", ["telegram", "vk", "whatsapp"])
async def test_mutated_payloads_are_never_a_500(hooks: Hooks, platform: str, caplog):
    caplog.set_level(logging.WARNING)
    bases = bases_for(platform, hooks)
    url, limit, allowed = hooks.urls[platform], LIMITS[platform], ALLOWED[platform]
    seen: Counter[int] = Counter()

    async with aiohttp.ClientSession() as session:
        post = Poster(hooks.loop, session)

        @FUZZ
        @given(data=st.data())
        def fuzz(data: st.DataObject) -> None:
            doc, mutations = mutated(data, bases, lambda doc: renewed(platform, doc))
            if platform == "vk" and isinstance(doc, dict) and data.draw(st.integers(0, 9), label="keep secret"):
                doc["secret"] = VK_SECRET  # nine in ten past the secret: the fuzz is about the content
            raw, mangled = body(data, doc)
            status, text = post(url, raw, headers_for(platform, raw, hooks))
            seen[status] += 1
            assert status < 500, f"{platform}: {status} {text!r} for {raw[:400]!r}"
            if len(raw) > limit:
                assert status == 413, (status, len(raw))
                return
            assert status in allowed, f"{platform}: {status} {text!r} for {raw[:400]!r}"
            if not mutations and not mangled:  # a valid payload is taken
                assert status == 200, (status, text, raw[:400])
            if platform == "vk" and status == 200:
                assert text in ("ok", VK_CODE), text

        await run_in_thread(fuzz)
    queued = await hooks.bot.core.outbox.pending()
    print(f"\n{platform}: {sum(seen.values())} posts, answers {dict(sorted(seen.items()))}, {queued} messages queued")
    assert not escaped(caplog), escaped(caplog)[:5]
    assert seen[200] > EXAMPLES // 10, seen  # the mutations leave much of it usable: the fuzz reaches the desk


@pytest.mark.parametrize("platform", ["telegram", "vk", "whatsapp"])
async def test_without_the_secret_anything_is_a_403_or_413(hooks: Hooks, platform: str, caplog):
    bases = bases_for(platform, hooks)
    url = hooks.urls[platform]
    async with aiohttp.ClientSession() as session:
        post = Poster(hooks.loop, session)

        @settings(FUZZ, max_examples=60)
        @given(data=st.data())
        def fuzz(data: st.DataObject) -> None:
            doc, _ = mutated(data, bases)
            if platform == "vk" and isinstance(doc, dict):
                doc["secret"] = data.draw(st.sampled_from(["", "wrong", 123, None, [VK_SECRET]]), label="secret")
            raw, _ = body(data, doc)
            status, text = post(url, raw, headers_for(platform, raw, hooks, good=False))
            if len(raw) > LIMITS[platform] and platform != "telegram":
                assert status == 413
            elif platform == "vk":  # the secret is in the body: only what parses can be refused for it
                confirmation = isinstance(doc, dict) and doc.get("type") == "confirmation"
                assert status in ({200, 400, 403} if confirmation else {400, 403}), (status, text, raw[:300])
            else:  # checked before the body is parsed
                assert status == 403, (status, text, raw[:300])

        await run_in_thread(fuzz)
    assert not escaped(caplog), escaped(caplog)[:5]
    assert await hooks.bot.core.outbox.pending() == 0  # nothing refused was taken in


# what HTTP lets through in a header (no control characters: the HTTP parser refuses those before any handler)
header_values = st.text(st.characters(codec="utf-8", exclude_categories=["Cc", "Cs"]), max_size=80) | st.sampled_from(
    ["", "sha256=", "sha256=" + "0" * 64, "SHA256=ab", TG_SECRET + " ", " " + TG_SECRET, "sha256=é", TG_SECRET + "é"]
)


@pytest.mark.parametrize("platform", ["telegram", "whatsapp"])
async def test_odd_secret_and_signature_headers_are_a_403(hooks: Hooks, platform: str, caplog):
    header = "X-Telegram-Bot-Api-Secret-Token" if platform == "telegram" else "X-Hub-Signature-256"
    raw = json.dumps(bases_for(platform, hooks)[0]).encode()
    async with aiohttp.ClientSession() as session:
        post = Poster(hooks.loop, session)

        @settings(FUZZ, max_examples=100)
        @given(value=header_values.filter(lambda v: v.strip() != TG_SECRET))
        def fuzz(value: str) -> None:
            status, text = post(hooks.urls[platform], raw, {"Content-Type": "application/json", header: value})
            assert status == 403, (value, status, text)

        await run_in_thread(fuzz)
    assert not escaped(caplog), escaped(caplog)[:5]


async def test_whatsapp_verification_never_fails_and_echoes_only_for_the_token(hooks: Hooks, caplog):
    url = hooks.urls["whatsapp"]
    params = st.dictionaries(
        st.sampled_from(["hub.mode", "hub.verify_token", "hub.challenge", "x"]),
        header_values | st.sampled_from(["subscribe", "verify-me"]),
        max_size=4,
    )
    async with aiohttp.ClientSession() as session:

        async def get(query: dict[str, str]) -> tuple[int, str]:
            async with session.get(url, params=query) as resp:
                return resp.status, await resp.text()

        @settings(FUZZ, max_examples=150)
        @given(query=params)
        def fuzz(query: dict[str, str]) -> None:
            status, text = asyncio.run_coroutine_threadsafe(get(query), hooks.loop).result(60)
            ok = query.get("hub.mode") == "subscribe" and query.get("hub.verify_token") == "verify-me"
            assert (status, text) == ((200, query.get("hub.challenge", "")) if ok else (403, "verification failed"))

        await run_in_thread(fuzz)
    assert not escaped(caplog), escaped(caplog)[:5]


@pytest.mark.parametrize("platform", ["telegram", "vk", "whatsapp"])
async def test_bodies_over_the_limit_are_413(hooks: Hooks, platform: str):
    raw = b'{"x": "' + b"a" * LIMITS[platform] + b'"}'
    async with aiohttp.ClientSession() as s:
        headers = headers_for(platform, raw, hooks)
        async with s.post(hooks.urls[platform], data=raw, headers=headers) as resp:
            assert resp.status == 413

        async def chunks():  # no Content-Length: refused while it arrives
            for _ in range(LIMITS[platform] // (64 * 1024) + 2):
                yield b" " * (64 * 1024)

        async with s.post(hooks.urls[platform], data=chunks(), headers=headers) as resp:
            assert resp.status == 413  # (the signature is checked on a body that was read in full)


async def test_the_sink_failing_is_the_one_500(hooks: Hooks, caplog):
    """Redis away (the sink raises): 500, so that the platform delivers the update again; bad input still gets
    its 4xx (or 200 and a skip), without reaching the sink."""
    calls: list[Any] = []

    async def failing_sink(event: Any) -> None:
        calls.append(event)
        raise ConnectionError("Redis is away")

    app = web.Application()
    for channel in hooks.bot.channels.values():
        app.add_routes(channel.routes(failing_sink))
    server = TestServer(app)
    await server.start_server()
    try:
        good = {
            "telegram": hooks.tg.customer_says(7101, "Как сбросить пароль?"),
            "vk": {**hooks.vk.user_writes(880101, "Как сбросить пароль?"), "secret": VK_SECRET},
            "whatsapp": hooks.wa.payload("79160000101", "Maria", {"type": "text", "text": {"body": "Привет"}}),
        }
        bad = {
            "telegram": {"update_id": "x", "message": []},
            "vk": {**good["vk"], "object": {"message": {"id": "x", "from_id": []}}},
            "whatsapp": [good["whatsapp"]],
        }
        async with aiohttp.ClientSession() as s:
            for platform in ("telegram", "vk", "whatsapp"):
                url = str(server.make_url(f"/webhooks/{platform}"))
                for doc, expected in ((bad[platform], {400, 200}), (good[platform], {500})):
                    raw = json.dumps(doc).encode()
                    async with s.post(url, data=raw, headers=headers_for(platform, raw, hooks)) as resp:
                        assert resp.status in expected, (platform, resp.status, await resp.text())
    finally:
        await server.close()
    assert len(calls) == 3  # only the good ones reached the sink
    failed = [r for r in caplog.records if r.levelno >= logging.ERROR and r.exc_info]
    assert len(failed) == 3 and all("Redis is away" in str(r.exc_info[1]) for r in failed)


async def test_whatsapp_timestamps_of_any_size_are_never_a_500(hooks: Hooks, caplog):
    """The timestamp sets the reply window that the desk shows operators as a date: one far out of range (the year
    33658) must be refused by the model, not crash the desk."""
    wa = hooks.wa
    stamps = (
        st.integers(-(2**40), 2**64)
        | st.from_regex(r"\A[0-9]{1,14}\Z")
        | st.sampled_from(["999999999999", "253402300800", "4102444799", "0", "1e3", "", " 1"])
    )
    async with aiohttp.ClientSession() as session:
        post = Poster(hooks.loop, session)

        @settings(FUZZ, max_examples=80)
        @given(stamp=stamps)
        def fuzz(stamp: int | str) -> None:
            doc = renewed(
                "whatsapp",
                wa.payload(f"7926{next(_wa_ids):07d}", "Maria", {"type": "text", "text": {"body": "/operator"}}),
            )
            doc["entry"][0]["changes"][0]["value"]["messages"][0]["timestamp"] = stamp
            raw = json.dumps(doc).encode()
            status, text = post(hooks.urls["whatsapp"], raw, headers_for("whatsapp", raw, hooks))
            assert status == 200, (stamp, status, text)

        await run_in_thread(fuzz)
    assert not escaped(caplog), escaped(caplog)[:5]


# ---------------------------------------------------------------------------------------------- the rules, one by one
async def _post_json(hooks: Hooks, platform: str, doc: Any) -> tuple[int, str]:
    raw = json.dumps(doc).encode()
    async with (
        aiohttp.ClientSession() as s,
        s.post(hooks.urls[platform], data=raw, headers=headers_for(platform, raw, hooks)) as resp,
    ):
        return resp.status, await resp.text()


def _warnings(caplog, needle: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and needle in r.getMessage()]


async def test_whatsapp_answers_200_to_a_signed_poison_names_it_and_takes_the_rest(hooks: Hooks, caplog):
    wa = hooks.wa
    assert await _post_json(hooks, "whatsapp", [1, 2]) == (200, "ok")
    assert _warnings(caplog, "WhatsApp webhook: unusable body skipped (answered 200): not a JSON object")
    assert await _post_json(hooks, "whatsapp", {"object": "page", "entry": []}) == (200, "ok")
    assert _warnings(caplog, "object 'page' is not whatsapp_business_account")
    doc = wa.payload("79160000201", "Maria", {"type": "text", "text": {"body": "Как сбросить пароль?"}})
    value = doc["entry"][0]["changes"][0]["value"]
    good = value["messages"][0]
    value["messages"] = [{**good, "id": "wamid.BAD", "text": {"body": 5}}, good]
    assert await _post_json(hooks, "whatsapp", doc) == (200, "ok")
    assert _warnings(caplog, "WhatsApp message 0 'wamid.BAD' skipped, unusable: text.body")
    assert await hooks.bot.core.outbox.pending() == 1  # the good message was taken (and answered)


async def test_vk_envelope_errors_are_400_or_403_and_an_unusable_event_is_ok_and_named(hooks: Hooks, caplog):
    vk = hooks.vk
    update = {**vk.user_writes(880201, "Как сбросить пароль?"), "secret": VK_SECRET}
    assert (await _post_json(hooks, "vk", {**update, "v": 5.199}))[0] == 400
    assert (await _post_json(hooks, "vk", {**update, "group_id": str(vk.group_id)}))[0] == 400
    assert (await _post_json(hooks, "vk", {**update, "group_id": True}))[0] == 400
    assert (await _post_json(hooks, "vk", {k: v for k, v in update.items() if k != "group_id"}))[0] == 403
    assert (await _post_json(hooks, "vk", {**update, "secret": VK_SECRET + "x"}))[0] == 403
    junk = {**update, "event_id": "evjunk", "object": {"message": {"id": 1, "from_id": "x", "peer_id": 1}}}
    assert await _post_json(hooks, "vk", junk) == (200, "ok")
    assert _warnings(caplog, "VK message_new evjunk skipped, unusable")
    assert await _post_json(hooks, "vk", {**update, "type": "group_join"}) == (200, "ok")
    assert await hooks.bot.core.outbox.pending() == 0
    photo = {"type": "photo", "photo": {"sizes": "big"}}  # one unusable attachment: skipped, the message taken
    update["object"]["message"]["attachments"] = [photo]
    assert await _post_json(hooks, "vk", update) == (200, "ok")
    assert _warnings(caplog, "VK attachment 0 skipped, unusable: photo.sizes")
    assert await hooks.bot.core.outbox.pending() == 1


async def test_telegram_answers_400_to_what_is_not_an_update(hooks: Hooks):
    said = hooks.tg.customer_says(7201, "Как сбросить пароль?")
    assert (await _post_json(hooks, "telegram", {**said, "update_id": "x"}))[0] == 400
    assert (await _post_json(hooks, "telegram", {**said, "message": {**said["message"], "text": 5}}))[0] == 400
    assert (await _post_json(hooks, "telegram", [said]))[0] == 400
    assert await hooks.bot.core.outbox.pending() == 0
    assert (await _post_json(hooks, "telegram", said))[0] == 200
    assert await hooks.bot.core.outbox.pending() == 1
