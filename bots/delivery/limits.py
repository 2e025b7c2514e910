"""Shared rate limits: sliding-window logs in Redis, checked and taken for every limit of a send at once.

Every channel declares, per message, the ``Limit``s one send counts against (a limit listed n times costs n
units, e.g. a created topic plus its card). A message is only sent when all its limits have room, checked and
taken in one Lua step, so processes never overrun them together.
"""

from __future__ import annotations

import uuid
from typing import Any

from bots.ports import Limit

# KEYS: rate keys (one per distinct limit). ARGV: now, then per key: count, per, need, member prefix.
# Returns 0 when taken, else the seconds to wait (as a string).
TAKE_LUA = """
local now = tonumber(ARGV[1])
local wait = 0
for i, key in ipairs(KEYS) do
  local count = tonumber(ARGV[2 + (i - 1) * 4])
  local per = tonumber(ARGV[3 + (i - 1) * 4])
  local need = tonumber(ARGV[4 + (i - 1) * 4])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - per)
  local used = redis.call('ZCARD', key)
  if used + need > count then
    local idx = used + need - count - 1
    local oldest = redis.call('ZRANGE', key, idx, idx, 'WITHSCORES')
    local w = per
    if oldest[2] then w = tonumber(oldest[2]) + per - now end
    if w > wait then wait = w end
  end
end
if wait > 0 then return tostring(wait) end
for i, key in ipairs(KEYS) do
  local per = tonumber(ARGV[3 + (i - 1) * 4])
  local need = tonumber(ARGV[4 + (i - 1) * 4])
  local member = ARGV[5 + (i - 1) * 4]
  for j = 1, need do redis.call('ZADD', key, now, member .. ':' .. j) end
  redis.call('PEXPIRE', key, math.ceil(per * 1000) + 1000)
end
return '0'
"""


class Limiter:
    def __init__(self, store: Any, *, time_scale: float = 1.0, margin: float = 0.02):
        self.store = store
        self.time_scale = time_scale
        self.margin = margin  # seconds added to every window: latency between our clock and the API's
        self._take = store.redis.register_script(TAKE_LUA)

    async def take(self, limits: list[Limit], member: str) -> tuple[float, list[tuple[str, str]]]:
        """Room for one send in every limit at once -> (seconds to wait or 0, the (key, member) entries taken)."""
        if not limits:
            return 0.0, []
        need: dict[str, list[Any]] = {}
        for limit in limits:
            entry = need.setdefault(limit.key, [limit.count, limit.per * self.time_scale + self.margin, 0])
            entry[2] += 1
        tag = f"{member}:{uuid.uuid4().hex[:6]}"
        keys, args, taken = [], [repr(self.store.clock())], []
        for key, (count, per, n) in need.items():
            n = min(n, count)
            rate_key = self.store.keys.outbox_rate(key)
            keys.append(rate_key)
            args += [count, repr(per), n, tag]
            taken += [(rate_key, f"{tag}:{j}") for j in range(1, n + 1)]
        wait = float(await self._take(keys=keys, args=args))
        return wait, ([] if wait > 0 else taken)
