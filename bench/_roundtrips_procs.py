"""Processes of the round-trip bench (``bench/roundtrips.py``): a private ``redis-server``, ``redis-cli monitor``
and ``python -m bots run`` of the measured repository, plus stopping them and naming the measured revision.

The bot runs as a subprocess with the cwd and ``PYTHONPATH`` of ``--repo`` and only the environment the bench
sets (its own Telegram token and staff group, the stand-in's API URL, the private Redis); nothing of the bot is
imported here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.fakes.telegram_api import free_port

TOKEN = "123456:BENCH-roundtrips"
STAFF = -1009000000002


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


def revision(repo: Path) -> str:
    """The short commit of ``repo``, with "+changes" when tracked files differ from it; "?" if unknown."""
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
