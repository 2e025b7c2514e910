"""Figures of the load bench (``bench/load.py``): what one configuration records (``Result``), the readings of
the processes' memory and CPU from ``/proc`` and ``getrusage``, and the summary (the JSON output) and table the
bench prints.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHANNELS = ("telegram", "vk", "whatsapp")


@dataclass
class Result:
    processes: int
    customers: int
    duration: float
    latency: dict[str, list[float]] = field(default_factory=lambda: {c: [] for c in CHANNELS})
    webhook: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    idle_rss_kb: list[int] = field(default_factory=list)  # before the load
    rss_kb: list[int] = field(default_factory=list)
    hwm_kb: list[int] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=dict)
    unexpected: int = 0
    timeouts: int = 0


def proc_status(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def own_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return round(s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))], 1)


def summary(r: Result) -> dict[str, Any]:
    every = [v for vs in r.latency.values() for v in vs]
    return {
        "processes": r.processes,
        "customers_per_channel": r.customers,
        "seconds": round(r.duration, 1),
        "answered": len(every),
        "messages_per_s": round(len(every) / r.duration, 1),
        "latency_ms": {"p50": pct(every, 0.5), "p99": pct(every, 0.99)},
        "per_channel": {
            c: {"n": len(v), "per_s": round(len(v) / r.duration, 1), "p50": pct(v, 0.5), "p99": pct(v, 0.99)}
            for c, v in r.latency.items()
        },
        "webhook_answer_ms": {"p50": pct(r.webhook, 0.5), "p99": pct(r.webhook, 0.99)},
        "idle_rss_mb": [round(k / 1024, 1) for k in r.idle_rss_kb],
        "rss_mb": [round(k / 1024, 1) for k in r.rss_kb],
        "peak_rss_mb": [round(k / 1024, 1) for k in r.hwm_kb],
        "cpu_percent": r.cpu,
        "errors": r.errors,
        "timeouts": r.timeouts,
        "unexpected_sends": r.unexpected,
    }


def table(rows: list[dict[str, Any]], args: argparse.Namespace) -> str:
    lines = [
        f"{os.cpu_count()} cores, Python {platform.python_version()}; {args.customers} customers per channel "
        f"(closed loop), {args.duration:.0f} s measured after {args.warmup:.0f} s; limit windows x{args.time_scale}",
        f"{'procs':>5} {'msg/s':>7} {'p50 ms':>7} {'p99 ms':>7}  {'tg p50/p99':>13} {'vk p50/p99':>13} "
        f"{'wa p50/p99':>13}  {'hook p50/p99':>13}  {'RSS MB (peak)':>20}  cpu % bots/redis/gen",
    ]
    for r in rows:
        ch = r["per_channel"]

        def pair(d: dict[str, Any]) -> str:
            return f"{d['p50']}/{d['p99']}"

        rss = ", ".join(f"{a} ({b})" for a, b in zip(r["rss_mb"], r["peak_rss_mb"], strict=True))
        cpu = r["cpu_percent"]
        lines.append(
            f"{r['processes']:>5} {r['messages_per_s']:>7} {r['latency_ms']['p50']!s:>7} "
            f"{r['latency_ms']['p99']!s:>7}  "
            f"{pair(ch['telegram']):>13} {pair(ch['vk']):>13} {pair(ch['whatsapp']):>13}  "
            f"{pair(r['webhook_answer_ms']):>13}  {rss:>20}  "
            f"{cpu['bots']}/{cpu['redis']}/{cpu['generator+stand-ins']}"
        )
        if r["errors"] or r["timeouts"] or r["unexpected_sends"]:
            lines.append(
                f"      errors {r['errors']}, timeouts {r['timeouts']}, unexpected sends {r['unexpected_sends']}"
            )
    return "\n".join(lines)
