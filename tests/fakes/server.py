"""Shared by the API stand-ins: serving an app on a free local port, streaming a large file, dropping a connection."""

from __future__ import annotations

from aiohttp import web


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
