"""Shared rate limits: sliding-window logs in Redis, checked and taken for every limit of a send at once.

Every channel declares, per message, the ``Limit``s one send counts against (a limit listed n times costs n
units, e.g. a created topic plus its card). A message is only sent when all its limits have room, checked and
taken in one Lua step, so processes never overrun them together.
"""

from __future__ import annotations

import uuid
from typing import Any

from bots.ports import Limit

# KEYS: rate keys (one per distinct limit). ARGV: now, booking id ('': do not book), then per key: count, per,
# need, member prefix. Returns 0 when taken, else the seconds to wait (as a string).
#
# A send that has to wait *books* its turn in each limit that holds it up: members ``b:{booking id}:{n}``,
# dated the earliest moment that limit has room after every booking made in it before, and counted like
# sends. The senders waiting for one window are so spread over the next windows in the order they came,
# instead of all trying again when the window opens and all but a few being turned away again. Asked again
# with the same booking id once its bookings are due, the take checks the sends in the window as it is now
# (sends are dated when they finish, so it may have filled since) and turns the bookings into sends dated now,
# or keeps them and says how long until there is room.
TAKE_LUA = """
local now, bid = tonumber(ARGV[1]), ARGV[2]
local function arg(i, k) return tonumber(ARGV[2 + (i - 1) * 4 + k]) end
local function keep(key, per)  -- until its latest entry has left the window
  local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  local upto = now
  if last[2] and tonumber(last[2]) > now then upto = tonumber(last[2]) end
  redis.call('PEXPIRE', key, math.ceil((upto - now + per) * 1000) + 1000)
end
local at, when, booked = now, {}, {}
for i, key in ipairs(KEYS) do
  local count, per, need = arg(i, 1), arg(i, 2), arg(i, 3)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - per)
  local t = now
  booked[i] = bid ~= '' and redis.call('ZSCORE', key, 'b:' .. bid .. ':1')
  if booked[i] then
    t = tonumber(booked[i])  -- our turn in this limit
  else
    -- after the bookings made before (bookings only: a send dated ahead by another host's clock is no queue)
    local ahead = redis.call('ZREVRANGEBYSCORE', key, '+inf', '(' .. now, 'WITHSCORES', 'LIMIT', 0, 16)
    for j = 1, #ahead, 2 do
      if string.sub(ahead[j], 1, 2) == 'b:' then
        if tonumber(ahead[j + 1]) > t then t = tonumber(ahead[j + 1]) end
        break
      end
    end
    local m = redis.call('ZCARD', key) + need - count  -- this many entries must have left the window
    if m >= 1 then
      local e = redis.call('ZRANGE', key, m - 1, m - 1, 'WITHSCORES')
      if tonumber(e[2]) + per > t then t = tonumber(e[2]) + per end
    end
  end
  when[i] = t
  if t > at then at = t end
end
if at <= now then
  -- every booking of ours is due and the other limits have room: do the sends made meanwhile leave room in
  -- the booked limits now? (the bookings that are due count no more: each is taken or re-checked like this)
  for i, key in ipairs(KEYS) do
    if booked[i] then
      local count, per, need = arg(i, 1), arg(i, 2), arg(i, 3)
      -- (up to a window ahead: a send dated later by another host's clock counts; the bookings beyond do not)
      local sends, flat = {}, redis.call('ZRANGEBYSCORE', key, '-inf', now + per, 'WITHSCORES')
      for j = 1, #flat, 2 do
        if string.sub(flat[j], 1, 2) ~= 'b:' then sends[#sends + 1] = tonumber(flat[j + 1]) end
      end
      local m = #sends + need - count
      if m >= 1 and sends[m] + per > at then at = sends[m] + per end
    end
  end
end
if at <= now then
  for i, key in ipairs(KEYS) do
    for j = 1, arg(i, 3) do
      if booked[i] then redis.call('ZREM', key, 'b:' .. bid .. ':' .. j) end
      redis.call('ZADD', key, now, ARGV[2 + (i - 1) * 4 + 4] .. ':' .. j)
    end
    keep(key, arg(i, 2))
  end
  return '0'
end
if bid ~= '' then
  for i, key in ipairs(KEYS) do
    if not booked[i] and when[i] > now then  -- held up by this limit: book the turn it gives
      for j = 1, arg(i, 3) do redis.call('ZADD', key, when[i], 'b:' .. bid .. ':' .. j) end
      keep(key, arg(i, 2))
    elseif booked[i] and tonumber(booked[i]) < at then  -- due, but the window is full: keep it, dated anew
      for j = 1, arg(i, 3) do redis.call('ZADD', key, 'XX', at, 'b:' .. bid .. ':' .. j) end
      keep(key, arg(i, 2))
    end
  end
end
return tostring(at - now)
"""


class Limiter:
    def __init__(self, store: Any, *, time_scale: float = 1.0, margin: float = 0.02):
        self.store = store
        self.time_scale = time_scale
        self.margin = margin  # seconds added to every window: latency between our clock and the API's
        self._take = store.redis.register_script(TAKE_LUA)

    async def take(self, limits: list[Limit], member: str, *, book: bool = True) -> tuple[float, list[tuple[str, str]]]:
        """Room for one send in every limit at once -> (seconds to wait or 0, the (key, member) entries taken).

        ``member`` names the send (the outbox entry): one that has to wait books its turn under that name
        (``book``), and taking again with the same name after the wait takes the booked room."""
        if not limits:
            return 0.0, []
        need: dict[str, list[Any]] = {}
        for limit in limits:
            entry = need.setdefault(limit.key, [limit.count, limit.per * self.time_scale + self.margin, 0])
            entry[2] += 1
        tag = f"{member}:{uuid.uuid4().hex[:6]}"
        keys, args, taken = [], [repr(self.store.clock()), member if book else ""], []
        for key, (count, per, n) in need.items():
            n = min(n, count)
            rate_key = self.store.keys.outbox_rate(key)
            keys.append(rate_key)
            args += [count, repr(per), n, tag]
            taken += [(rate_key, f"{tag}:{j}") for j in range(1, n + 1)]
        wait = float(await self._take(keys=keys, args=args))
        return wait, ([] if wait > 0 else taken)
