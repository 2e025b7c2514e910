"""A unit of work: everything one event does to Redis, applied at once or not at all.

``Store.begin`` takes the event's lane (one customer: their events are handled one at a time, by any process)
and loads the customer's state in one round trip; it says "duplicate" instead when the event was handled
already. The desk then reads what else it needs through the unit (cached) and *writes* only into the unit's
buffer. ``commit`` applies the buffer, the dedup mark and the outbox entries in one Lua step, and only while
the lane is still ours: a process that stalled past its lease commits nothing, and the event is handled again
by whoever holds the lane now. A process killed before the commit leaves no trace but an expiring lease.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from core.cases import Case
from core.messages import Attachment, UserRef

if TYPE_CHECKING:
    from core.store import Store

DEDUP_TTL = 7 * 24 * 3600
RECENT_MAX = 30

# KEYS: lane, dedup, user hash, open pointer, banned set, the user's case list. ARGV: token, ttl ms, has lane,
# has dedup, user member.
# -> {0} duplicate, {-1} lane busy, {1, open case id or '', banned 0/1, last case id or '', user hash fields...}
BEGIN_LUA = """
if ARGV[4] == '1' and redis.call('EXISTS', KEYS[2]) == 1 then return {0} end
if ARGV[3] == '1' then
  if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return {-1} end
end
local last = redis.call('LRANGE', KEYS[6], -1, -1)
local out = {1, redis.call('GET', KEYS[4]) or '', redis.call('SISMEMBER', KEYS[5], ARGV[5]), last[1] or ''}
local h = redis.call('HGETALL', KEYS[3])
for i = 1, #h do out[#out + 1] = h[i] end
return out
"""

# KEYS: lane (or none). ARGV: token, the ops as a JSON list of [command, args...] (one argument: cheap to send).
# Applies every op only while the lane is ours, then lets the lane go. -> 1 applied, 0 lane lost.
# One op is not a Redis command: ['!WAKE', list, counter, n] pushes the next number of ``counter`` onto ``list``
# (a numbered wake-up token: ``bots.delivery.outbox``) and keeps the newest ``n``.
COMMIT_LUA = """
if #KEYS > 0 and redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local unpack_ = table.unpack or unpack
for _, op in ipairs(cjson.decode(ARGV[2])) do
  if op[1] == '!WAKE' then
    redis.call('LPUSH', op[2], redis.call('INCR', op[3]))
    redis.call('LTRIM', op[2], 0, tonumber(op[4]) - 1)
  else
    redis.call(unpack_(op))
  end
end
if #KEYS > 0 then redis.call('DEL', KEYS[1]) end
return 1
"""


def log_entry(who: str, text: str, attachments: Iterable[Attachment], ts: float) -> str:
    files = [{"kind": a.kind, "name": a.filename} for a in attachments]
    return json.dumps({"who": who, "text": text, "ts": ts, "files": files}, ensure_ascii=False)


class Unit:
    def __init__(
        self,
        store: Store,
        lane: str | None,
        token: str,
        dedup: str | None,
        user: UserRef | None = None,
        loaded: list[Any] | None = None,
    ):
        self.store = store
        self.keys = store.keys
        self.lane = lane
        self.token = token
        self.dedup = dedup
        self.now = store.clock()
        self.ops: list[list[str]] = []
        self._users: dict[str, dict[str, str]] = {}
        self._open: dict[str, int | None] = {}
        self._banned: dict[str, bool] = {}
        self._cases: dict[int, Case | None] = {}
        self._recent_added: dict[str, list[str]] = {}
        self._last: dict[str, int | None] = {}  # the customer's latest case id (loaded by begin)
        self.done = False
        self.forgotten: set[str] = set()  # customers deleted by this unit (``forget_customer``): nothing more to keep
        if user is not None and loaded is not None:
            open_id, banned, last, flat = loaded[1], loaded[2], loaded[3], loaded[4:]
            self._open[user.key] = int(open_id) if open_id else None
            self._banned[user.key] = bool(int(banned))
            self._last[user.key] = int(last) if last else None
            self._users[user.key] = dict(zip(flat[::2], flat[1::2], strict=True))

    @property
    def redis(self) -> Any:
        return self.store.redis

    # ------------------------------------------------------------------ reads (cached)
    async def get_user(self, user: UserRef) -> dict[str, str]:
        if user.key not in self._users:
            self._users[user.key] = await self.redis.hgetall(self.keys.user(user))
        return dict(self._users[user.key])

    async def is_banned(self, user: UserRef) -> bool:
        if user.key not in self._banned:
            self._banned[user.key] = bool(await self.redis.sismember(self.keys.banned, user.key))
        return self._banned[user.key]

    async def open_case_of(self, user: UserRef) -> Case | None:
        if user.key not in self._open:
            raw = await self.redis.get(self.keys.open(user))
            self._open[user.key] = int(raw) if raw else None
        case_id = self._open[user.key]
        return await self.get_case(case_id) if case_id else None

    async def get_case(self, case_id: int) -> Case | None:
        if case_id not in self._cases:
            self._cases[case_id] = await self.store.get_case(case_id)
        return self._cases[case_id]

    async def last_case_of(self, user: UserRef) -> Case | None:
        """The customer's latest case, open or not (None: they never had one)."""
        if user.key not in self._last:
            cases = await self.cases_of(user, last=1)
            return cases[-1] if cases else None
        case_id = self._last[user.key]
        return await self.get_case(case_id) if case_id else None

    async def cases_of(self, user: UserRef, last: int = 10) -> list[Case]:
        cases = await self.store.cases_of(user, last)
        return [self._cases.get(c.id) or c for c in cases]

    async def transcript(self, case_id: int, last: int = 0) -> list[dict[str, Any]]:
        return await self.store.transcript(case_id, last)

    async def recent(self, user: UserRef) -> list[str]:
        """The conversation before a handoff, with what this unit added to it."""
        stored = await self.redis.lrange(self.keys.user_recent(user), 0, -1)
        return (stored + self._recent_added.get(user.key, []))[-RECENT_MAX:]

    async def lookup(self, kind: str, native_id: str | int) -> int | None:
        return await self.store.lookup(kind, native_id)

    async def dropped(self, user: UserRef) -> int:
        return int(await self.redis.hget(self.keys.banned_dropped, user.key) or 0)

    async def next_case_id(self) -> int:
        """A fresh case number (taken now: a unit that never commits leaves a gap, never a repeat)."""
        return await self.store.next_case_id()

    # ------------------------------------------------------------------ writes (buffered until commit)
    def op(self, *args: object) -> None:
        self.ops.append([str(a) for a in args])

    def update_user(self, user: UserRef, **fields: str | None) -> None:
        key = self.keys.user(user)
        state = self._users.setdefault(user.key, {})
        drop = [f for f, v in fields.items() if v is None]
        keep = {f: v for f, v in fields.items() if v is not None}
        if keep:
            self.op("HSET", key, *[x for kv in keep.items() for x in kv])
            state.update(keep)
        if drop:
            self.op("HDEL", key, *drop)
            for f in drop:
                state.pop(f, None)

    def push_recent(self, user: UserRef, who: str, text: str, attachments: Iterable[Attachment] = ()) -> None:
        key = self.keys.user_recent(user)
        entry = log_entry(who, text, attachments, self.now)
        self._recent_added.setdefault(user.key, []).append(entry)
        self.op("RPUSH", key, entry)
        self.op("LTRIM", key, -RECENT_MAX, -1)

    def log(self, case_id: int, who: str, text: str, attachments: Iterable[Attachment] = ()) -> None:
        self.op("RPUSH", self.keys.case_log(case_id), log_entry(who, text, attachments, self.now))

    def record(self, type_: str, *, text: str | None = None, **fields: Any) -> None:
        """Append one event to the log (kept ``EVENTS_RETENTION_DAYS``): ``type`` and ``ts`` plus the given fields
        (None left out); the managers' figures it counts in are updated in the same commit (``core.stats.tally``).
        A customer's ``text`` (a question the FAQ missed, a rating's comment) goes to the figures only, where
        ``/forget`` finds it (``forget_figures``), never to the log."""
        kept = {k: str(v) for k, v in fields.items() if v is not None}
        flat = ["type", type_, "ts", repr(self.now), *(x for kv in kept.items() for x in kv)]
        tally = self.store.tally
        self.op("XADD", self.keys.events, "MINID", "~", tally.min_id(self.now), "*", *flat)
        self.ops.extend(tally.ops(type_, {**kept, "text": text} if text else kept, self.now))

    def count(self, name: str, **where: Any) -> None:
        """Add to a managers' figure directly (``core.stats.tally.Tally.count``: conversations, deflection)."""
        self.ops.extend(self.store.tally.count(name, self.now, **where))

    def create_case(self, case: Case, transcript: list[str]) -> None:
        """A new case (its id from ``next_case_id``) becomes the customer's open case."""
        user = case.customer
        self.op("HSET", self.keys.case(case.id), *[x for kv in case.to_hash().items() for x in kv])
        self.op("SET", self.keys.open(user), case.id)
        self.op("RPUSH", self.keys.user_cases(user), case.id)
        self.op("SADD", self.keys.cases_open, case.id)
        if transcript:
            self.op("RPUSH", self.keys.case_log(case.id), *transcript)
        self.op("DEL", self.keys.user_recent(user))
        self._cases[case.id] = case
        self._open[user.key] = case.id
        self._last[user.key] = case.id

    def save_case(self, case: Case) -> None:
        """Write a case back; a case that is no longer open stops being the customer's open case."""
        self.op("HSET", self.keys.case(case.id), *[x for kv in case.to_hash().items() for x in kv])
        self._cases[case.id] = case
        if not case.is_open:
            self.op("SREM", self.keys.cases_open, case.id)
            if self._open.get(case.customer.key) == case.id:
                self.op("DEL", self.keys.open(case.customer))
                self._open[case.customer.key] = None

    def reopen_case(self, case: Case) -> None:
        """A resolved case becomes the customer's open case again (the caller checked there is no other)."""
        self.op("SET", self.keys.open(case.customer), case.id)
        self.op("SADD", self.keys.cases_open, case.id)
        self.save_case(case)
        self._open[case.customer.key] = case.id

    def link(self, kind: str, native_id: str | int, case_id: int, ttl: int | None = None) -> None:
        if ttl:
            self.op("SET", self.keys.ref(kind, native_id), case_id, "EX", ttl)
        else:
            self.op("SET", self.keys.ref(kind, native_id), case_id)

    def ban(self, user: UserRef) -> None:
        self.op("SADD", self.keys.banned, user.key)
        self._banned[user.key] = True

    def unban(self, user: UserRef) -> None:
        self.op("SREM", self.keys.banned, user.key)
        self._banned[user.key] = False

    def count_dropped(self, user: UserRef) -> None:
        self.op("HINCRBY", self.keys.banned_dropped, user.key, 1)

    # ------------------------------------------------------------------ /forget (core.desk.privacy)
    async def case_ids_of(self, user: UserRef) -> list[int]:
        """Every case id of the customer, oldest first."""
        return [int(i) for i in await self.redis.lrange(self.keys.user_cases(user), 0, -1)]

    def set_log_entry(self, case_id: int, index: int, entry: dict[str, Any]) -> None:
        """Rewrite one entry of a case's history, by its position (entries are only ever appended)."""
        self.op("LSET", self.keys.case_log(case_id), index, json.dumps(entry, ensure_ascii=False))

    def drop_case_extras(self, case_id: int, *names: str) -> None:
        """Remove extra fields of a stored case (``Case.extra``: ``save_case`` only ever adds them)."""
        if names:
            self.op("HDEL", self.keys.case(case_id), *(f"x_{name}" for name in names))

    def forget_customer(self, user: UserRef) -> None:
        """Delete every key of the customer alone: state, recent conversation, list of cases, open case pointer."""
        k = self.keys
        self.op("DEL", k.user(user), k.user_recent(user), k.user_cases(user), k.open(user))
        self._last[user.key] = None
        self.forgotten.add(user.key)
        self._users[user.key] = {}
        self._open[user.key] = None
        self._recent_added.pop(user.key, None)

    async def forget_figures(self, user: UserRef, case_ids: Iterable[int]) -> None:
        """Delete the customer's texts kept for the figures: their questions among the FAQ gaps, the comments on
        their cases' ratings (the counts stay). One read of every kept day's gaps: ``/forget`` is rare."""
        ids = {str(i) for i in case_ids}
        comments = await self.redis.zrange(self.keys.stats_comments, 0, -1)
        mine = [c for c in comments if str(json.loads(c).get("case")) in ids]
        if mine:
            self.op("ZREM", self.keys.stats_comments, *mine)
        tally = self.store.tally
        today = date.fromisoformat(tally.day(self.now))
        days = [(today - timedelta(days=n)).isoformat() for n in range(int(tally.retention_days) + 2)]
        pipe = self.redis.pipeline(transaction=False)
        for day in days:
            pipe.lrange(self.keys.stats_gaps(day), 0, -1)
        for day, rows in zip(days, await pipe.execute(), strict=True):
            for row in rows:
                if json.loads(row).get("customer") == user.key:
                    self.op("LREM", self.keys.stats_gaps(day), 0, row)

    # ------------------------------------------------------------------ the end
    async def commit(self) -> bool:
        """Apply every write, the dedup mark and let the lane go, atomically; False when the lane was lost."""
        if self.dedup:
            self.op("SET", self.keys.dedup(self.dedup), "1", "EX", DEDUP_TTL)
        args = [self.token, json.dumps(self.ops, ensure_ascii=False)]
        keys = [self.keys.lane(self.lane)] if self.lane else []
        self.done = True
        if not self.ops and not keys:
            return True
        return bool(await self.store.commit_script(keys=keys, args=args))

    async def abort(self) -> None:
        """Let the lane go without writing anything (the event will be handled again)."""
        if self.done:
            return
        self.done = True
        if self.lane:
            await self.store.release_lane(self.lane, self.token)
