"""Bench: Redis round trips and latency of the real bot, measured from the outside.

    cd /work/main && .venv/bin/python bench/roundtrips.py [--repo PATH] [--json] [--monitor FILE]
        [--faq 20] [--relay 17] [--deferred 5] [--idle 10] [--settle 0.3] [--deadline 165]

e.g. ``.venv/bin/python bench/roundtrips.py --repo /work/before`` (about 2 min 15 s; 2.5 min at most).

Nothing of the bot is imported: the bench starts its own ``redis-server`` (a free loopback port, no
persistence), the Telegram Bot API stand-in ``tests/fakes/telegram_api.py`` of the repository holding this
script (in this process) and ``python -m bots run`` of ``--repo`` as a subprocess (cwd and ``PYTHONPATH``
= ``--repo``, polling the stand-in). So it measures any version of the bot the same way, however it is built
inside. Everything is stopped at the end, also on errors and Ctrl-C.

A round trip is one network read by the Redis server (``total_reads_processed`` of ``INFO stats``): one
command, one pipeline or one Lua call sent at once counts once. The bench reads the counter on its own
connection and subtracts the reads its INFO calls cause (calibrated before the bot starts). When a watched
Bot API call arrives, the stand-in samples the counter before it answers, so the bot is held at that point.

Figures:

* idle: round trips per second of a bot with nothing to do (a quiet window of ``--idle`` s), and the
  commands behind them (``INFO commandstats``; commands run inside Lua scripts are listed too);
* FAQ answer: a new customer asks a question the shipped FAQ answers with confidence; round trips from the
  push until the stand-in receives the answer (``to send``), and until ``--settle`` s later (``total``: the
  book-keeping after the send included); the idle rate times the window is subtracted from both;
* relay into case: a customer who asked for a person (``/operator``: topic, card and notice seen, then
  ``--settle``) writes again; round trips until the message arrives in the case's topic, and ``--settle`` later;
* 2 questions, 1 deferred: a customer sends two questions at once; the second answer has to wait in the
  outbox for Telegram's 1 message/s per chat; round trips for both, and how late after that second the
  deferred answer leaves ("a queued message still leaves within X ms": how soon the outbox notices a
  message that has become due; the bot's own safety margin is included);
* latency: from pushing the update to the stand-in receiving the bot's call (includes the long-poll answer).

Every sample is a different customer, one at a time; median and p90 (nearest rank). The bot keeps
Telegram's limits itself (20 messages/min into the staff group, a created topic counts; 3 group sends per
relay sample), so the relay samples are paced to never wait for that budget; the idle window and the other
samples run while the relays wait, and the rest of the wait is measured as extra idle time (the idle rate
subtracted is the one over all idle time). Anything that would end after ``--deadline`` s is skipped (the
counts say so). ``--monitor FILE`` writes every command the bot sends (``redis-cli monitor``), to read.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from aiohttp import web

HERE_REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE_REPO))

from tests.fakes.telegram_api import FakeTelegram, free_port  # noqa: E402

TOKEN = "123456:BENCH-roundtrips"
STAFF = -1009000000002
FAQ_TEXT = "Как сбросить пароль?"  # `python -m bots faq ask` on the shipped FAQ: band answer, 0.94
FAQ_TEXT_2 = "Где мой заказ?"  # band answer, 0.92
HANDOFF_TEXT = "/operator"
GROUP_LIMIT = (20, 60.0)  # Telegram: messages into one group per minute (a created topic counts)
PER_CHAT_WINDOW = 1.0  # Telegram: one message per second into one private chat
GROUP_SAFETY = 1.5  # seconds added to the group window when pacing (the bot keeps its own margin)
SEND_METHODS = {"sendMessage", "copyMessage", "sendPhoto", "sendDocument", "forwardMessage"}


# ---------------------------------------------------------------------------------------------- helpers
def pct(values: list[float], q: float) -> float:
    """The q-quantile (nearest rank on the sorted values)."""
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


def summary(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"n": 0, "median": None, "p90": None, "min": None, "max": None}
    return {
        "n": len(values),
        "median": round(statistics.median(values), 2),
        "p90": round(pct(values, 0.9), 2),
        "min": round(min(values), 2),
        "max": round(max(values), 2),
    }


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
class Bench:
    repo: Path
    args: argparse.Namespace
    fake: WatchedTelegram | None = None
    redis: aioredis.Redis | None = None
    bot: subprocess.Popen | None = None
    bot_log: Path | None = None
    own_reads: int = 1
    own_commands: int = 1
    samples: list[Sample] = field(default_factory=list)
    idle_windows: list[tuple[int, int, float, str]] = field(default_factory=list)  # reads, commands, s, label
    idle_commands: dict[str, float] = field(default_factory=dict)
    group_units: float = 3.0  # group sends per relay sample (topic + card + relay); learned on the way
    notes: list[str] = field(default_factory=list)
    next_uid: int = 810_000
    redis_proc: subprocess.Popen | None = None
    monitor_proc: subprocess.Popen | None = None
    startup: float = 0.0
    elapsed: float = 0.0

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

    def group_sends(self) -> list[float]:
        """When the bot's sends into the staff group reached the stand-in (topics included)."""
        assert self.fake is not None
        return sorted(s.ts for s in self.fake.sent if s.chat_id == STAFF)

    def group_room_at(self, need: int) -> float:
        """The monotonic time from which ``need`` more group sends fit in the Telegram limit."""
        count, per = GROUP_LIMIT
        window = per + GROUP_SAFETY  # the bot enforces the real window whatever the stand-in's scale
        now = time.monotonic()
        recent = [t for t in self.group_sends() if t > now - window]
        excess = len(recent) + need - count
        if excess <= 0:
            return now
        return recent[excess - 1] + window

    # ------------------------------------------------------------------ one customer
    def uid(self) -> int:
        self.next_uid += 1
        return self.next_uid

    async def measure(self, kind: str, uid: int, text: str, match: Callable[[str, dict], bool]) -> Sample:
        assert self.fake is not None
        fut = self.fake.watch(match)
        calls0 = self.fake.api_calls()
        s0 = await self.snap()
        self.fake.customer_says(uid, text, name=f"Client {uid}")
        arrived, s1 = await self.wait_call(fut, f"the bot's {kind} call for customer {uid}")
        await asyncio.sleep(self.args.settle)
        s2 = await self.snap()
        return Sample(
            kind,
            latency=arrived - s0.t,
            reads_send=self.reads(s0, s1),
            dt_send=s1.t - s0.t,
            reads_total=self.reads(s0, s2) - self.own_reads,
            dt_total=s2.t - s0.t,
            commands_total=self.commands(s0, s2) - self.own_commands,
            connections=s2.connections - s0.connections,
            api_calls=self.fake.api_calls() - calls0,
        )

    async def faq_sample(self, record: bool = True) -> Sample:
        uid = self.uid()
        sample = await self.measure(
            "faq", uid, FAQ_TEXT, lambda m, p: m in SEND_METHODS and _int(p.get("chat_id")) == uid
        )
        if record:
            self.samples.append(sample)
        return sample

    async def relay_sample(self, record: bool = True) -> Sample:
        assert self.fake is not None
        fake = self.fake
        uid = self.uid()
        before = len(self.group_sends())
        seen = len(fake.sent_to(uid))
        fake.customer_says(uid, HANDOFF_TEXT, name=f"Client {uid}")

        def opened() -> int | None:
            topic = fake.topic_named(f"Client {uid}")
            if topic is None or not fake.topic_messages(topic.thread_id):
                return None
            return topic.thread_id if len(fake.sent_to(uid)) > seen else None

        thread = await self.until(opened, self.args.timeout, f"the topic, card and notice of customer {uid}")
        await asyncio.sleep(self.args.settle)
        sample = await self.measure(
            "relay",
            uid,
            f"Заказ {uid} не пришёл, помогите",
            lambda m, p: (
                m in SEND_METHODS and _int(p.get("chat_id")) == STAFF and _int(p.get("message_thread_id")) == thread
            ),
        )
        self.group_units = max(1.0, float(len(self.group_sends()) - before))
        if record:
            self.samples.append(sample)
        return sample

    async def deferred_sample(self) -> Sample:
        """Two questions at once: the second answer must wait out the 1 message/s limit of the chat, in the
        outbox; how late after that second it leaves shows how soon the outbox notices a due message."""
        assert self.fake is not None
        fake = self.fake
        uid = self.uid()

        def to_customer(m: str, p: dict) -> bool:
            return m in SEND_METHODS and _int(p.get("chat_id")) == uid

        first = fake.watch(to_customer)
        calls0 = fake.api_calls()
        s0 = await self.snap()
        fake.customer_says(uid, FAQ_TEXT, name=f"Client {uid}")
        fake.customer_says(uid, FAQ_TEXT_2, name=f"Client {uid}")
        a1, _ = await self.wait_call(first, f"the first answer to customer {uid}")
        second = fake.watch(to_customer)  # registered in time: the second answer is due a second later
        a2, s2 = await self.wait_call(second, f"the deferred answer to customer {uid}")
        await asyncio.sleep(self.args.settle)
        s3 = await self.snap()
        sample = Sample(
            "deferred",
            latency=a2 - a1 - PER_CHAT_WINDOW,
            reads_send=self.reads(s0, s2) - self.own_reads,
            dt_send=s2.t - s0.t,
            reads_total=self.reads(s0, s3) - 2 * self.own_reads,
            dt_total=s3.t - s0.t,
            commands_total=self.commands(s0, s3) - 2 * self.own_commands,
            connections=s3.connections - s0.connections,
            api_calls=fake.api_calls() - calls0,
        )
        self.samples.append(sample)
        return sample

    async def idle_window(self, seconds: float, label: str, breakdown: bool = False) -> None:
        if seconds <= 0.5:
            await asyncio.sleep(max(0.0, seconds))
            return
        c0 = await self.commandstats() if breakdown else None
        s0 = await self.snap()
        await asyncio.sleep(seconds)
        self.check_bot()
        s1 = await self.snap()
        if c0 is not None:
            c1 = await self.commandstats()
            dt = s1.t - s0.t
            self.idle_commands = {
                k: round((v - c0.get(k, 0)) / dt, 2)
                for k, v in sorted(c1.items(), key=lambda kv: -(kv[1] - c0.get(kv[0], 0)))
                if k != "info" and v - c0.get(k, 0) > 0
            }
        self.idle_windows.append((self.reads(s0, s1), self.commands(s0, s1), s1.t - s0.t, label))

    # ------------------------------------------------------------------ the run
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

    async def run(self) -> dict[str, Any]:
        args = self.args
        t_begin = time.monotonic()
        deadline = t_begin + args.deadline
        # warm-up (not recorded): first use of each path, connections opened
        await self.faq_sample(record=False)
        await self.relay_sample(record=False)
        # work that sends nothing into the staff group: done while the relays wait for the group's budget
        pending: list[tuple[float, Callable[[], Any]]] = [
            (args.idle + 1, lambda: self.idle_window(args.idle, "quiet window", breakdown=True))
        ]
        pending += [(args.settle + 1, self.faq_sample)] * args.faq
        pending += [(args.settle + PER_CHAT_WINDOW + 1, self.deferred_sample)] * args.deferred
        relays = skipped = 0
        while relays < args.relay:
            start_at = self.group_room_at(round(self.group_units))
            fits = [job for job in pending if job[0] < start_at - time.monotonic()]
            if fits:
                pending.remove(fits[0])
                await fits[0][1]()
                continue
            wait = start_at - time.monotonic()
            if time.monotonic() + max(0.0, wait) + 2 * args.settle + 1 > deadline:
                skipped = args.relay - relays
                break
            if wait > 0:
                await self.idle_window(wait, "waiting for the group budget")
            await self.relay_sample()
            relays += 1
        for _, job in pending:
            await job()
        if skipped:
            self.notes.append(f"{skipped} relay samples skipped: --deadline {args.deadline}s reached")
        if self.fake is not None and self.fake.too_many:
            self.notes.append(f"the stand-in answered 429 {len(self.fake.too_many)} times: {self.fake.too_many[:5]}")
        self.elapsed = time.monotonic() - t_begin
        return self.result()

    def result(self) -> dict[str, Any]:
        quiet = [(r, s) for r, _, s, label in self.idle_windows if label == "quiet window"]
        seconds = sum(s for _, _, s, _ in self.idle_windows)
        pooled = sum(r for r, _, _, _ in self.idle_windows) / seconds if seconds else 0.0
        pooled_cmds = sum(c for _, c, _, _ in self.idle_windows) / seconds if seconds else 0.0
        quiet_rate = (sum(r for r, _ in quiet) / sum(s for _, s in quiet)) if quiet else pooled
        out: dict[str, Any] = {
            "repo": str(self.repo),
            "revision": _revision(self.repo),
            "idle": {
                "reads_per_s": round(quiet_rate, 2),
                "window_s": round(sum(s for _, s in quiet), 2),
                "reads_per_s_all_idle_time": round(pooled, 2),
                "commands_per_s_all_idle_time": round(pooled_cmds, 2),
                "all_idle_time_s": round(seconds, 2),
                "commands_per_s": self.idle_commands,
            },
        }
        for kind in ("faq", "relay", "deferred"):
            ss = [s for s in self.samples if s.kind == kind]
            out[kind] = {
                "reads_to_send": summary([s.reads_send - pooled * s.dt_send for s in ss]),
                "reads_total": summary([s.reads_total - pooled * s.dt_total for s in ss]),
                "commands_total": summary([s.commands_total - pooled_cmds * s.dt_total for s in ss]),
                ("lateness_ms" if kind == "deferred" else "latency_ms"): summary([s.latency * 1000 for s in ss]),
                "api_calls": summary([float(s.api_calls) for s in ss]),
                "new_connections": sum(s.connections for s in ss),
            }
        out["settle_s"] = self.args.settle
        out["bot_startup_s"] = round(self.startup, 2)
        out["elapsed_s"] = round(self.elapsed, 1)
        out["own_reads_per_info"] = self.own_reads
        out["machine"] = f"{os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"
        out["notes"] = self.notes
        return out

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


# ---------------------------------------------------------------------------------------------- processes
def spawn_redis(port: int, workdir: Path) -> subprocess.Popen:
    """A private redis-server on loopback, without persistence."""
    server = shutil.which("redis-server")
    if server is None:
        raise RuntimeError("redis-server is not installed")
    return subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(workdir), "--loglevel", "warning", "--daemonize", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip


def spawn_monitor(port: int, path: str) -> subprocess.Popen:
    """``redis-cli monitor`` writing every command to ``path`` (its output adds no reads to the counter)."""
    cli = shutil.which("redis-cli")
    if cli is None:
        raise RuntimeError("--monitor needs redis-cli")
    with open(path, "wb") as out:
        return subprocess.Popen(
            [cli, "-h", "127.0.0.1", "-p", str(port), "monitor"],
            stdout=out,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
        )


def spawn_bot(repo: Path, redis_port: int, api_url: str, log_path: Path) -> subprocess.Popen:
    """``python -m bots run`` of ``repo`` (its code first on the path), polling the stand-in."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TELEGRAM_", "VK_", "WHATSAPP_", "REDIS_", "FAQ_", "HTTP_", "PYTHON"))
    }
    env.update(
        REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",
        REDIS_PREFIX="bench:",
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_STAFF_CHAT_ID=str(STAFF),
        TELEGRAM_API_URL=api_url,
        HTTP_HOST="127.0.0.1",
        HTTP_PORT=str(free_port()),
        FAQ_PATH=str(repo / "faq_data"),
        DEFAULT_LANGUAGE="ru",
        LOG_LEVEL="INFO",
        PYTHONPATH=str(repo),
        PYTHONUNBUFFERED="1",
    )
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "bots", "run"],
            cwd=repo,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )


def stop(proc: subprocess.Popen | None, grace: float = 5.0) -> None:
    """SIGTERM, then SIGKILL after ``grace`` seconds."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(grace)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _revision(repo: Path) -> str:
    try:
        rev = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
        return rev + ("+changes" if dirty else "") if rev else "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


def table(r: dict[str, Any]) -> str:
    def fmt(s: dict[str, Any]) -> str:
        if not s["n"]:
            return f"{'n/a':>8} {'n/a':>8}"
        return f"{s['median']:8.1f} {s['p90']:8.1f}   (n={s['n']}, min {s['min']:.1f}, max {s['max']:.1f})"

    idle = r["idle"]
    top = ", ".join(f"{k} {v}/s" for k, v in list(idle["commands_per_s"].items())[:6])
    f, c, d = r["faq"], r["relay"], r["deferred"]
    lines = [
        f"repo {r['repo']} @ {r['revision']}; {r['machine']}; bot ready in {r['bot_startup_s']} s; "
        f"measured for {r['elapsed_s']} s",
        f"idle                      : {idle['reads_per_s']:.1f} round trips/s over {idle['window_s']} s "
        f"({idle['reads_per_s_all_idle_time']:.1f}/s over all {idle['all_idle_time_s']} s of idle time)",
        f"idle commands             : {top or 'none'}",
        "round trips per message      median      p90   (idle subtracted)",
        f"FAQ answer, to send       : {fmt(f['reads_to_send'])}",
        f"FAQ answer, total         : {fmt(f['reads_total'])}",
        f"relay into case, to send  : {fmt(c['reads_to_send'])}",
        f"relay into case, total    : {fmt(c['reads_total'])}",
        f"2 questions, 1 deferred   : {fmt(d['reads_total'])}",
        "latency (ms)                 median      p90",
        f"FAQ answer                : {fmt(f['latency_ms'])}",
        f"relay into case           : {fmt(c['latency_ms'])}",
        f"deferred answer, late by  : {fmt(d['lateness_ms'])}  (after the chat's 1 s limit)",
        f"Bot API calls per sample (median): FAQ {f['api_calls']['median']}, relay {c['api_calls']['median']}, "
        f"deferred {d['api_calls']['median']}; new Redis connections in the windows: "
        f"{f['new_connections'] + c['new_connections'] + d['new_connections']}",
        f"('to send': until the stand-in receives the bot's call; 'total': until {r['settle_s']} s later)",
    ]
    lines += [f"note: {n}" for n in r["notes"]]
    return "\n".join(lines)


async def main(args: argparse.Namespace, repo: Path) -> int:
    with tempfile.TemporaryDirectory(prefix="sb-roundtrips-") as tmp:
        bench = Bench(repo, args)
        try:
            await bench.start(Path(tmp))
            result = await bench.run()
        finally:
            await bench.close()
    print(json.dumps(result, ensure_ascii=False) if args.json else table(result))
    return 0


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repo", default=str(HERE_REPO), help="the bot's repository (default: the one of this script)")
    p.add_argument("--faq", type=int, default=20, help="FAQ-answered samples (one customer each)")
    p.add_argument(
        "--relay",
        type=int,
        default=17,
        help="relay-into-a-case samples (one customer each; 3 group sends each, 20 per minute: 17 take ~2 min)",
    )
    p.add_argument("--deferred", type=int, default=5, help="two-question samples (the second answer deferred)")
    p.add_argument("--idle", type=float, default=10.0, help="seconds of the quiet window")
    p.add_argument("--settle", type=float, default=0.3, help="seconds after the send counted in 'total'")
    p.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="limit windows of the stand-in; the bot always keeps the real ones, so 1.0 checks it never overruns",
    )
    p.add_argument("--timeout", type=float, default=15.0, help="seconds to wait for any one thing")
    p.add_argument("--deadline", type=float, default=165.0, help="seconds for the whole measurement")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    p.add_argument("--monitor", metavar="FILE", help="write Redis MONITOR output (every command) to FILE")
    a = p.parse_args()
    root = Path(a.repo).resolve()
    if not (root / "bots").is_dir():
        sys.exit(f"{root} does not look like the supportbot repository (no bots/)")
    sys.exit(asyncio.run(main(a, root)))
