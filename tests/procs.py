"""Real processes for the fault tests and the benches: a private redis-server, `supportbot run` as a subprocess.

* ``RedisServer``: ``redis-server`` on a free loopback port, in its own directory, with AOF (``persist=True``:
  a stop and a start on the same port keep the data) or with no persistence at all; ``stop`` (SIGTERM: with
  AOF the server writes it out and exits), ``start`` again on the same port, ``freeze`` / ``thaw`` (SIGSTOP /
  SIGCONT), ``kill`` (SIGKILL). Always stopped by ``close`` (also when the test fails).
* ``BotProcess``: ``python -m bots run`` with a clean environment (nothing of the caller's TELEGRAM_*, VK_*,
  REDIS_*... leaks in), its output in a log file; ``kill`` (SIGKILL), ``stop`` (SIGTERM, then SIGKILL),
  ``rss_kb`` (VmRSS from /proc). With ``options``, the process is ``python -m tests.procs run`` instead:
  exactly what ``bots.runner.run`` does, with ``DeliveryOptions`` and per-channel option overrides taken from
  ``SUPPORTBOT_TEST_OPTIONS`` (JSON), e.g. ``{"delivery": {"time_scale": 0.05, "lease_seconds": 6},
  "channels": {"telegram": {"leader_ttl": 3}}}``: Telegram's limits (20 messages a minute into the staff
  group) shrunk like the stand-in's, so a test can hand off 40 customers in seconds.
* ``until(predicate, timeout, what, procs)``: a barrier that also fails at once when a process died.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from tests.fakes.server import free_port

REPO = Path(__file__).resolve().parents[1]
OPTIONS_ENV = "SUPPORTBOT_TEST_OPTIONS"
# settings of the caller's environment that must not leak into a bot under test
FOREIGN = ("TELEGRAM_", "VK_", "WHATSAPP_", "REDIS_", "FAQ_", "HTTP_", "PYTHON", "LOG_", "DELIVERY_", OPTIONS_ENV)


def _answers(port: int) -> bool:
    """redis-server on ``port`` answers PING (and has loaded its data: LOADING errors are not PONG)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """A private redis-server on 127.0.0.1 (see the module docstring)."""

    def __init__(self, workdir: Path, *, persist: bool = True, port: int | None = None):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.persist = persist
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def argv(self) -> list[str]:
        server = shutil.which("redis-server")
        if server is None:
            raise RuntimeError("redis-server is not installed")
        keep = ["--appendonly", "yes", "--appendfsync", "everysec"] if self.persist else ["--appendonly", "no"]
        return [server, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", *keep,
                "--dir", str(self.workdir), "--loglevel", "warning", "--daemonize", "no"]  # fmt: skip

    def start(self, timeout: float = 10.0) -> RedisServer:
        log = (self.workdir / "redis.log").open("ab")
        self.proc = subprocess.Popen(self.argv(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        self.starts += 1
        deadline = time.monotonic() + timeout
        while not _answers(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                tail = (self.workdir / "redis.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"redis-server on port {self.port} did not start:\n{tail}")
            time.sleep(0.02)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM: with AOF, everything written so far is on disk when it exits."""
        if self.proc is not None and self.proc.poll() is None:
            self.thaw()
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def freeze(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)

    def close(self) -> None:
        self.thaw()
        self.kill()

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def bot_env(redis_url: str, http_port: int, **settings: Any) -> dict[str, str]:
    """The environment of a bot under test: the caller's, minus any bot settings, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(FOREIGN)}
    env.update(
        REDIS_URL=redis_url,
        HTTP_HOST="127.0.0.1",
        HTTP_PORT=str(http_port),
        FAQ_PATH=str(REPO / "faq_data"),
        DEFAULT_LANGUAGE="ru",
        STAFF_LANGUAGE="en",
        LOG_LEVEL="INFO",
        PYTHONPATH=str(REPO),
        PYTHONUNBUFFERED="1",
    )
    env.update({k: str(v) for k, v in settings.items() if v is not None})
    return env


class BotProcess:
    """``supportbot run`` (``python -m bots run``) as a subprocess; see the module docstring."""

    def __init__(self, env: dict[str, str], log_path: Path, options: dict[str, Any] | None = None):
        self.env = dict(env)
        self.log_path = Path(log_path)
        self.options = options
        self.proc: subprocess.Popen | None = None
        self.port = int(env.get("HTTP_PORT") or 0)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> BotProcess:
        env = dict(self.env)
        argv = [sys.executable, "-m", "bots", "run"]
        if self.options is not None:
            env[OPTIONS_ENV] = json.dumps(self.options)
            argv = [sys.executable, "-m", "tests.procs", "run"]
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                argv, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no cleanup of any kind, as when the machine or the OOM killer takes the process."""
        if self.alive():
            assert self.proc is not None
            self.proc.kill()
            self.proc.wait(10)

    def stop(self, grace: float = 5.0) -> None:
        if self.alive():
            assert self.proc is not None
            self.proc.terminate()
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(grace)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def tail(self, lines: int = 40) -> str:
        return f"--- {self.log_path.name} (tail) ---\n" + "\n".join(self.log().splitlines()[-lines:])

    def rss_kb(self) -> int | None:
        """The process's resident memory (VmRSS of /proc/PID/status), in kB."""
        if not self.alive():
            return None
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return None


async def until(
    predicate: Callable[[], Any],
    timeout: float,  # noqa: ASYNC109
    what: str,
    procs: Iterable[BotProcess] = (),
    interval: float = 0.02,
    detail: Callable[[], str] | None = None,
) -> Any:
    """Poll ``predicate`` (sync or async) until it is truthy (returned); fail at once when a bot died.
    ``detail()`` is added to the failure's message (what is missing)."""
    deadline = time.monotonic() + timeout
    procs = list(procs)
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        for p in procs:
            if p.proc is not None and not p.alive():
                raise AssertionError(f"the bot exited ({p.proc.returncode}) while waiting for {what}\n{p.tail()}")
        if time.monotonic() > deadline:
            tails = "\n".join(p.tail() for p in procs)
            more = f"\n{detail()}" if detail is not None else ""
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}{more}\n{tails}")
        await asyncio.sleep(interval)


async def wait_http(base: str, timeout: float = 30.0, procs: Iterable[BotProcess] = ()) -> None:  # noqa: ASYNC109
    """Until the bot's web server answers /healthz (whatever the status)."""
    import aiohttp

    async def up() -> bool:
        try:
            async with aiohttp.ClientSession() as s, s.get(base + "/healthz", timeout=aiohttp.ClientTimeout(2)) as r:
                return r.status in (200, 503)
        except (aiohttp.ClientError, TimeoutError):
            return False

    await until(up, timeout, f"the web server at {base}", procs, interval=0.1)


# ---------------------------------------------------------------------------------------------- the launcher
async def run_with_options(settings: Any, options: dict[str, Any]) -> None:
    """``bots.runner.run`` step by step, with ``DeliveryOptions`` and per-channel overrides from ``options``."""
    from bots.delivery import DeliveryOptions
    from bots.reload import FaqReloader
    from bots.runner import build, check, warn_without_persistence

    check(settings)
    delivery = DeliveryOptions(**{"give_up_after": settings.delivery_give_up_after, **options.get("delivery", {})})
    rt = await build(settings, delivery_options=delivery, channel_options=options.get("channels"))
    try:
        await warn_without_persistence(rt.core.store)
        await rt.preflight()
        await rt.start(settings.http_host, settings.http_port)
        rt.tasks.append(asyncio.create_task(FaqReloader(rt.core).run(signals=True), name="faq-reload"))
        await asyncio.gather(*rt.tasks)
    finally:
        await rt.stop()


def main(argv: list[str]) -> int:
    if argv[:1] != ["run"]:
        print("usage: python -m tests.procs run   (options in $SUPPORTBOT_TEST_OPTIONS)", file=sys.stderr)
        return 2
    from bots.logs import setup_logging
    from core.config import Settings

    settings = Settings()
    setup_logging(settings)
    asyncio.run(run_with_options(settings, json.loads(os.environ.get(OPTIONS_ENV) or "{}")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
