"""Shared by the API stand-ins: serving an app on a free local port, streaming a large file, dropping a connection,
waiting for a message sent to one chat."""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
from collections.abc import Callable
from typing import Any

from aiohttp import web

PORT_BLOCK = 2000
_tried = itertools.count()


def free_port() -> int:
    """A loopback port nothing listens on, for a server a test starts (the bot, a stand-in, redis-server).

    Taken below Linux's ephemeral range (32768 and up), from which outgoing connections take their ports, and
    from a block of its own per pytest-xdist worker: a port picked here is not taken by another worker or by a
    connection before the server binds it."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    base = 20000 + (int(worker) % 6 if worker.isdigit() else 0) * PORT_BLOCK
    for _ in range(PORT_BLOCK):
        port = base + next(_tried) % PORT_BLOCK
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue  # in use, or still closing
            return port
    raise RuntimeError(f"no free port in {base}..{base + PORT_BLOCK - 1}")


async def stream_big_file(request: web.Request, size: int, with_length: bool) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
    if with_length:
        resp.content_length = size
    else:
        resp.enable_chunked_encoding()
    await resp.prepare(request)
    chunk = bytes(1024 * 1024)
    try:
        for offset in range(0, size, len(chunk)):
            await resp.write(chunk[: size - offset])
        await resp.write_eof()
    except (ConnectionResetError, RuntimeError):
        pass  # the client stopped reading
    return resp


def drop_connection(request: web.Request) -> None:
    """Close the client's connection at once, unanswered: it sees the server disconnect (a lost reply when the
    call was processed first)."""
    if request.transport is not None:
        request.transport.abort()


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    """Start ``app`` on 127.0.0.1 on a free port: (its runner, for cleanup; its base URL)."""
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


async def first_sent(
    sent: Callable[[], list[Any]],
    predicate: Callable[[Any], bool],
    within: float,
    after: int,
    missing: Callable[[], str],
) -> Any:
    """A barrier: the first of ``sent()`` (after the first ``after``) that matches ``predicate``, polled every 50 ms;
    AssertionError with ``missing()`` after ``within`` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        for m in sent()[after:]:
            if predicate(m):
                return m
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(missing())
        await asyncio.sleep(0.05)
