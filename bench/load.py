"""Bench: load through the webhooks of all three channels at once, with 1 and 2 `supportbot run` processes.

    cd /work/main && .venv/bin/python bench/load.py [--processes 1 2] [--customers 40] [--duration 60]
        [--warmup 5] [--time-scale 0.001] [--json]

What runs (all on loopback, all stopped at the end, also on errors and Ctrl-C):

* a private ``redis-server`` (a free port, no persistence) and the stand-ins of the three platforms' APIs
  (``tests/fakes``: Telegram Bot API, VK API, WhatsApp Cloud API), in this process;
* 1 or 2 ``supportbot run`` processes (``tests/procs.py``), each on its own port, with Telegram in webhook
  mode (``X-Telegram-Bot-Api-Secret-Token``), VK through the Callback API (``secret``) and WhatsApp webhooks
  (a valid ``X-Hub-Signature-256``); with 2 processes the load generator alternates between them request by
  request, as a load balancer would;
* ``--customers`` customers per channel at any moment, each in a closed loop: POST a FAQ question to the bot's
  webhook, wait until the platform's stand-in receives the bot's answer to that customer, ask the next question;
  after two questions the customer leaves and a new one takes their place (a customer writing more than 20
  messages a minute would be throttled by the bot).

The stand-ins' hooks are in ``bench/_load_standins.py``, the recorded figures and the table in
``bench/_load_figures.py``.

Figures per configuration, over ``--duration`` seconds after ``--warmup`` seconds: answered messages per
second (all channels), latency p50/p99 from the start of the webhook request to the stand-in receiving the
answer (per channel and overall) and of the webhook's own answer (the event handled and its reply queued),
the bots' resident memory (VmRSS before the load and at its end, and VmHWM, the peak, from /proc/PID/status),
and the CPU used by the bots, redis-server and this process (the load generator and the stand-ins share it:
on 2 cores everything competes for the same CPUs).

The platforms' own rate limits (Telegram 30 messages/s, VK 15 requests/s, WhatsApp 80/s per number...) are
kept by the bot in Redis; at ``--time-scale 1`` they cap the figures (the bench then measures them, not the
bot). The default shrinks every limit window by 1000 in the bots (``tests.procs`` runs `supportbot run` with
that ``DeliveryOptions.time_scale``) and in the Telegram stand-in, so the bot itself is measured.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._load_figures import CHANNELS, Result, cpu_seconds, own_cpu, proc_status, summary, table  # noqa: E402
from bench._load_standins import Arrivals, LoadGraph, LoadTelegram, LoadVk  # noqa: E402
from tests.fakes.telegram_api import FakeTelegram  # noqa: E402
from tests.procs import BotProcess, RedisServer, bot_env, free_port, until, wait_http  # noqa: E402

TOKEN = "123456:BENCH-load"
STAFF = -1009000000003
TG_SECRET = "load-webhook-secret"
VK_SECRET = "load-vk-secret"
QUESTIONS = [  # each answered by the shipped FAQ with confidence (one message back)
    "Как сбросить пароль?",
    "Где мой заказ?",
    "Какие способы оплаты есть?",
    "Как изменить email в аккаунте?",
    "Какие часы работы поддержки?",
]
PER_CUSTOMER = 2  # questions each customer asks, one after the other


class Load:
    """One configuration: the private Redis, the stand-ins, the bot processes and the customers' closed loops."""

    def __init__(self, args: argparse.Namespace, processes: int, workdir: Path):
        self.args = args
        self.processes = processes
        self.workdir = workdir
        self.arrivals = Arrivals()
        self.redis: RedisServer | None = None
        self.bots: list[BotProcess] = []
        self.tg: LoadTelegram | None = None
        self.vk: LoadVk | None = None
        self.wa: LoadGraph | None = None
        self.rr = itertools.count()
        self.measuring = False
        self.stop = False

    async def start(self) -> None:
        scale = self.args.time_scale
        self.redis = RedisServer(self.workdir / "redis", persist=False).start()
        self.tg = LoadTelegram(TOKEN, scale=scale, staff_chat=STAFF)
        self.tg.arrivals = self.arrivals
        await self.tg.start()
        self.vk = LoadVk()
        self.vk.arrivals = self.arrivals
        await self.vk.start()
        self.wa = LoadGraph()
        self.wa.arrivals = self.arrivals
        await self.wa.start()
        ports = [free_port() for _ in range(self.processes)]
        for i, port in enumerate(ports):
            env = bot_env(
                self.redis.url,
                port,
                LOG_LEVEL="WARNING",
                TELEGRAM_BOT_TOKEN=TOKEN,
                TELEGRAM_STAFF_CHAT_ID=STAFF,
                TELEGRAM_API_URL=self.tg.url,
                TELEGRAM_WEBHOOK_URL=f"http://127.0.0.1:{ports[0]}/webhooks/telegram",
                TELEGRAM_WEBHOOK_SECRET=TG_SECRET,
                VK_GROUP_TOKEN=self.vk.token,
                VK_GROUP_ID=self.vk.group_id,
                VK_API_URL=self.vk.url,
                VK_CALLBACK_SECRET=VK_SECRET,
                VK_CONFIRMATION_CODE="load-confirm",
                WHATSAPP_TOKEN=self.wa.token,
                WHATSAPP_PHONE_NUMBER_ID=self.wa.phone_number_id,
                WHATSAPP_APP_SECRET=self.wa.app_secret,
                WHATSAPP_VERIFY_TOKEN="load-verify",
                WHATSAPP_API_URL=self.wa.url,
            )
            options = {"delivery": {"time_scale": scale}} if scale != 1.0 else None
            self.bots.append(BotProcess(env, self.workdir / f"bot{i + 1}.log", options).start())
        for bot in self.bots:
            await wait_http(bot.base, 60, self.bots)
        await until(lambda: self.tg.webhook is not None, 30, "the webhook to be set", self.bots)

    async def close(self) -> None:
        for bot in self.bots:
            await asyncio.to_thread(bot.stop)
        for fake in (self.tg, self.vk, self.wa):
            if fake is not None:
                with contextlib.suppress(Exception):
                    await (fake.close() if isinstance(fake, FakeTelegram) else fake.stop())
        if self.redis is not None:
            self.redis.close()

    def bot(self) -> BotProcess:
        return self.bots[next(self.rr) % len(self.bots)]

    def request(self, channel: str, n: int, text: str) -> tuple[str, str, dict[str, str], bytes]:
        """(user, path, headers, body) of one message of customer ``n`` to the bot's webhook of ``channel``."""
        assert self.tg is not None and self.vk is not None and self.wa is not None
        if channel == "telegram":
            uid = 10_000_000 + n
            self.tg.customer_says(uid, text, name=f"Load {n}")
            update = self.tg.take_update()
            headers = {"X-Telegram-Bot-Api-Secret-Token": TG_SECRET, "Content-Type": "application/json"}
            return str(uid), "/webhooks/telegram", headers, json.dumps(update).encode()
        if channel == "vk":
            uid = 20_000_000 + n
            update = dict(self.vk.user_writes(uid, text), secret=VK_SECRET)
            self.vk.updates.clear()  # nobody long-polls: do not keep them
            return str(uid), "/webhooks/vk", {"Content-Type": "application/json"}, json.dumps(update).encode()
        wa_id = f"79{n:09d}"
        body = json.dumps(self.wa.payload(wa_id, f"Load {n}", {"type": "text", "text": {"body": text}})).encode()
        headers = {"Content-Type": "application/json", "X-Hub-Signature-256": self.wa.sign(body)}
        return wa_id, "/webhooks/whatsapp", headers, body

    async def customer(self, session: aiohttp.ClientSession, channel: str, n: int, result: Result) -> None:
        """One place in the queue of customers: ask, wait for the answer, ask again. Every customer asks
        ``PER_CUSTOMER`` questions, then the next one comes (the bot throttles a customer who writes more than
        20 messages a minute, as it should)."""
        for k in itertools.count():
            if self.stop:
                return
            customer = n * 100_000 + k // PER_CUSTOMER
            user, path, headers, body = self.request(channel, customer, QUESTIONS[(n + k) % len(QUESTIONS)])
            answered = self.arrivals.expect(channel, user)
            bot = self.bot()
            t0 = time.perf_counter()
            try:
                async with session.post(bot.base + path, data=body, headers=headers) as resp:
                    await resp.read()
                    status = resp.status
            except (aiohttp.ClientError, TimeoutError) as e:
                status = type(e).__name__
            t1 = time.perf_counter()
            if status != 200:
                result.errors[f"{channel}:{status}"] = result.errors.get(f"{channel}:{status}", 0) + 1
                self.arrivals.waiting.pop((channel, user), None)
                await asyncio.sleep(0.1)
                continue
            try:
                t2 = await asyncio.wait_for(answered, self.args.timeout)
            except TimeoutError:
                result.timeouts += 1
                self.arrivals.waiting.pop((channel, user), None)
                continue
            if self.measuring:
                result.webhook.append((t1 - t0) * 1000)
                result.latency[channel].append((t2 - t0) * 1000)

    async def run(self) -> Result:
        args = self.args
        result = Result(self.processes, args.customers, args.duration)
        result.idle_rss_kb = [proc_status(b.pid, "VmRSS") for b in self.bots]
        connector = aiohttp.TCPConnector(limit=0, limit_per_host=0)
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:
            tasks = [
                asyncio.create_task(self.customer(session, channel, n, result))
                for channel in CHANNELS
                for n in range(args.customers)
            ]
            try:
                await asyncio.sleep(args.warmup)
                pids = {"bots": [b.pid for b in self.bots], "redis": [self.redis.proc.pid]}
                cpu0 = {k: sum(cpu_seconds(p) for p in v) for k, v in pids.items()}
                own0, wall0 = own_cpu(), time.perf_counter()
                self.measuring = True
                await asyncio.sleep(args.duration)
                self.measuring = False
                wall = time.perf_counter() - wall0
                result.duration = wall
                result.cpu = {k: round(100 * (sum(cpu_seconds(p) for p in v) - cpu0[k]) / wall, 1)
                              for k, v in pids.items()}  # fmt: skip
                result.cpu["generator+stand-ins"] = round(100 * (own_cpu() - own0) / wall, 1)
                result.rss_kb = [proc_status(b.pid, "VmRSS") for b in self.bots]
                result.hwm_kb = [proc_status(b.pid, "VmHWM") for b in self.bots]
            finally:
                self.stop = True
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
        result.unexpected = self.arrivals.unexpected
        return result


async def main(args: argparse.Namespace) -> int:
    rows = []
    for processes in args.processes:
        with tempfile.TemporaryDirectory(prefix="sb-load-") as tmp:
            workdir = Path(args.keep) / f"p{processes}" if args.keep else Path(tmp)
            load = Load(args, processes, workdir)
            try:
                await load.start()
                rows.append(summary(await load.run()))
            finally:
                await load.close()
    if args.json:
        meta = {"cores": os.cpu_count(), "python": platform.python_version(), "time_scale": args.time_scale}
        print(json.dumps({"machine": meta, "runs": rows}, ensure_ascii=False))
    else:
        print(table(rows, args))
    return 0


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--processes", type=int, nargs="+", default=[1, 2], help="configurations to run (bot processes)")
    p.add_argument("--customers", type=int, default=40, help="customers per channel, each in a closed loop")
    p.add_argument("--duration", type=float, default=60.0, help="seconds measured per configuration")
    p.add_argument("--warmup", type=float, default=5.0, help="seconds before measuring")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for one answer")
    p.add_argument("--time-scale", type=float, default=0.001, help="limit windows of the bot and the stand-in")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    p.add_argument("--keep", metavar="DIR", help="keep the bots' logs (and Redis' directory) under DIR")
    sys.exit(asyncio.run(main(p.parse_args())))
