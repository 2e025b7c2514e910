"""The built-in web server: webhooks of every configured channel, GET /healthz and GET /metrics (Prometheus)."""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import web

from bots import metrics
from core.store import Store


def make_app(store: Store, routes: Iterable[web.RouteDef] = ()) -> web.Application:
    app = web.Application(client_max_size=8 * 1024 * 1024)

    async def healthz(request: web.Request) -> web.Response:
        if await store.ping():
            return web.json_response({"status": "ok", "redis": "ok"})
        return web.json_response({"status": "unavailable", "redis": "down"}, status=503)

    async def prometheus(request: web.Request) -> web.Response:
        await metrics.collect_from_redis(store)
        return web.Response(body=metrics.render(), headers={"Content-Type": metrics.CONTENT_TYPE_LATEST})

    app.add_routes([web.get("/healthz", healthz), web.get("/metrics", prometheus), *routes])
    return app


async def start(app: web.Application, host: str, port: int) -> web.AppRunner:
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
