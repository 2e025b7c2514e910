"""The `supportbot` command."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from pathlib import Path

from pydantic import ValidationError
from redis.exceptions import ConnectionError as RedisConnectionError

from bots.stats_cli import add_gaps_parser, add_stats_parser, cmd_faq_gaps, cmd_stats
from core.config import Settings
from core.faq import Band, FaqError, FaqMatcher, confusable_pairs, load_faq

NOTHING_CONFIGURED = """No channel is configured, so there is nothing to run. `supportbot run` needs:
  always:    TELEGRAM_BOT_TOKEN and TELEGRAM_STAFF_CHAT_ID (operators work in that Telegram supergroup;
             Telegram customers are served by the same bot) and REDIS_URL (cases must survive a restart)
  VK:        VK_GROUP_TOKEN and VK_GROUP_ID (optional)
  WhatsApp:  WHATSAPP_TOKEN, WHATSAPP_PHONE_NUMBER_ID, WHATSAPP_APP_SECRET, WHATSAPP_VERIFY_TOKEN (optional)
See .env.example; `supportbot chat` needs none of this."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="supportbot", description="Multi-channel customer-support bot.")
    p.add_argument("--version", action="version", version=f"supportbot {_version()}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    chat = sub.add_parser(
        "chat",
        help="talk to the bot in the terminal (customer and operator); no setup needed",
        description="The embedded demo: you are the customer; lines starting with '>' are "
        "typed as the operator. Uses REDIS_URL if set, an in-memory store otherwise.",
    )
    chat.add_argument("--user", default="local", help="customer id in the console channel (default: local)")

    sub.add_parser(
        "run",
        help="run every channel whose credentials are set (Telegram, VK, WhatsApp)",
        description="Starts every configured channel and the web server (webhooks, /healthz). "
        "Exits with status 2 and says what to set when no channel is configured.",
    )

    sub.add_parser(  # bots.doctor
        "doctor",
        help="check the configuration (tokens, Redis, the staff group, webhooks, the FAQ) and say how to fix it",
        description="Checks everything `supportbot run` needs and prints each problem with how to fix it. "
        "Exit status 1 when something is wrong, 0 otherwise. Changes nothing.",
    )

    add_stats_parser(sub)  # bots.stats_cli

    faq = sub.add_parser(
        "faq", help="check the FAQ, try the matcher, evaluate it on a labelled set", description="FAQ tools."
    )
    fsub = faq.add_subparsers(dest="faq_command", required=True, metavar="FAQ_COMMAND")
    check = fsub.add_parser(
        "check",
        help="validate the FAQ and list phrasings the matcher will confuse",
        description="Validates FAQ files (file, entry and reason for each error) and lists "
        "pairs of phrasings in different entries that are so alike the matcher will confuse them.",
    )
    check.add_argument("path", nargs="?", help="FAQ file or folder (default: FAQ_PATH or faq_data/)")
    check.add_argument("--strict", action="store_true", help="exit with status 1 when confusable pairs are found")
    ask = fsub.add_parser(
        "ask",
        help="show how the matcher answers a text: band, top 3 entries and scores",
        description="Runs one text through the matcher with the bot's thresholds.",
    )
    ask.add_argument("text")
    ask.add_argument("--faq", help="FAQ file or folder (default: FAQ_PATH or faq_data/)")
    fsub.add_parser(  # bots.reload
        "reload",
        help="make every running `supportbot run` process reload the FAQ (no restart)",
        description="Validates FAQ_PATH, then asks every running `supportbot run` process (through Redis) to "
        "reload it; each keeps its current FAQ if the file is broken. SIGHUP to a process does the same.",
    )
    add_gaps_parser(fsub)  # bots.stats_cli
    ev = fsub.add_parser(
        "eval",
        help="measure the matcher on a labelled CSV (text,expected)",
        description="Runs every case of CASES_CSV (header text,expected; expected empty = must be "
        "handed off) through the bot's matcher and default thresholds.",
    )
    ev.add_argument("faq_path", metavar="FAQ_PATH")
    ev.add_argument("cases_csv", metavar="CASES_CSV")
    ev.add_argument("--json", action="store_true", help="print one JSON object")
    ev.add_argument(
        "--misses",
        action="store_true",
        help="also list the cases it got wrong: kind, band, score, expected, got, text "
        "(with --json: under the key 'misses')",
    )
    return p


def _faq_path(arg: str | None) -> Path:
    return Path(arg) if arg else Settings().faq_path


def cmd_chat(args: argparse.Namespace) -> int:
    # a pasted line cut mid-character must not crash the demo: undecodable bytes go to the desk, which repairs them
    for stream in (sys.stdin, sys.stdout):
        with contextlib.suppress(AttributeError, ValueError):
            stream.reconfigure(errors="surrogateescape" if stream is sys.stdin else "replace")
    from bots.app import bootstrap
    from bots.console import ConsoleChannel
    from bots.delivery import Delivery

    async def main() -> None:
        core = await bootstrap()
        console = ConsoleChannel(user_id=args.user, directory=core.directory)
        await console.run(core.intake)
        delivery = Delivery(core.outbox, {"console": console}, console, core.intake)
        try:
            await console.chat(sys.stdin, delivery.drain)  # line editing and history when interactive
        finally:
            await core.close()

    asyncio.run(main())
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    settings = Settings()
    if not (settings.telegram_enabled or settings.vk_enabled or settings.whatsapp_enabled):
        print(NOTHING_CONFIGURED, file=sys.stderr)
        return 2
    from bots.logs import Redactor, secrets_of, setup_logging
    from bots.ports import Unavailable
    from bots.runner import ConfigError, check, run

    try:
        check(settings)
        setup_logging(settings)  # LOG_FORMAT, secrets masked (bots.logs)
        asyncio.run(run(settings))
    except ConfigError as exc:
        print(f"configuration error: {Redactor(secrets_of(settings)).redact(str(exc))}", file=sys.stderr)
        return 2
    except Unavailable as exc:  # worth trying again later: a supervisor restarts it
        print(f"unavailable: {Redactor(secrets_of(settings)).redact(str(exc))}", file=sys.stderr)
        return 1
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from bots.doctor import run_doctor
    from bots.logs import setup_logging

    settings = Settings()
    setup_logging(settings)
    return run_doctor(settings)


def cmd_faq_reload(args: argparse.Namespace) -> int:
    from bots.reload import request_reload
    from core.store import Store, connect_redis

    settings = Settings()
    entries = load_faq(settings.faq_path)  # a broken file: FAQ error, exit 1, nothing asked of the bot
    if not (settings.redis_url or settings.redis_sentinels):
        print("REDIS_URL is not set: there is no running bot to ask.", file=sys.stderr)
        return 2

    async def main() -> int:
        redis, _ = await connect_redis(settings.redis_url, settings.redis_sentinels, settings.redis_master_name)
        try:
            return await request_reload(Store(redis, settings.redis_prefix))
        finally:
            await redis.aclose()

    listening = asyncio.run(main())
    print(
        f"{settings.faq_path}: {len(entries)} entries, valid. "
        f"Asked {listening} running process(es) to reload it; each logs the result."
    )
    return 0


def cmd_faq_check(args: argparse.Namespace) -> int:
    from core.faq.load import collect_faq, missing_answers

    path = _faq_path(args.path)
    entries, errors = collect_faq(path)
    if errors:
        print(f"{path}: {len(errors)} error(s):", file=sys.stderr)
        for error in errors:
            print(f"  {error}", file=sys.stderr)
        return 1
    phrasings = sum(len(e.questions) for e in entries)
    print(f"{path}: {len(entries)} entries, {phrasings} phrasings: valid.")
    language = Settings().default_language
    for entry_id in missing_answers(entries, language):
        print(f"warning: {entry_id}: no answer in DEFAULT_LANGUAGE={language} (another language is shown instead)")
    pairs = confusable_pairs(entries)
    if not pairs:
        print("No phrasings in different entries are alike enough to be confused.")
        return 0
    print(f"{len(pairs)} pair(s) of phrasings in different entries are so alike the matcher may confuse them:")
    for a_id, a_text, b_id, b_text, score in pairs:
        print(f"  {score:.2f}  {a_id}: {a_text!r}\n        {b_id}: {b_text!r}")
    return 1 if args.strict else 0


def cmd_faq_ask(args: argparse.Namespace) -> int:
    settings = Settings()
    entries = load_faq(_faq_path(args.faq))
    matcher = FaqMatcher(
        entries,
        settings.faq_answer_threshold,
        settings.faq_suggest_threshold,
        alternatives_threshold=settings.faq_alternatives_threshold,
    )
    match = matcher.match(args.text)
    labels = {
        Band.ANSWER: "answer",
        Band.ANSWER_ALTERNATIVES: "answer, then offer the alternatives",
        Band.SUGGEST: "suggest (did you mean)",
        Band.NONE: "no match (offer an operator)",
    }
    print(f"band: {labels[match.band]}")
    for i, c in enumerate(match.candidates, 1):
        print(f"  {i}. {c.score:.3f}  {c.entry.id}: {c.entry.title}")
    if not match.candidates:
        print("  (no entry scored)")
    return 0


def cmd_faq_eval(args: argparse.Namespace) -> int:
    from core.faq_eval import evaluate_cases, format_misses, format_report, misses

    result, outcomes = evaluate_cases(args.faq_path, args.cases_csv)
    if args.json:
        if args.misses:
            keys = ("text", "expected", "got", "band", "score")
            result = {**result, "misses": [{k: getattr(o, k) for k in keys} for o in misses(outcomes)]}
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(format_report(result))
        if args.misses:
            print()
            print(format_misses(outcomes))
    return 0


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("supportbot")
    except PackageNotFoundError:  # run from a checkout that was not installed
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:  # plain `supportbot`: what it can do
        parser.print_help()
        return 0
    handlers = {"chat": cmd_chat, "run": cmd_run, "stats": cmd_stats, "doctor": cmd_doctor}
    try:
        if args.command == "faq":
            faq = {"check": cmd_faq_check, "ask": cmd_faq_ask, "eval": cmd_faq_eval, "reload": cmd_faq_reload,
                   "gaps": cmd_faq_gaps}  # fmt: skip
            handler = faq[args.faq_command]
        else:
            handler = handlers[args.command]
        return handler(args)
    except FaqError as exc:
        print(f"FAQ error: {exc}", file=sys.stderr)
        return 1
    except RedisConnectionError as exc:
        print(
            f"cannot reach Redis at REDIS_URL ({exc}); start redis-server, or unset REDIS_URL for the in-memory demo",
            file=sys.stderr,
        )
        return 1
    except ValidationError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `supportbot faq ask ... | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
