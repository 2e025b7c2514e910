"""Case numbers never repeat, even when Redis keeps nothing on disk and restarts empty.

`supportbot run` warns at start that Redis keeps nothing; the case counter is then re-seeded by the running
process (the highest number it handed out) and, when the process restarted too, by the clock (minutes since
2026-01-01: ``core.store.case_number_floor``).
"""

from __future__ import annotations

import re

import pytest

from tests.fakes.telegram_api import FakeTelegram
from tests.fault.conftest import STAFF, TOKEN
from tests.procs import until

pytestmark = pytest.mark.fault

NOTHING_ON_DISK = "Redis keeps NOTHING on disk"


@pytest.fixture
async def tg_real():
    fake = await FakeTelegram(TOKEN, scale=1.0, staff_chat=STAFF).start()
    yield fake
    await fake.close()


async def hand_off(tg: FakeTelegram, bot, uids: range) -> list[int]:
    """Each customer asks for a person; the case numbers they are told."""
    for uid in uids:
        tg.customer_says(uid, "/operator", name=f"Num{uid}")

    def told() -> list[int] | None:
        numbers = []
        for uid in uids:
            found = [re.search(r"#(\d+)", t) for t in tg.texts_to(uid) if "создано" in t]
            if not found or found[0] is None:
                return None
            numbers.append(int(found[0].group(1)))
        return numbers

    return await until(told, 30, f"the handoff notices of {len(uids)} customers", [bot])


async def start(spawn_bot, server, tg, bots: list):
    bot = spawn_bot(server, tg)  # `python -m bots run`
    polls = sum(1 for m, _ in tg.calls if m == "getUpdates")
    await until(lambda: sum(1 for m, _ in tg.calls if m == "getUpdates") > polls, 30, "the bot to poll", [bot])
    bots.append(bot)
    return bot


async def test_redis_restarted_empty_while_the_bot_runs(tg_real, redis_server, spawn_bot):
    tg = tg_real
    server = redis_server(persist=False)
    bot = await start(spawn_bot, server, tg, [])
    assert NOTHING_ON_DISK in bot.log(), bot.tail()
    first = await hand_off(tg, bot, range(970_000, 970_005))
    server.stop()
    server.start()  # the same port, nothing kept
    second = await hand_off(tg, bot, range(970_005, 970_010))
    print(f"\n[numbers, Redis restarted] before: {first}, after: {second}")
    assert len(set(first + second)) == 10, f"case numbers repeated: {first} then {second}"


async def test_redis_and_the_bot_restarted(tg_real, redis_server, spawn_bot):
    tg = tg_real
    server = redis_server(persist=False)
    bots: list = []
    bot = await start(spawn_bot, server, tg, bots)
    first = await hand_off(tg, bot, range(971_000, 971_005))
    bot.stop()
    server.stop()
    server.start()
    bot = await start(spawn_bot, server, tg, bots)
    assert NOTHING_ON_DISK in bot.log(), bot.tail()
    second = await hand_off(tg, bot, range(971_005, 971_010))
    print(f"\n[numbers, Redis and the bot restarted] before: {first}, after: {second}")
    assert len(set(first + second)) == 10, (
        f"case numbers repeated after Redis (no persistence) and the bot restarted: {first} then {second}. "
        "The clock-based floor (minutes since 2026-01-01) is below numbers handed out less than a minute "
        "per case ago"
    )
