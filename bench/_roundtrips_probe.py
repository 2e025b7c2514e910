"""The measuring side of the round-trip bench (``bench/roundtrips.py``): Redis counters read from the outside,
the Telegram Bot API stand-in that samples them when a watched call of the bot arrives, and ``Probe``, which
starts the private ``redis-server``, the stand-in and the bot, calibrates what its own INFO calls add to the
counters, waits for the bot's calls (failing with the bot's log tail if the bot exits or a wait times out) and
stops everything at the end. ``bench/roundtrips.py`` builds the samples and the run on top of it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from aiohttp import web

from bench._roundtrips_procs import STAFF, TOKEN, spawn_bot, spawn_monitor, spawn_redis, stop
from tests.fakes.telegram_api import FakeTelegram, free_port


@dataclass
class Snap:
    t: float  # perf_counter when INFO returned
    reads: int
    commands: int
    connections: int


@dataclass
class Sample:
    kind: str  # faq | relay
    latency: float  # s, push -> the stand-in received the bot's call
    reads_send: int  # raw reads (own INFO reads removed) push -> call received
    dt_send: float
    reads_total: int  # raw reads push -> call received + settle
    dt_total: float
    commands_total: int
    connections: int  # new Redis connections during the window
    api_calls: int  # Bot API calls (besides getUpdates) during the window


@dataclass
class Watch:
    match: Callable[[str, dict], bool]
    future: asyncio.Future


class WatchedTelegram(FakeTelegram):
    """The stand-in, plus: when a call matches a watch, Redis is sampled before the bot gets its answer."""

    def __init__(self, *args: Any, **kw: Any):
        super().__init__(*args, **kw)
        self.watches: list[Watch] = []
        self.snapshot: Callable[[], Any] | None = None

    async def _params(self, request: web.Request) -> dict[str, Any]:
        params = await super()._params(request)
        request["bench_params"] = params
        return params

    async def _api(self, request: web.Request) -> web.Response:
        arrived = time.perf_counter()
        response = await super()._api(request)
        if self.watches and response.status == 200:
            method = request.match_info.get("method", "")
            params = request.get("bench_params") or {}
            for w in list(self.watches):
                if not w.future.done() and w.match(method, params):
                    snap = await self.snapshot() if self.snapshot else None
                    w.future.set_result((arrived, snap))
                    self.watches.remove(w)
        return response

    def watch(self, match: Callable[[str, dict], bool]) -> asyncio.Future:
        fut = asyncio.get_running_loop().create_future()
        self.watches.append(Watch(match, fut))
        return fut

    def api_calls(self) -> int:
        return sum(1 for m, _ in self.calls if m != "getUpdates")


@dataclass
class Probe:
    """The processes of one run and the Redis counters; ``Bench`` of ``bench/roundtrips.py`` measures with it."""

    repo: Path
    args: argparse.Namespace
    fake: WatchedTelegram | None = None
    redis: aioredis.Redis | None = None
    bot: subprocess.Popen | None = None
    bot_log: Path | None = None
    own_reads: int = 1
    own_commands: int = 1
    notes: list[str] = field(default_factory=list)
    redis_proc: subprocess.Popen | None = None
    monitor_proc: subprocess.Popen | None = None
    startup: float = 0.0

    # ------------------------------------------------------------------ Redis counters
    async def snap(self) -> Snap:
        assert self.redis is not None
        info = await asyncio.wait_for(self.redis.info("stats"), 5)
        return Snap(
            time.perf_counter(),
            int(info["total_reads_processed"]),
            int(info["total_commands_processed"]),
            int(info["total_connections_received"]),
        )

    def reads(self, a: Snap, b: Snap) -> int:
        return b.reads - a.reads - self.own_reads

    def commands(self, a: Snap, b: Snap) -> int:
        return b.commands - a.commands - self.own_commands

    async def commandstats(self) -> dict[str, int]:
        assert self.redis is not None
        raw = await asyncio.wait_for(self.redis.info("commandstats"), 5)
        out: dict[str, int] = {}
        for key, value in raw.items():
            name = key.removeprefix("cmdstat_")
            if isinstance(value, dict):
                out[name] = int(value.get("calls", 0))
            else:  # an unparsed "calls=1,usec=..." string
                out[name] = int(str(value).split("calls=")[1].split(",")[0])
        return out

    # ------------------------------------------------------------------ processes
    def check_bot(self) -> None:
        if self.bot is not None and self.bot.poll() is not None:
            raise RuntimeError(f"the bot exited with status {self.bot.returncode}\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        if self.bot_log is None or not self.bot_log.exists():
            return ""
        text = self.bot_log.read_text(errors="replace").splitlines()
        return "--- bot log (tail) ---\n" + "\n".join(text[-lines:])

    async def until(self, predicate: Callable[[], Any], timeout: float, what: str) -> Any:  # noqa: ASYNC109
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            self.check_bot()
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out after {timeout}s waiting for {what}\n{self.log_tail()}")
            await asyncio.sleep(0.01)

    async def wait_call(self, fut: asyncio.Future, what: str) -> tuple[float, Snap]:
        deadline = time.monotonic() + self.args.timeout
        while not fut.done():
            self.check_bot()
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out after {self.args.timeout}s waiting for {what}\n{self.log_tail()}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(fut), 0.05)
        return fut.result()

    # ------------------------------------------------------------------ start and stop
    async def start(self, workdir: Path) -> None:
        port = free_port()
        self.redis_proc = spawn_redis(port, workdir)
        self.redis = aioredis.Redis(host="127.0.0.1", port=port, single_connection_client=True)
        deadline = time.monotonic() + 10
        while True:
            try:
                await asyncio.wait_for(self.redis.ping(), 1)
                break
            except Exception:
                if time.monotonic() > deadline or self.redis_proc.poll() is not None:
                    raise RuntimeError("the private redis-server did not start") from None
                await asyncio.sleep(0.05)
        # calibration: what one INFO of ours adds to the counters (nothing else talks to this server yet)
        a = await self.snap()
        b = await self.snap()
        c = await self.snap()
        self.own_reads = max(b.reads - a.reads, c.reads - b.reads)
        self.own_commands = max(b.commands - a.commands, c.commands - b.commands)

        if self.args.monitor:  # every command the bot sends, for reading (MONITOR adds no reads of the bot's)
            self.monitor_proc = spawn_monitor(port, self.args.monitor)
            await asyncio.sleep(0.3)

        self.fake = await WatchedTelegram(TOKEN, scale=self.args.scale, staff_chat=STAFF).start()
        self.fake.snapshot = self.snap
        if (self.repo / ".env").exists():
            self.notes.append(f"{self.repo / '.env'} exists: settings the bench does not set come from it")
        self.bot_log = workdir / "bot.log"
        self.bot = spawn_bot(self.repo, port, self.fake.url, self.bot_log)
        t0 = time.perf_counter()
        await self.until(
            lambda: any(m == "getUpdates" for m, _ in self.fake.calls), self.args.timeout * 2, "the bot to poll"
        )
        self.startup = time.perf_counter() - t0
        await asyncio.sleep(0.5)  # its other loops are up too

    async def close(self) -> None:
        """Stop the bot, the stand-in, the monitor and the redis-server, whatever happened before."""
        try:
            await asyncio.to_thread(stop, self.bot)
        finally:
            try:
                if self.fake is not None:
                    await self.fake.close()
                if self.redis is not None:
                    with contextlib.suppress(Exception):
                        await self.redis.aclose()
            finally:
                stop(self.monitor_proc, 2.0)
                stop(self.redis_proc, 2.0)
