"""The `supportbot` command: --help everywhere, faq check / ask / eval, run with nothing configured."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"
CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "VK_", "WHATSAPP_", "REDIS_URL"))}


def sb(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bots", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**CLEAN_ENV, **env},
        cwd=REPO,
    )


@pytest.mark.parametrize("args", [(), ("chat",), ("run",), ("faq",), ("faq", "check"), ("faq", "ask"), ("faq", "eval")])
def test_help_everywhere(args):
    run = sb(*args, "--help")
    assert run.returncode == 0
    assert "usage: supportbot" in run.stdout


def test_unknown_command_is_refused():
    run = sb("frobnicate")
    assert run.returncode == 2 and "invalid choice" in run.stderr


def test_run_without_channels_says_what_to_configure(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "bots", "run"], capture_output=True, text=True, timeout=60, env=CLEAN_ENV, cwd=tmp_path
    )  # no .env there either
    assert run.returncode == 2
    assert "TELEGRAM_BOT_TOKEN" in run.stderr and "VK_GROUP_TOKEN" in run.stderr and "WHATSAPP_TOKEN" in run.stderr


def test_faq_check_on_the_shipped_faq():
    run = sb("faq", "check")
    assert run.returncode == 0, run.stderr
    assert "valid" in run.stdout


def test_faq_check_reports_a_broken_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("- id: a\n  questions: [x]\n  answer: ''\n", encoding="utf-8")
    run = sb("faq", "check", str(bad))
    assert run.returncode == 1
    assert "bad.yaml" in run.stderr and "a" in run.stderr and "empty" in run.stderr.lower()


def test_faq_check_lists_confusable_phrasings(tmp_path):
    faq = tmp_path / "faq.yaml"
    faq.write_text(
        "- id: a\n  questions: [Как сбросить пароль от аккаунта]\n  answer: A\n"
        "- id: b\n  questions: ['Как сбросить пароль от аккаунта?']\n  answer: B\n"
        "- id: c\n  questions: [Сколько стоит доставка]\n  answer: C\n",
        encoding="utf-8",
    )
    run = sb("faq", "check", str(faq))
    assert run.returncode == 0 and "a:" in run.stdout and "b:" in run.stdout
    assert sb("faq", "check", "--strict", str(faq)).returncode == 1


def test_broken_faq_stops_the_demo_at_start(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("- id: a\n  answer: A\n", encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "bots", "chat"],
        input="",
        capture_output=True,
        text=True,
        timeout=60,
        env={**CLEAN_ENV, "FAQ_PATH": str(bad)},
        cwd=REPO,
    )
    assert run.returncode == 1 and "bad.yaml" in run.stderr


def test_faq_ask_shows_band_and_top_entries():
    run = sb("faq", "ask", "Как сбросить пароль?", "--faq", str(DATA / "faq_desk.yaml"))
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == "band: answer"
    assert "reset_password" in lines[1]
    run = sb("faq", "ask", "квантовая хромодинамика глюонов", "--faq", str(DATA / "faq_desk.yaml"))
    assert run.stdout.startswith("band: no match")


def test_faq_eval_json(tmp_path):
    cases = tmp_path / "cases.csv"
    cases.write_text(
        "text,expected\nКак сбросить пароль?,reset_password\nквантовая хромодинамика глюонов,\n", encoding="utf-8"
    )
    run = sb("faq", "eval", str(DATA / "faq_desk.yaml"), str(cases), "--json")
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert {"shown", "shown_precision", "oos_shown"} <= set(result)  # the new keys come after the old ones
    assert list(result)[:12] == [
        "cases",
        "in_scope",
        "top1",
        "top3",
        "answered",
        "answer_precision",
        "suggested",
        "suggest_hit",
        "oos",
        "oos_answered",
        "p50_ms",
        "p99_ms",
    ]
    assert result["cases"] == 2 and result["in_scope"] == 1 and result["oos"] == 1
    assert result["top1"] == 1.0 and result["oos_answered"] == 0.0


def test_run_with_only_vk_is_refused_without_a_traceback(tmp_path):
    env = {**CLEAN_ENV, "VK_GROUP_TOKEN": "t", "VK_GROUP_ID": "5"}
    run = subprocess.run(
        [sys.executable, "-m", "bots", "run"], capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path
    )
    assert run.returncode == 2
    assert run.stderr.startswith("configuration error: Operators work in a Telegram staff supergroup")
    assert "Traceback" not in run.stderr


def test_an_unreachable_redis_is_one_plain_line():
    run = subprocess.run(
        [sys.executable, "-m", "bots", "chat"],
        input="",
        capture_output=True,
        text=True,
        timeout=60,
        env={**CLEAN_ENV, "REDIS_URL": "redis://127.0.0.1:1/0"},
        cwd=REPO,
    )
    assert run.returncode == 1
    assert run.stderr.startswith("cannot reach Redis at REDIS_URL") and "Traceback" not in run.stderr


def test_a_bad_setting_is_one_plain_line():
    run = sb("faq", "ask", "привет", FAQ_ANSWER_THRESHOLD="1.5")
    assert run.returncode == 2
    assert run.stderr.startswith("configuration error") and "Traceback" not in run.stderr


def test_version_and_plain_help():
    run = sb("--version")
    assert run.returncode == 0 and run.stdout.startswith("supportbot ")
    run = sb()
    assert run.returncode == 0 and "COMMAND" in run.stdout and "chat" in run.stdout


def test_faq_check_reports_every_error_and_warns_about_a_missing_default_language(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "- id: a\n  questions: []\n  answer: x\n- id: b\n  questions: [q]\n  answer: x\n- id: c\n  questions: [q2]\n",
        encoding="utf-8",
    )
    run = sb("faq", "check", str(bad))
    assert run.returncode == 1
    assert "2 error(s)" in run.stderr and "entry 1 (a)" in run.stderr and "entry 3 (c)" in run.stderr
    only_en = tmp_path / "en.yaml"
    only_en.write_text("- id: b\n  questions: [q]\n  answer: {en: only english}\n", encoding="utf-8")
    run = sb("faq", "check", str(only_en), DEFAULT_LANGUAGE="ru")
    assert run.returncode == 0 and "warning: b: no answer in DEFAULT_LANGUAGE=ru" in run.stdout


def test_a_line_cut_mid_character_does_not_crash_the_demo():
    run = subprocess.run(
        [sys.executable, "-m", "bots", "chat"],
        input=b"how do I reset\xd0 my password\n",
        capture_output=True,
        timeout=60,
        cwd=REPO,
        env={**CLEAN_ENV},
    )
    assert run.returncode == 0, run.stderr.decode(errors="replace")
    assert b"Traceback" not in run.stderr and b"bye" in run.stdout
