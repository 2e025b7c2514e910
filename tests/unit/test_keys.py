"""The key layout: every key under the prefix, listed in the keys module's docstring, one hash slot per bot.

On Redis Cluster the prefix is written in braces (``{sb}:``): every key the bot uses then hashes to the same
slot, so every atomic step (a Lua script or MULTI touching many keys) stays legal there.
"""

from __future__ import annotations

import inspect

import pytest
from redis.crc import key_slot

import core.store.keys as keys_module
from core.messages import UserRef
from core.store.keys import Keys

USER = UserRef("telegram", "42")


def every_key(k: Keys) -> dict[str, str]:
    """Each key-building member of ``Keys`` called with sample arguments."""
    samples = {"case_id": 7, "user": USER, "event_key": "cm:telegram:1", "lane": USER.key, "name": "tg-poller",
               "kind": "tgtopic", "native_id": 99, "channel": "vk", "key": "x", "msg_id": "abc", "dest": "c:vk:1",
               "limit_key": "tg:global", "scope": "all", "span": "d:2026-12-02", "token": "ab12",
               "day": "2026-12-02"}  # fmt: skip
    out = {}
    for name, member in inspect.getmembers(Keys):
        if name.startswith("_"):
            continue
        if isinstance(member, property):
            out[name] = getattr(k, name)
        elif callable(member):
            params = list(inspect.signature(member).parameters)[1:]
            out[name] = getattr(k, name)(*[samples[p] for p in params])
    return out


def test_every_key_is_under_the_prefix_and_documented():
    keys = every_key(Keys("pfx:"))
    assert len(keys) >= 25
    doc = keys_module.__doc__
    for name, key in keys.items():
        assert key.startswith("pfx:"), name
        first = key[len("pfx:") :].split(":")[0]
        assert first in doc, f"{name}: '{first}' is not in the layout table"


@pytest.mark.parametrize("prefix", ["{sb}:", "{support-bot}:prod:"])
def test_a_braced_prefix_puts_every_key_in_one_hash_slot(prefix):
    slots = {key_slot(key.encode()) for key in every_key(Keys(prefix)).values()}
    assert len(slots) == 1


def test_without_braces_keys_spread_over_slots():
    """The test above is not vacuous: plain prefixes do spread (so the braces are what makes one slot)."""
    slots = {key_slot(key.encode()) for key in every_key(Keys("sb:")).values()}
    assert len(slots) > 1
