"""Every Redis key the bot uses, built in one place. Every key starts with the configurable prefix (``sb:``).

=====================================  ======  =====================================================================
key                                    type    what
=====================================  ======  =====================================================================
case:seq                               string  the case-number counter (INCR; numbers are never reused)
case:{id}                              hash    a case (``core.cases.Case.to_hash``)
case:{id}:log                          list    transcript, one JSON object per message (who, text, ts, files)
case:{id}:meta                         hash    the staff front end's facts about a case (topic id, card message id)
cases:open                             set     ids of open cases
open:{channel}:{user_id}               string  id of the customer's open case on that channel (one at most)
user:{channel}:{user_id}               hash    customer state: language, name, offered buttons, pending rating
user:{channel}:{user_id}:cases         list    the customer's case ids, oldest first
user:{channel}:{user_id}:recent        list    the conversation before a handoff (capped), moved to the case
                                               (open, user, its cases and recent: what ``/forget`` deletes,
                                               ``Unit.forget_customer``; the user hash also counts this minute's
                                               messages, ``flood_min``/``flood_n``: ``core.desk.privacy``)
dedup:{event key}                      string  a handled event (``core.events.dedup_key``; expires after 7 days)
lane:{lane}                            string  the lease of one lane (a customer): one event at a time
ref:{kind}:{native id}                 string  native id -> case id (a staff topic; relayed messages expire)
banned                                 set     banned customers (``channel:user_id``)
banned:dropped                         hash    customer -> number of messages dropped while banned
events                                 stream  one entry per step (``Unit.record``), kept EVENTS_RETENTION_DAYS
stats:{scope}:d:{YYYY-MM-DD}           hash    managers' figures of one day (``core.stats.tally``): counters and
stats:{scope}:m:{YYYY-MM}              hash    latency sketches; the same for a month. Scopes: ``all``, ``ch``
                                               (fields ``{channel}|{metric}``), ``op`` (``{operator}|{metric}``),
                                               ``faq`` (``{metric}|{entry id}``). Kept for good; survive /forget
stats:gaps:{YYYY-MM-DD}                list    questions the FAQ did not settle that day (no match, "didn't help"),
                                               JSON: text, kind, entry, channel, customer, ts; expire after
                                               EVENTS_RETENTION_DAYS (``core.stats.gaps`` groups them)
stats:comments                         zset    rating comments (JSON: case, stars, operator, channel, text) by time
stats:view:{token}                     string  FAQ gap groups shown by /gaps, for its buttons (expires after 7 days)
lease:{name}                           string  a named lease (the Telegram poller, a topic being created...)
mem:{channel}:{name}:{key}             string  an adapter's small facts (``ChannelMemory``), e.g. VK names
memh:{channel}:{name}:{key}            hash    the same, as a hash (e.g. what a WhatsApp message was)
meml:{channel}:{name}                  list    an adapter's list for people to look at (VK updates parked)
outbox:msg:{id}                        hash    ``out`` (Outbound JSON), ``dest``, ``attempts``, ``created``,
                                               ``parts`` (JSON list of native ids sent so far)
outbox:q:{dest}                        list    entry ids of one destination, oldest first
outbox:ready                           zset    destination -> the earliest time its head may be tried
                                               (while a worker sends it: when its lease ends)
outbox:lease:{dest}                    string  the worker sending to that destination (expires)
outbox:rate:{limit key}                zset    sliding-window log of sends counted against one ``Limit``
outbox:wake                            list    a token per commit that queued something: idle workers block on it
outbox:wakes                           string  the latest wake-up token's number (a worker skips those its claim saw)
sla:due                                zset    first-response reminders: ``{case id}:{number}`` -> when it is due
                                               (``core.desk.sla`` schedules and clears them, ``bots.sla`` claims)
faq:reload                             string  FAQ reload requests so far (``supportbot faq reload``: INCR, then
                                               PUBLISH on the pub/sub channel of the same name; ``bots.reload``)
=====================================  ======  =====================================================================

Destinations: ``c:{channel}:{user_id}`` for a customer, ``s:{case_id}`` for a case's staff topic.
"""

from __future__ import annotations

from core.messages import UserRef


class Keys:
    __slots__ = ("prefix",)

    def __init__(self, prefix: str = "sb:"):
        self.prefix = prefix

    def _k(self, *parts: object) -> str:
        return self.prefix + ":".join(str(p) for p in parts)

    # cases
    @property
    def case_seq(self) -> str:
        return self._k("case", "seq")

    def case(self, case_id: int) -> str:
        return self._k("case", case_id)

    def case_log(self, case_id: int) -> str:
        return self._k("case", case_id, "log")

    def case_meta(self, case_id: int) -> str:
        return self._k("case", case_id, "meta")

    @property
    def cases_open(self) -> str:
        return self._k("cases", "open")

    # customers
    def open(self, user: UserRef) -> str:
        return self._k("open", user.key)

    def user(self, user: UserRef) -> str:
        return self._k("user", user.key)

    def user_cases(self, user: UserRef) -> str:
        return self._k("user", user.key, "cases")

    def user_recent(self, user: UserRef) -> str:
        return self._k("user", user.key, "recent")

    @property
    def banned(self) -> str:
        return self._k("banned")

    @property
    def banned_dropped(self) -> str:
        return self._k("banned", "dropped")

    # events, dedup, leases, links
    def dedup(self, event_key: str) -> str:
        return self._k("dedup", event_key)

    def lane(self, lane: str) -> str:
        return self._k("lane", lane)

    def lease(self, name: str) -> str:
        return self._k("lease", name)

    def ref(self, kind: str, native_id: str | int) -> str:
        return self._k("ref", kind, native_id)

    @property
    def events(self) -> str:
        return self._k("events")

    # adapters' memory
    def mem(self, channel: str, name: str, key: str | int) -> str:
        return self._k("mem", channel, name, key)

    def mem_hash(self, channel: str, name: str, key: str | int) -> str:
        return self._k("memh", channel, name, key)

    def mem_list(self, channel: str, name: str) -> str:
        return self._k("meml", channel, name)

    # outbox
    def outbox_msg(self, msg_id: str) -> str:
        return self._k("outbox", "msg", msg_id)

    def outbox_queue(self, dest: str) -> str:
        return self._k("outbox", "q", dest)

    @property
    def outbox_ready(self) -> str:
        return self._k("outbox", "ready")

    def outbox_lease(self, dest: str) -> str:
        return self._k("outbox", "lease", dest)

    def outbox_rate(self, limit_key: str) -> str:
        return self._k("outbox", "rate", limit_key)

    @property
    def outbox_wake(self) -> str:
        return self._k("outbox", "wake")

    @property
    def outbox_wakes(self) -> str:
        return self._k("outbox", "wakes")

    @property
    def sla_due(self) -> str:
        return self._k("sla", "due")

    # managers' figures (core.stats)
    def stats(self, scope: str, span: str) -> str:
        """``span``: ``d:YYYY-MM-DD`` (a day) or ``m:YYYY-MM`` (a month)."""
        return self._k("stats", scope, span)

    def stats_gaps(self, day: str) -> str:
        return self._k("stats", "gaps", day)

    @property
    def stats_comments(self) -> str:
        return self._k("stats", "comments")

    def stats_view(self, token: str) -> str:
        return self._k("stats", "view", token)

    @property
    def faq_reload(self) -> str:
        return self._k("faq", "reload")

    @property
    def outbox_prefix(self) -> str:
        return self._k("outbox", "")
