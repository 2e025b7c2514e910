"""The terminal demo as a newcomer runs it: `supportbot chat` in a subprocess, on the embedded store and on Redis."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FAQ = REPO / "tests" / "data" / "faq_desk.yaml"


def chat(script: str, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    environment.update({"FAQ_PATH": str(FAQ), **env})
    return subprocess.run(
        [sys.executable, "-m", "bots", "chat"],
        input=script,
        capture_output=True,
        text=True,
        env=environment,
        cwd=REPO,
        timeout=60,
    )


FULL_FLOW = """\
How do I reset my password?
пароль доставка
Мой холодильник поёт по ночам
1
Поёт каждую ночь, модель X1
> Здравствуйте, проверяю
> !похоже на сбой, проверить логи
> /take
> /resolve
5
/status
"""


def test_the_whole_core_flow_in_one_session():
    run = chat(FULL_FLOW)
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "nothing will persist" in run.stderr.lower()  # said once, plainly
    assert run.stderr.lower().count("nothing will persist") == 1
    assert "Hello!" in out or "Здравствуйте! Я бот" in out  # greeting
    assert 'Click "Forgot password?"' in out  # an FAQ answer
    assert "не нашёл ответа" in out  # no match -> the bot offers an operator
    assert "Обращение #1 создано" in out  # the case number
    assert "[staff #1] Обращение #1 · Console" in out  # the card on the staff side (STAFF_LANGUAGE = DEFAULT_LANGUAGE)
    assert "operator Demo> Здравствуйте, проверяю" in out  # the operator's reply reaches the customer
    shown = [line for line in out.splitlines() if not line.startswith("you> ")]
    assert not [line for line in shown if "похоже на сбой" in line]  # the note does not
    assert "решено" in out and "от 1 до 5" in out  # resolved, rating asked
    assert "Спасибо за оценку 5 из 5" in out
    assert "#1 — решено" in out  # /status


def test_cases_survive_a_restart_with_redis(redis_url, prefix, redis):
    env = {"REDIS_URL": redis_url, "REDIS_PREFIX": prefix, "REOPEN_DAYS": "0"}  # no reopening: a new case
    first = chat("/operator\nзаказ 123 не пришёл\n", **env)
    assert first.returncode == 0, first.stderr
    assert "Обращение #1 создано" in first.stdout
    assert "nothing will persist" not in first.stderr.lower()
    second = chat("/status\n> /resolve\n/operator\n", **env)  # a new process, the same Redis
    assert second.returncode == 0, second.stderr
    assert "#1 — принято" in second.stdout
    assert "Обращение #2 создано" in second.stdout  # numbers go on, never reused


def test_operator_lines_before_any_case_are_refused_plainly():
    run = chat("> hello\n> /resolve\n/operator\n> /take\n")
    assert run.returncode == 0, run.stderr
    assert run.stdout.count("[staff] No case yet: ask for an operator first") == 2
    assert "#0" not in run.stdout
    assert "Оператор Demo взял ваше обращение #1 в работу" in run.stdout
