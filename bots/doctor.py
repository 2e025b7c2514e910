"""`supportbot doctor`: checks the configuration end to end and says how to fix each problem.

It checks what `supportbot run` needs (the same refusals as at start-up), the form of every token, that Redis
answers and keeps its data on disk, that Telegram accepts the token and the staff group is a supergroup where
the bot is an administrator that may manage topics (the Telegram adapter's own start-up check), that the
Telegram webhook is registered where it should be (``TELEGRAM_WEBHOOK_URL``, or none when polling), and that
the FAQ loads. Each finding is one line (``ok``, ``warn`` or ``PROBLEM``), a problem followed by how to fix it.
Exit status: 1 when there is a problem, 0 otherwise (warnings do not count). Nothing is changed anywhere.
"""

from __future__ import annotations

import asyncio
import re
import sys
from dataclasses import dataclass
from typing import Any, TextIO
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from bots.logs import Redactor, secrets_of
from bots.ports import ConfigError, Unavailable
from core.config import Settings

TELEGRAM_TOKEN = re.compile(r"^\d+:[A-Za-z0-9_-]{35}$")
SUPERGROUP_ID = re.compile(r"^-100\d+$")
VK_TOKEN_MIN = 40  # community tokens are long: "vk1.a.…" or 85 hex characters
README_TELEGRAM = "README.md, Channels › Telegram › Setup"


@dataclass(frozen=True, slots=True)
class Finding:
    level: str  # "ok", "warn" or "problem"
    what: str
    fix: str = ""


def ok(what: str) -> Finding:
    return Finding("ok", what)


def warn(what: str, fix: str = "") -> Finding:
    return Finding("warn", what, fix)


def problem(what: str, fix: str = "") -> Finding:
    return Finding("problem", what, fix)


def _shown_url(url: str) -> str:
    """``url`` without its password."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


def _has_space(value: str) -> bool:
    return any(ch.isspace() or ch in "\"'" for ch in value)


# ------------------------------------------------------------------ settings alone
def check_settings(settings: Settings) -> list[Finding]:
    from bots.runner import check

    found: list[Finding] = []
    if not (settings.telegram_enabled or settings.vk_enabled or settings.whatsapp_enabled):
        found.append(
            problem(
                "no channel is configured: `supportbot run` would have nothing to run",
                "set TELEGRAM_BOT_TOKEN and TELEGRAM_STAFF_CHAT_ID in .env (see .env.example), plus VK_* or "
                "WHATSAPP_* for those channels",
            )
        )
    else:
        try:
            check(settings)
            found.append(ok("`supportbot run` accepts this combination of settings"))
        except ConfigError as e:
            found.append(problem(str(e), "set it in .env (every setting is explained in .env.example)"))
    return found + check_tokens(settings)


def check_tokens(settings: Settings) -> list[Finding]:
    found: list[Finding] = []
    token = settings.telegram_bot_token
    if token:
        if TELEGRAM_TOKEN.match(token):
            found.append(ok("TELEGRAM_BOT_TOKEN has the form of a bot token"))
        else:
            found.append(
                problem(
                    "TELEGRAM_BOT_TOKEN does not look like a bot token (digits, a colon, then 35 letters, digits, "
                    "- or _, e.g. 123456789:AAF...)",
                    "copy the token again from @BotFather (/mybots -> your bot -> API Token), without quotes or spaces",
                )
            )
    chat = settings.telegram_staff_chat_id
    if chat is not None and not SUPERGROUP_ID.match(str(chat)):
        found.append(
            problem(
                f"TELEGRAM_STAFF_CHAT_ID={chat} is not a supergroup's id (those look like -1001234567890)",
                "turn on Topics in the operators' group (it becomes a supergroup) and use the id it has then "
                f"({README_TELEGRAM}, step 4)",
            )
        )
    if bool(settings.vk_group_token) != bool(settings.vk_group_id):
        missing = "VK_GROUP_ID" if settings.vk_group_token else "VK_GROUP_TOKEN"
        found.append(problem(f"VK is half configured: {missing} is not set, so VK stays off", f"set {missing}"))
    vk = settings.vk_group_token
    if vk:
        if _has_space(vk) or len(vk) < VK_TOKEN_MIN:
            found.append(
                problem(
                    "VK_GROUP_TOKEN does not look like a community token (vk1.a.… or 85 hex characters, "
                    "no spaces or quotes)",
                    "create it in the community: Manage -> API usage -> Access tokens, with the messages, photos, "
                    "docs and manage rights",
                )
            )
        else:
            found.append(ok("VK_GROUP_TOKEN has the form of a community token"))
    if settings.vk_group_id is not None and settings.vk_group_id <= 0:
        found.append(problem(f"VK_GROUP_ID={settings.vk_group_id} must be positive", "write the id without the minus"))
    wa_token, phone = settings.whatsapp_token, settings.whatsapp_phone_number_id
    if bool(wa_token) != bool(phone):
        missing = "WHATSAPP_PHONE_NUMBER_ID" if wa_token else "WHATSAPP_TOKEN"
        found.append(
            problem(
                f"WhatsApp is half configured: {missing} is not set, so WhatsApp stays off",
                f"set {missing} (Meta app -> WhatsApp -> API Setup)",
            )
        )
    if wa_token:
        if _has_space(wa_token):
            found.append(problem("WHATSAPP_TOKEN contains spaces or quotes", "paste the token alone"))
        else:
            found.append(ok("WHATSAPP_TOKEN is set"))
    if phone and not phone.isdigit():
        found.append(
            problem(
                f"WHATSAPP_PHONE_NUMBER_ID={phone} is not a Phone number ID (digits only; not the phone number)",
                "copy the Phone number ID from Meta app -> WhatsApp -> API Setup",
            )
        )
    return found


# ------------------------------------------------------------------ Redis
async def check_redis(settings: Settings, store: Any) -> list[Finding]:
    if not (settings.redis_url or settings.redis_sentinels):
        return []  # check_settings reported it
    where = _shown_url(settings.redis_url or "") or settings.redis_sentinels
    try:
        await asyncio.wait_for(store.redis.ping(), 10)
    except Exception as e:
        return [
            problem(
                f"cannot reach Redis at {where} ({e})",
                "start Redis (`docker compose up -d` starts one) or correct REDIS_URL (and REDIS_SENTINELS / "
                "REDIS_MASTER_NAME behind Sentinel)",
            )
        ]
    found = [ok(f"Redis answers at {where}")]
    kept = await store.persistence()
    if kept["aof"]:
        found.append(ok("Redis keeps its data on disk (AOF)"))
    elif kept["aof"] is None:
        found.append(
            warn(
                "Redis does not say whether it keeps its data on disk (CONFIG is disabled)",
                "make sure AOF (appendonly yes) is on for this server",
            )
        )
    elif kept["rdb"]:
        found.append(
            warn(
                "Redis keeps only snapshots (RDB): a crash loses what changed since the last one",
                "turn on AOF: redis-server --appendonly yes (docker-compose.yml does)",
            )
        )
    else:
        found.append(
            problem(
                "Redis keeps NOTHING on disk (neither AOF nor RDB snapshots): a Redis restart loses every open case, "
                "customer state and queued message",
                "turn on AOF: redis-server --appendonly yes (docker-compose.yml does), or on the running server "
                "redis-cli CONFIG SET appendonly yes, then redis-cli CONFIG REWRITE",
            )
        )
    try:
        cluster = int((await store.redis.info("cluster")).get("cluster_enabled") or 0)
    except Exception:
        cluster = 0
    prefix = settings.redis_prefix
    if cluster and not (prefix.startswith("{") and "}" in prefix):
        found.append(
            problem(
                f"Redis is a Cluster and REDIS_PREFIX={prefix} has no braces: the bot's atomic steps span keys in "
                "different slots",
                "put the prefix in braces, e.g. REDIS_PREFIX={sb}:",
            )
        )
    return found


# ------------------------------------------------------------------ Telegram
async def check_telegram(settings: Settings, store: Any) -> list[Finding]:
    if not settings.telegram_bot_token:
        return []
    from bots.telegram import TelegramChannel, TelegramOptions
    from core.desk.directory import CaseDirectory

    channel = TelegramChannel(
        TelegramOptions.from_settings(settings, preflight_backoff=0.25),
        memory=store.memory("telegram"),
        directory=CaseDirectory(store),
    )
    found: list[Finding] = []
    try:
        await channel.preflight()
        what = "Telegram accepts the token"
        if settings.telegram_staff_chat_id:
            what += (
                f" and the staff group {settings.telegram_staff_chat_id} is a supergroup where the bot is an "
                "administrator (with Manage topics when topics are on)"
            )
        found.append(ok(what))
    except (ConfigError, Unavailable) as e:
        unreachable = isinstance(e, Unavailable)
        fix = "check this machine's network access to it, and TELEGRAM_API_URL" if unreachable else ""
        found.append(problem(str(e), fix or f"see {README_TELEGRAM}"))
        if "refused" in str(e) or "cannot reach" in str(e):
            return found  # the webhook cannot be asked about either
    finally:
        await channel.close()
    return found + await check_telegram_webhook(settings)


async def check_telegram_webhook(settings: Settings) -> list[Finding]:
    api = settings.telegram_api_url.rstrip("/")
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as http,
            http.get(f"{api}/bot{settings.telegram_bot_token}/getWebhookInfo") as resp,
        ):
            body = await resp.json(content_type=None)
        info = body["result"]
    except Exception as e:
        return [warn(f"cannot ask Telegram where it sends updates (getWebhookInfo: {e!r})")]
    url = info.get("url") or ""
    want = settings.telegram_webhook_url or ""
    found: list[Finding] = []
    if want and url != want:
        found.append(
            problem(
                f"Telegram sends updates to {url or 'no webhook (it waits for polling)'}, not to "
                f"TELEGRAM_WEBHOOK_URL={want}",
                "start `supportbot run` with this configuration (it registers the webhook at start); if it runs, "
                "every process must have the same TELEGRAM_WEBHOOK_URL, and no other deployment may use this token",
            )
        )
    elif not want and url:
        found.append(
            problem(
                f"a webhook is registered ({url}) but TELEGRAM_WEBHOOK_URL is not set (polling): while it is "
                "registered, Telegram does not answer polling",
                "set TELEGRAM_WEBHOOK_URL to it (and TELEGRAM_WEBHOOK_SECRET) to use the webhook, or start "
                "`supportbot run` to poll (it removes the webhook at start); make sure no other deployment uses "
                "this token",
            )
        )
    else:
        found.append(ok(f"Telegram webhook: {url}" if url else "no Telegram webhook registered (polling)"))
    if url and info.get("last_error_message"):
        found.append(
            warn(
                f"Telegram's last attempt to reach the webhook failed: {info['last_error_message']}",
                "check that the URL is reachable from the internet over HTTPS (443, 80, 88 or 8443)",
            )
        )
    return found


# ------------------------------------------------------------------ FAQ
def check_faq(settings: Settings) -> list[Finding]:
    from core.faq import load_faq

    try:
        entries = load_faq(settings.faq_path)
    except Exception as e:  # FaqError names the file, the entry and the reason; OSError: no such path
        return [
            problem(
                f"the FAQ at {settings.faq_path} is broken: {e}",
                "fix the file (`supportbot faq check` lists every error); FAQ_PATH points at it",
            )
        ]
    return [ok(f"the FAQ at {settings.faq_path} loads: {len(entries)} entries")]


# ------------------------------------------------------------------ all of it
async def diagnose(settings: Settings) -> list[Finding]:
    from core.store import Store, connect_redis

    found = check_settings(settings)
    redis, _ = await connect_redis(settings.redis_url, settings.redis_sentinels, settings.redis_master_name)
    store = Store(redis, settings.redis_prefix)
    try:
        found += await check_redis(settings, store)
        found += await check_telegram(settings, store)
    finally:
        await store.close()
    found += check_faq(settings)
    return found


def report(findings: list[Finding], out: TextIO, redactor: Redactor | None = None) -> int:
    """Print ``findings``; 1 when one of them is a problem, else 0."""
    red = redactor.redact if redactor is not None else str
    labels = {"ok": "ok     ", "warn": "warn   ", "problem": "PROBLEM"}
    for f in findings:
        print(f"{labels[f.level]}  {red(f.what)}", file=out)
        if f.fix:
            print(f"         fix: {red(f.fix)}", file=out)
    problems = sum(f.level == "problem" for f in findings)
    if problems:
        print(f"\n{problems} problem(s): fix them and run `supportbot doctor` again.", file=out)
        return 1
    print("\nNo problems found.", file=out)
    return 0


def run_doctor(settings: Settings, out: TextIO = sys.stdout) -> int:
    findings = asyncio.run(diagnose(settings))
    return report(findings, out, Redactor(secrets_of(settings)))
