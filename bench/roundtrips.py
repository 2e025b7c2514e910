"""Bench: Redis round trips and latency of the real bot, measured from the outside.

    cd /work/main && .venv/bin/python bench/roundtrips.py [--repo PATH] [--json] [--monitor FILE]
        [--faq 20] [--relay 17] [--deferred 5] [--idle 10] [--settle 0.3] [--deadline 165]

e.g. ``.venv/bin/python bench/roundtrips.py --repo /work/before`` (about 2 min 15 s; 2.5 min at most).

Nothing of the bot is imported: the bench starts its own ``redis-server`` (a free loopback port, no
persistence), the Telegram Bot API stand-in ``tests/fakes/telegram_api.py`` of the repository holding this
script (in this process) and ``python -m bots run`` of ``--repo`` as a subprocess (cwd and ``PYTHONPATH``
= ``--repo``, polling the stand-in). So it measures any version of the bot the same way, however it is built
inside. Everything is stopped at the end, also on errors and Ctrl-C. The processes, the Redis counters and the
table are in ``bench/_roundtrips_procs.py``, ``_roundtrips_probe.py`` and ``_roundtrips_report.py``.

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
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE_REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE_REPO))

# the helpers of this bench come from this repository's bench/, whatever --repo says
from bench._roundtrips_probe import Probe, Sample  # noqa: E402
from bench._roundtrips_procs import STAFF, revision  # noqa: E402
from bench._roundtrips_report import summary, table  # noqa: E402

FAQ_TEXT = "Как сбросить пароль?"  # `python -m bots faq ask` on the shipped FAQ: band answer, 0.94
FAQ_TEXT_2 = "Где мой заказ?"  # band answer, 0.92
HANDOFF_TEXT = "/operator"
GROUP_LIMIT = (20, 60.0)  # Telegram: messages into one group per minute (a created topic counts)
PER_CHAT_WINDOW = 1.0  # Telegram: one message per second into one private chat
GROUP_SAFETY = 1.5  # seconds added to the group window when pacing (the bot keeps its own margin)
SEND_METHODS = {"sendMessage", "copyMessage", "sendPhoto", "sendDocument", "forwardMessage"}


@dataclass
class Bench(Probe):
    """The samples, their pacing under the staff group's limit, and the result of one run."""

    samples: list[Sample] = field(default_factory=list)
    idle_windows: list[tuple[int, int, float, str]] = field(default_factory=list)  # reads, commands, s, label
    idle_commands: dict[str, float] = field(default_factory=dict)
    group_units: float = 3.0  # group sends per relay sample (topic + card + relay); learned on the way
    next_uid: int = 810_000
    elapsed: float = 0.0

    # ------------------------------------------------------------------ the staff group's budget
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
            "revision": revision(self.repo),
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


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


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
