"""The adapters' shared kit: the one text splitter, button degradation, error tables, the webhook wrapper."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bots.kit import ErrorTable, HttpSession, render, split_text, webhook
from bots.ports import Capabilities
from core.messages import Button, customer, to_customer


# ---------------------------------------------------------------------------------------------- split_text
def test_an_empty_text_is_no_part_at_all():
    assert split_text("", 10) == []


def test_a_text_of_exactly_the_size_is_one_part():
    assert split_text("a" * 10, 10) == ["a" * 10]
    assert split_text("a" * 11, 10) == ["a" * 10, "a"]


def test_cuts_at_a_line_break_then_a_space_then_anywhere():
    assert split_text("aaaa\nbbbb cc", 10) == ["aaaa", "bbbb cc"]
    assert split_text("aaaa bbbb cc", 10) == ["aaaa bbbb", "cc"]
    assert split_text("a" * 25, 10) == ["a" * 10, "a" * 10, "a" * 5]
    # a break exactly at the boundary: the part is full, the break is dropped
    assert split_text("a" * 10 + "\n" + "b" * 3, 10) == ["a" * 10, "b" * 3]


@pytest.mark.parametrize("size", [1, 7, 10, 64])
def test_nothing_is_lost_but_the_breaks_cut_on(size):
    text = "Первая строка\nвторая  строка с пробелами\n\n" + "x" * 150 + " конец\n"
    parts = split_text(text, size)
    assert all(0 < len(p) <= size for p in parts)
    # every character comes back, in order, except line breaks / spaces a cut landed on
    rebuilt = iter(text)
    for part in parts:
        for ch in part:
            while (skipped := next(rebuilt)) != ch:
                assert skipped in "\n "
    assert all(ch in "\n " for ch in rebuilt)


# ---------------------------------------------------------------------------------------------- render
def out(n: int, label: str = "Option", text: str = "Pick"):
    buttons = tuple(Button(f"{label} {i}", f"p:{i}") for i in range(1, n + 1))
    return to_customer(customer("vk", "1"), text, buttons=buttons)


def test_render_keeps_buttons_a_channel_can_show():
    text, shown, numbered = render(out(3), Capabilities(buttons=10, button_label_max=20))
    assert (text, [b.payload for b in shown], numbered) == ("Pick", ["p:1", "p:2", "p:3"], False)
    assert render(to_customer(customer("vk", "1"), "plain"), Capabilities()) == ("plain", (), False)


def test_render_numbers_the_buttons_when_there_are_too_many_or_none_allowed():
    text, shown, numbered = render(out(11), Capabilities(buttons=10))
    assert shown == () and numbered and text.startswith("Pick\n1. Option 1\n") and text.endswith("\n11. Option 11")
    text, shown, numbered = render(out(2), Capabilities(buttons=0))
    assert (text, shown, numbered) == ("Pick\n1. Option 1\n2. Option 2", (), True)


def test_render_numbers_the_buttons_when_a_label_is_too_long():
    text, shown, numbered = render(out(2, label="x" * 30), Capabilities(buttons=10, button_label_max=20))
    assert shown == () and numbered and f"\n2. {'x' * 30} 2" in text


# ---------------------------------------------------------------------------------------------- ErrorTable
TABLE = ErrorTable(
    permanent={901: "the customer has not allowed messages"},
    rate={6: 1.5},
    retryable={10},
    platform="VK",
    default_rate=7.0,
)


def test_error_table_maps_codes():
    e = TABLE.error(901, "Can't send")
    assert e.permanent and e.retry_after is None
    assert e.reason == "not delivered: the customer has not allowed messages (VK error 901)"
    e = TABLE.error(6, "Too many requests")
    assert not e.permanent and e.retry_after == 1.5 and "VK rate limit" in e.reason
    e = TABLE.error(10, "Internal")
    assert not e.permanent and e.retry_after is None and e.reason == "VK error 10: Internal"
    e = TABLE.error(3, "Unknown method")
    assert e.permanent and e.reason == "not delivered: VK error 3: Unknown method"


def test_error_table_uses_the_http_status_when_the_code_says_nothing():
    assert TABLE.error(0, "slow down", status=429).retry_after == 7.0
    e = TABLE.error(0, "bad gateway", status=502)
    assert not e.permanent and e.reason == "VK error 502: bad gateway"
    assert TABLE.error(0, "", status=404).permanent


# ---------------------------------------------------------------------------------------------- webhook
async def _client(handler, **kw) -> TestClient:
    app = web.Application()
    app.router.add_post("/hook", webhook(handler, **kw))
    client = TestClient(TestServer(app))
    await client.start_server()
    return client


async def test_webhook_answers_ok_text_or_the_handlers_response():
    seen = []

    async def handler(body):
        seen.append(body)
        return {"plain": None, "text": "c0de", "refuse": web.Response(status=403, text="no")}[body["kind"]]

    client = await _client(handler)
    try:
        for kind, expected in [("plain", (200, "ok")), ("text", (200, "c0de")), ("refuse", (403, "no"))]:
            resp = await client.post("/hook", json={"kind": kind})
            assert (resp.status, await resp.text()) == expected
        assert [b["kind"] for b in seen] == ["plain", "text", "refuse"]
    finally:
        await client.close()


async def test_webhook_refuses_large_bodies_bad_json_and_non_objects():
    seen = []

    async def handler(body):
        seen.append(body)

    client = await _client(handler, max_body=100)
    try:
        assert (await client.post("/hook", data=b"{" + b" " * 200 + b"}")).status == 413

        async def chunks():  # no Content-Length: refused while it arrives
            for _ in range(10):
                yield b" " * 50

        assert (await client.post("/hook", data=chunks())).status == 413
        assert (await client.post("/hook", data=b"{not json")).status == 400
        assert (await client.post("/hook", data=b"\xff\xfe")).status == 400
        assert (await client.post("/hook", data=b"[1, 2]")).status == 400
        assert (await client.post("/hook", data=b'"text"')).status == 400
        assert not seen
    finally:
        await client.close()


async def test_webhook_answers_500_when_the_sink_fails_so_the_platform_retries():
    async def handler(body):
        raise RuntimeError("Redis is away")

    client = await _client(handler)
    try:
        assert (await client.post("/hook", json={"a": 1})).status == 500
    finally:
        await client.close()


async def test_webhook_check_runs_on_the_raw_body_before_parsing():
    seen = []

    def signed(raw: bytes, request: web.Request):
        good = hmac.new(b"s", raw, hashlib.sha256).hexdigest()
        return None if request.headers.get("X-Sig") == good else web.Response(status=403, text="bad signature")

    async def handler(body):
        seen.append(body)

    client = await _client(handler, check=signed)
    try:
        assert (await client.post("/hook", data=b"not json at all")).status == 403  # 403, not 400
        raw = b'{"a": 1}'
        sig = hmac.new(b"s", raw, hashlib.sha256).hexdigest()
        assert (await client.post("/hook", data=raw, headers={"X-Sig": sig})).status == 200
        assert seen == [{"a": 1}]
    finally:
        await client.close()


async def test_http_session_is_created_lazily_and_closed():
    http = HttpSession(total=5, headers={"Authorization": "Bearer x"})
    session = http()
    assert http() is session and session.headers["Authorization"] == "Bearer x"
    await http.close()
    assert session.closed
    again = http()
    assert again is not session
    await http.close()
