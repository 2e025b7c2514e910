"""Shared by the API stand-ins: a large file streamed in chunks, with or without Content-Length."""

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
