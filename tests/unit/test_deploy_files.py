"""The deployment files, checked without Docker (CI has no Docker engine): docker-compose.yml's structure, the
Dockerfile, the container's entrypoint (run for real with a stand-in ``supportbot`` on PATH) and the Grafana
dashboard. That the stack comes up is not tested here: `docker compose up` needs an engine."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import threading
from pathlib import Path

import pytest
import yaml

from bots import metrics

REPO = Path(__file__).resolve().parents[2]
ENTRYPOINT = REPO / "docker" / "entrypoint.sh"
GUARD_LINE = "configuration error, fix .env and run docker compose up -d again"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def dockerfile() -> list[str]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    text = (REPO / "Dockerfile").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    return [" ".join(i.split()) for i in "\n".join(lines).replace("\\\n", " ").splitlines() if i.strip()]


# ------------------------------------------------------------------ docker-compose.yml
def test_redis_keeps_its_data_with_aof_in_a_named_volume(compose):
    redis = compose["services"]["redis"]
    command = redis["command"] if isinstance(redis["command"], list) else redis["command"].split()
    assert command[0] == "redis-server"
    assert "--appendonly" in command and command[command.index("--appendonly") + 1] == "yes"
    volume, _, target = redis["volumes"][0].partition(":")
    assert target == "/data" and volume in compose["volumes"]  # a named volume, not a folder of the host
    assert "ports" not in redis  # reachable by the bot only
    assert "redis-cli" in " ".join(redis["healthcheck"]["test"])


def test_the_bot_builds_here_reads_env_and_waits_for_a_healthy_redis(compose):
    bot = compose["services"]["bot"]
    build = bot["build"] if isinstance(bot["build"], dict) else {"context": bot["build"]}
    assert build["context"] == "." and build.get("dockerfile", "Dockerfile") == "Dockerfile"
    assert bot["env_file"] in (".env", [".env"])
    assert bot["depends_on"]["redis"]["condition"] == "service_healthy"
    env = bot["environment"]
    assert env["REDIS_URL"].startswith("redis://redis:6379/")
    assert str(env["HTTP_PORT"]) == "8080" and env["FAQ_PATH"] == "/app/faq_data"


def test_the_web_port_is_on_localhost_unless_configured(compose):
    (port,) = compose["services"]["bot"]["ports"]
    assert port == "${HTTP_BIND:-127.0.0.1}:${HTTP_PORT:-8080}:8080"


def test_the_faq_is_mounted_read_only_from_the_host(compose):
    assert "./faq_data:/app/faq_data:ro" in compose["services"]["bot"]["volumes"]


def test_the_bot_has_a_healthcheck_on_healthz(compose):
    check = compose["services"]["bot"]["healthcheck"]
    assert "http://127.0.0.1:8080/healthz" in " ".join(check["test"])
    assert check["interval"] and check["retries"] >= 1


def test_a_configuration_error_is_not_restarted_in_a_loop(compose, dockerfile):
    bot = compose["services"]["bot"]
    # unless-stopped restarts crashes; the entrypoint turns status 2 into a wait instead of an exit
    assert bot["restart"] == "unless-stopped"
    assert 'ENTRYPOINT ["/usr/local/bin/supportbot-entrypoint"]' in dockerfile
    assert "COPY docker/entrypoint.sh /usr/local/bin/supportbot-entrypoint" in dockerfile
    assert "entrypoint" not in bot and "command" not in bot  # nothing bypasses the guard


# ------------------------------------------------------------------ Dockerfile
def test_the_image_is_slim_runs_as_a_user_and_has_no_dev_extras(dockerfile):
    bases = [i.split()[1] for i in dockerfile if i.startswith("FROM ")]
    assert bases and all(re.fullmatch(r"python:3\.1[1-9]-slim", b) for b in bases)
    users = [i.split()[1] for i in dockerfile if i.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    runs = " ".join(i for i in dockerfile if i.startswith("RUN "))
    assert "pip install" in runs and ".[dev]" not in runs and "[dev]" not in runs and " -e " not in runs
    assert 'CMD ["run"]' in dockerfile
    ignored = (REPO / ".dockerignore").read_text(encoding="utf-8").split()
    assert ".env" in ignored and ".venv" in ignored  # tokens never reach the build context
    assert "ENV PYTHONUNBUFFERED=1" in " ".join(dockerfile)


# ------------------------------------------------------------------ docker/entrypoint.sh, run for real
@pytest.fixture
def fake_supportbot(tmp_path):
    """``fake_supportbot(script)`` -> a PATH whose ``supportbot`` runs ``script`` (sh)."""

    def make(script: str) -> str:
        exe = tmp_path / "supportbot"
        exe.write_text("#!/bin/sh\n" + script, encoding="utf-8")
        exe.chmod(0o755)
        return f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}"

    return make


class Entrypoint:
    """The entrypoint in its own process group; its stderr read line by line by a thread (``line`` waits)."""

    def __init__(self, path: str, *args: str):
        self.proc = subprocess.Popen(
            ["sh", str(ENTRYPOINT), *args],
            env={**os.environ, "PATH": path},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.lines.put(line)

    def line(self, needle: str, timeout: float = 20) -> str:
        """The next stderr line containing ``needle`` (fails after ``timeout`` seconds)."""
        seen = []
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"no line with {needle!r}; saw {seen}; status {self.proc.poll()}") from None
            seen.append(line)
            if needle in line:
                return line

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(5)
        self.proc.stdout.close()


def test_status_2_prints_what_to_do_once_and_waits_instead_of_exiting(fake_supportbot):
    path = fake_supportbot('echo "configuration error: TELEGRAM_BOT_TOKEN was refused" >&2\nexit 2\n')
    entry = Entrypoint(path, "run")
    try:
        assert "TELEGRAM_BOT_TOKEN was refused" in entry.line("configuration error:")
        assert GUARD_LINE in entry.line(GUARD_LINE)
        assert entry.proc.poll() is None  # still there after saying so: no exit, so no restart loop
        entry.proc.send_signal(signal.SIGTERM)  # docker stop
        assert entry.proc.wait(5) == 2
        assert entry.lines.empty()  # said once
    finally:
        entry.kill()


@pytest.mark.parametrize("status", [0, 1, 3])
def test_other_statuses_pass_through(fake_supportbot, status):
    entry = Entrypoint(fake_supportbot(f'test "$1" = run || exit 99\nexit {status}\n'))  # no argument: run
    try:
        assert entry.proc.wait(10) == status
    finally:
        entry.kill()


def test_other_commands_are_run_without_the_guard(fake_supportbot):
    entry = Entrypoint(fake_supportbot('test "$1 $2" = "faq reload" || exit 99\nexit 2\n'), "faq", "reload")
    try:
        assert entry.proc.wait(10) == 2
    finally:
        entry.kill()


def test_docker_stop_reaches_the_bot(fake_supportbot):
    script = 'trap \'echo "bot: got TERM" >&2; exit 0\' TERM\necho "bot: up" >&2\nwhile :; do sleep 1 & wait $!; done\n'
    entry = Entrypoint(fake_supportbot(script), "run")
    try:
        entry.line("bot: up")
        entry.proc.send_signal(signal.SIGTERM)
        entry.line("bot: got TERM")
        assert entry.proc.wait(10) == 0  # the bot's own status, not the guard
    finally:
        entry.kill()


def test_sighup_reaches_the_bot_and_it_runs_on(fake_supportbot):
    script = (
        "trap 'echo \"bot: got HUP\" >&2' HUP\ntrap 'exit 0' TERM\necho \"bot: up\" >&2\n"
        "while :; do sleep 1 & wait $!; done\n"
    )
    entry = Entrypoint(fake_supportbot(script), "run")
    try:
        entry.line("bot: up")
        entry.proc.send_signal(signal.SIGHUP)  # docker compose kill -s HUP bot: reload the FAQ
        entry.line("bot: got HUP")
        assert entry.proc.poll() is None
        entry.proc.send_signal(signal.SIGTERM)
        assert entry.proc.wait(10) == 0  # the bot ran on after the HUP: it ends only now, with its own status
    finally:
        entry.kill()


# ------------------------------------------------------------------ the Grafana dashboard
def test_the_grafana_dashboard_reads_metrics_the_bot_exports():
    dash = json.loads((REPO / "docs" / "grafana" / "supportbot.json").read_text(encoding="utf-8"))
    assert dash["uid"] and dash["title"] and dash["panels"]
    exported = {m.name for m in metrics.REGISTRY.collect()}
    seen = set()
    for panel in dash["panels"]:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["type"] == "prometheus"
            for name in re.findall(r"supportbot_[a-z_]+", target["expr"]):
                base = re.sub(r"_(total|bucket|count|sum)$", "", name)
                assert base in exported, f"{panel['title']}: {name} is not exported"
                seen.add(base)
    wanted = {
        f"supportbot_{name}"
        for name in [
            "messages_in",
            "messages_out",
            "faq_matches",
            "handoffs",
            "cases_open",
            "outbox_entries",
            "outbox_oldest_age_seconds",
            "staff_budget_used",
            "intake_seconds",
            "delivery_seconds",
            "delivery_failures",
            "delivery_retries",
            "delivery_give_ups",
        ]
    }
    assert wanted <= seen, wanted - seen
