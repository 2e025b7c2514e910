"""Figures of the round-trip bench (``bench/roundtrips.py``): median and p90 of the samples, and the table it
prints when ``--json`` is not given (from the same result dictionary the JSON output holds).
"""

from __future__ import annotations

import statistics
from typing import Any


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
