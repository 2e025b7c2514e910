"""Past one Redis server: a Sentinel-managed Redis fails over and the bot carries on without a restart.

The test starts its own master, replica and Sentinel (loopback, free ports, no persistence), runs a conversation
through the real intake and delivery with ``REDIS_SENTINELS`` / ``REDIS_MASTER_NAME``, kills the master, waits
until Sentinel has promoted the replica, and carries on with the same core: the customer's case is still there,
and the next case gets the next number.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import redis as sync_redis

from core.events import OperatorText, StaffPlace
from core.messages import Audience, Inbound, Operator, StaffKind, UserRef
from tests.harness import Conversation

pytestmark = pytest.mark.skipif(not shutil.which("redis-server"), reason="redis-server is not installed")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except (sync_redis.RedisError, OSError):
            value = None
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture
def sentinel_setup(tmp_path: Path):
    master, replica, sentinel = free_port(), free_port(), free_port()
    common = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    procs = [
        subprocess.Popen(["redis-server", "--port", str(master), *common], stdout=subprocess.DEVNULL),
        subprocess.Popen(
            ["redis-server", "--port", str(replica), "--replicaof", "127.0.0.1", str(master), *common],
            stdout=subprocess.DEVNULL,
        ),
    ]
    conf = tmp_path / "sentinel.conf"
    conf.write_text(
        f"port {sentinel}\nbind 127.0.0.1\nsentinel monitor mymaster 127.0.0.1 {master} 1\n"
        "sentinel down-after-milliseconds mymaster 400\nsentinel failover-timeout mymaster 2000\n"
        "sentinel parallel-syncs mymaster 1\n"
    )
    try:
        wait_until(lambda: sync_redis.Redis(port=master).ping(), 10, "the master")
        wait_until(
            lambda: sync_redis.Redis(port=replica).info("replication").get("master_link_status") == "up",
            10,
            "the replica to sync",
        )
        procs.append(subprocess.Popen(["redis-server", str(conf), "--sentinel"], stdout=subprocess.DEVNULL))
        wait_until(lambda: sync_redis.Redis(port=sentinel).sentinel_get_master_addr_by_name("mymaster"), 10, "Sentinel")
        wait_until(
            lambda: sync_redis.Redis(port=sentinel).sentinel_slaves("mymaster"), 10, "Sentinel to see the replica"
        )
        yield {"master": master, "replica": replica, "sentinel": sentinel, "procs": procs}
    finally:
        for p in procs:
            p.kill()
            p.wait(5)


async def test_a_failover_needs_no_restart(sentinel_setup):
    ports = sentinel_setup
    conv = await Conversation.start(
        None,
        f"sentinel:{uuid.uuid4().hex[:6]}:",
        user=UserRef("console", "anna"),
        REDIS_SENTINELS=f"127.0.0.1:{ports['sentinel']}",
        REDIS_MASTER_NAME="mymaster",
        REDIS_URL="redis://ignored/0",
    )
    try:
        outs = await conv.say("/operator")
        case_id = conv.staff_msgs(outs, StaffKind.CASE_OPENED)[0].case_id
        # the case has reached the replica before the master dies (replication is asynchronous)
        master = sync_redis.Redis(port=ports["master"])
        assert master.wait(1, 5000) == 1

        sentinel_setup["procs"][0].kill()  # the master dies
        sentinel = sync_redis.Redis(port=ports["sentinel"])
        wait_until(
            lambda: int(sentinel.sentinel_get_master_addr_by_name("mymaster")[1]) == ports["replica"],
            30,
            "Sentinel to promote the replica",
        )
        # the same core, no restart: the customer's case is there and the conversation goes on
        outs = await _retrying(conv.say, "ещё подробности")
        relayed = [o for o in outs if o.audience == Audience.STAFF and o.kind == StaffKind.CUSTOMER_MESSAGE]
        assert relayed and relayed[0].case_id == case_id
        event = OperatorText(Operator("7", "Olga"), "Проверяю", StaffPlace(case_id=case_id), conv.next_id())
        outs = await _retrying(conv.send, event)
        assert [o.text for o in outs if o.audience == Audience.CUSTOMER][:1] == ["Проверяю"]  # then "in progress"
        outs = await _retrying(conv.send, Inbound(UserRef("console", "boris"), "/operator", conv.next_id()))
        assert conv.staff_msgs(outs, StaffKind.CASE_OPENED)[0].case_id == case_id + 1
    finally:
        await conv.close()


async def _retrying(fn, *args, attempts: int = 40):
    """The first calls after a failover may meet connections to the dead master: the intake retries for a few
    seconds itself; this gives Sentinel's clients a little longer, and fails loudly after that."""
    for i in range(attempts):
        try:
            return await fn(*args)
        except (sync_redis.RedisError, OSError, ConnectionError):
            if i == attempts - 1:
                raise
            await asyncio.sleep(0.25)
    raise AssertionError("unreachable")
