"""Delivery workers: send what the outbox holds, in order per destination, within the shared rate limits.

Any number of processes run ``Delivery.run``. A worker claims due destinations (``Outbox.claim``), takes
room in every limit of the send, calls the channel and marks the entry done. When the staff group's budget
is spent, the customer messages waiting for one topic are merged into one (texts joined, attachments kept)
instead of waiting one by one (relays marked ``flood``, from a customer past ``FLOOD_LIMIT``, whatever the
budget); a message whose content exists only as the native original (``copy_from`` with no text and no
attachments: a Telegram location, contact, poll...) is never merged.

Failures: ``DeliveryError.retry_after`` (HTTP 429) waits that long and retries; other transient errors retry
with exponential backoff (capped at ``max_backoff``) for as long as the message can still help: until
``give_up_after`` seconds after it was queued (``DELIVERY_GIVE_UP_AFTER``, hours by default), or
``max_attempts`` attempts when that is set. A permanent error, or the end of that time, hands a
``DeliveryReport`` event to the intake (the desk tells the other side, through the outbox again) and drops the
entry; nothing is dropped without a notice or an ERROR log naming it.
One send may take at most 80% of the lease: a send still running then is cancelled and counts as a transient
failure, so no other worker can take the destination while it is still being sent to. Redis being away does
not stop ``run``: it logs, backs off and carries on.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import inspect
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from bots import logs, metrics
from bots.delivery.limits import Limiter
from bots.delivery.outbox import Entry, Outbox, stubborn
from bots.ports import Channel, DeliveryError, EventSink, Media, SendContext
from core.events import DeliveryReport
from core.messages import Attachment, Audience, Outbound, StaffKind

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DeliveryOptions:
    """``time_scale`` multiplies every limit window and backoff (tests and the bench shrink time together with
    the API stand-in; production keeps 1.0)."""

    time_scale: float = 1.0
    give_up_after: float = 6 * 3600.0  # seconds after queueing (scaled by time_scale)
    max_attempts: int | None = None  # give up after this many failed attempts too (None: time decides)
    backoff: float = 1.0
    max_backoff: float = 300.0
    concurrency: int = 64
    lease_seconds: float = 120.0
    margin: float = 0.02
    idle_wait: float = 1.0  # an idle worker asks Redis at most this often (it is woken sooner by new entries)


class Delivery:
    def __init__(
        self,
        outbox: Outbox,
        channels: Mapping[str, Channel],
        staff: Any,
        report: EventSink,
        options: DeliveryOptions = DeliveryOptions(),
    ):
        self.outbox = outbox
        # the destination's lease in Redis and the send budget (80% of it) must agree: a send may never outlive
        # its lease (another worker would take the destination and send again)
        outbox.lease_seconds = options.lease_seconds
        self.channels = dict(channels)
        self.staff = staff
        self.report = report
        self.options = options
        self.clock = outbox.clock
        self.limiter = Limiter(outbox.store, time_scale=options.time_scale, margin=options.margin)
        self.stats = {"sent": 0, "retried": 0, "rate_limited": 0, "merged": 0, "failed": 0, "throttled": 0}
        self._busy: dict[str, asyncio.Task] = {}
        self._full = False  # the last claim took as many destinations as there was room for: more may be due

    async def fetch_media(self, attachment: Attachment) -> Media:
        """The bytes of an attachment, downloaded from the channel that received it (or carried inline: a chart)."""
        if attachment.channel == "inline" and attachment.ref.startswith("data:"):
            header, _, data = attachment.ref.partition(",")
            mime = header.removeprefix("data:").partition(";")[0] or None
            return Media(base64.b64decode(data), attachment.filename or "file", mime)
        channel = self.channels.get(attachment.channel)
        if channel is None:
            raise DeliveryError(f"no channel {attachment.channel!r} to download the file from", permanent=True)
        return await channel.download(attachment)

    async def run(self) -> None:
        """Send until cancelled. Safe to run in any number of processes at once."""
        me = asyncio.current_task()
        failures = 0
        try:
            while True:
                try:
                    await self._tick(wait=True)
                    failures = 0
                except asyncio.CancelledError:
                    raise
                except Exception as e:  # Redis away, a script error...: the outbox waits, the process lives on
                    failures += 1
                    delay = min(self.options.max_backoff, 0.5 * 2 ** min(failures - 1, 8))
                    log.error("outbox: cannot reach the queue (%r); retrying in %.1fs", e, delay)
                    await asyncio.sleep(delay)
                if me is not None and me.cancelling():  # a cancellation swallowed by a library: honour it
                    raise asyncio.CancelledError
        finally:
            for task in list(self._busy.values()):
                task.cancel()

    async def drain(self, timeout: float = 30.0) -> bool:  # noqa: ASYNC109
        """Send until the outbox is empty (True) or ``timeout`` passes (False). For tests and the bench."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._busy and await self.outbox.empty():
                return True
            await self._tick(wait=False)
            if self._busy:
                await asyncio.wait(list(self._busy.values()), timeout=0.05)
            else:
                await asyncio.sleep(0.005)
        return False

    async def _tick(self, wait: bool) -> None:
        free = self.options.concurrency - len(self._busy)
        entries: list[Entry] = []
        next_due = None
        self._full = free <= 0
        if free > 0:
            entries, next_due = await self.outbox.claim(free)
            self._full = len(entries) >= free
        deferred = False
        for entry in entries:
            if entry.dest in self._busy:
                # this process is still at it (recording a send as done, Redis back after an outage that outlived
                # the lease): never a second sender of one destination; let it go, and look again shortly
                await self.outbox.later(entry, self.clock() + 0.05)
                deferred = True
                continue
            task = asyncio.create_task(self._serve(entry))
            self._busy[entry.dest] = task
            task.add_done_callback(lambda t, d=entry.dest: self._busy.pop(d) if self._busy.get(d) is t else None)
        if not wait or deferred:
            await asyncio.sleep(0)
            return
        # what was due is claimed (a claimed destination is due again only when its lease ends): wait for the
        # next due time, a new entry, or a send of ours that leaves its destination more to send
        timeout = self.options.idle_wait
        if next_due is not None:
            timeout = min(timeout, max(0.0, next_due - self.clock()))
        if timeout > 0.002:
            await self.outbox.wait(timeout, tokens=free > 0)  # no free slot: a finished send of ours wakes us

    async def _serve(self, entry: Entry) -> None:
        logs.bind(case=entry.out.case_id or None, channel=metrics.out_channel(entry.out))  # this task's log lines
        more = True
        try:
            more = await self._send(entry)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("outbox: failure while serving %s", entry.dest)
            with contextlib.suppress(Exception):
                await self.outbox.later(entry, self.clock() + 1.0)
        finally:
            # no longer busy as soon as it is done (not a loop turn later: a claim of the destination's next
            # entry must not be taken for this one still running)
            if self._busy.get(entry.dest) is asyncio.current_task():
                del self._busy[entry.dest]
            if more or self._full:  # the destination has more (or is due again soon), or others wait for room
                self.outbox.woken()

    def _channel_for(self, out: Outbound) -> Any:
        if out.audience == Audience.STAFF:
            return self.staff
        return self.channels.get(out.to.channel) if out.to else None

    async def _send(self, entry: Entry) -> bool:
        """Serve the head entry; False when it went out (or was given up) and its destination has nothing more."""
        out = entry.out
        channel = self._channel_for(out)
        if channel is None:
            return await self._give_up(entry, f"no channel configured for {entry.dest}")
        staff = out.audience == Audience.STAFF
        limits_of = channel.staff_limits if staff else channel.limits
        started = bool(entry.fields.get("parts"))  # parts already went out: the message may no longer change
        if staff and not started and (out.kind == StaffKind.CASE_OPENED or _group(out)):
            entry.out = out = await self._fold(entry)
        if staff and not started and out.meta.get("flood") and _mergeable(out):  # a flooding customer: one message
            entry.out = out = await self._merge(entry, flood=True) or out  # (core.desk.privacy)
        limits = await _maybe(limits_of(out))
        if staff:
            metrics.staff_limits_used(limits)
        wait, taken = await self.limiter.take(limits, entry.id)
        if wait > 0 and not started and _mergeable(out):
            merged = await self._merge(entry)
            if merged is not None:
                entry.out = out = merged
                wait, taken = await self.limiter.take(await _maybe(limits_of(out)), entry.id)
        if wait > 0:
            self.stats["throttled"] += 1
            await self.outbox.later(entry, self.clock() + wait)
            return True
        ctx = SendContext(key=f"{self.outbox.store.prefix}{entry.id}", progress=self.outbox.progress(entry),
                          media=self.fetch_media)  # fmt: skip
        budget = self.options.lease_seconds * 0.8
        try:
            async with asyncio.timeout(budget):  # finish before the lease can pass on
                await (channel.send_staff(out, ctx) if staff else channel.send(out, ctx))
        except DeliveryError as e:
            error: DeliveryError | None = e
        except TimeoutError:
            error = DeliveryError(f"no answer within {budget:.0f}s")
        except OSError as e:
            error = DeliveryError(f"network error: {e!r}")
        except Exception as e:
            log.exception("outbox: unexpected error sending %s", entry.id)
            error = DeliveryError(f"internal error: {e!r}")
        else:
            error = None
        if error is not None:
            return await self._failed(entry, error)
        self.stats["sent"] += 1
        metrics.delivered(out, entry.created, self.clock())
        # it went out: recorded whatever it takes (Redis away for a while), or it would be sent again
        return await stubborn(lambda: self.outbox.done(entry, taken, ctx.links), f"{entry.id} as sent")

    async def _fold(self, entry: Entry) -> Outbound:
        """A case's card takes in the customer messages queued behind it (they ride inside the card: a new case
        costs the staff group the topic and the card, not one message more per early message); an album's
        parts become one message (one copy of them all)."""
        head = entry.out
        card = head.kind == StaffKind.CASE_OPENED
        group = _group(head)
        text, attachments = head.text, list(head.attachments)
        copies: list[dict[str, str]] = list(head.meta.get("copies") or [])
        if group and head.copy_from is not None and not copies:
            copies.append({"chat_id": head.copy_from.chat_id, "message_id": head.copy_from.message_id})
        absorbed: list[str] = []
        for other_id, other in await self.outbox.following(entry):
            if other is None or other.kind != StaffKind.CUSTOMER_MESSAGE or other.meta.get("copies"):
                break
            ref = other.copy_from
            if group and (ref is None or ref.group != group):
                break
            if card and ref is not None and ref.channel == "telegram" and (other.attachments or not other.text):
                copies.append({"chat_id": ref.chat_id, "message_id": ref.message_id})  # files: copied as they are
            elif card:
                who = other.meta.get("name") or ""
                text += f"\n👤 {who}: {other.text}" if other.text else ""
                attachments += other.attachments
            else:
                copies.append({"chat_id": ref.chat_id, "message_id": ref.message_id})
            absorbed.append(other_id)
        if not absorbed:
            return head
        meta = {**head.meta, "copies": copies} if copies else dict(head.meta)
        if group:
            meta["merged"] = len(copies)
        folded = replace(head, text=text, attachments=tuple(attachments), meta=meta)
        await self.outbox.replace_out(entry, folded, absorbed)
        self.stats["merged"] += len(absorbed)
        return folded

    async def _merge(self, entry: Entry, flood: bool = False) -> Outbound | None:
        """Fold the customer messages queued right behind the head (same topic) into it; None if none.
        ``flood``: only those marked ``flood`` too (merged whatever the budget)."""
        parts: list[Outbound] = []
        absorbed: list[str] = []
        for other_id, other in await self.outbox.following(entry):
            if other is None or not _mergeable(other) or (flood and not other.meta.get("flood")):
                break
            parts.append(other)
            absorbed.append(other_id)
        if not parts:
            return None
        head = entry.out
        items = [head, *parts]
        merged_count = int(head.meta.get("merged", 1)) + sum(int(o.meta.get("merged", 1)) for o in parts)
        merged = replace(
            head,
            text="\n".join(o.text for o in items if o.text),
            attachments=tuple(a for o in items for a in o.attachments),
            copy_from=None,
            meta={**head.meta, "merged": merged_count},
        )
        await self.outbox.replace_out(entry, merged, absorbed)
        self.stats["merged"] += len(absorbed)
        return merged

    async def _failed(self, entry: Entry, e: DeliveryError) -> bool:
        now = self.clock()
        opts = self.options
        metrics.delivery_failed(entry.out, e)
        expired = now - entry.created >= opts.give_up_after * opts.time_scale
        if e.retry_after is not None and not e.permanent and not expired:
            self.stats["rate_limited"] += 1  # the platform said when: not an attempt that failed
            metrics.delivery_retry(entry.out)
            await self.outbox.later(
                entry, now + e.retry_after, rate_limited=int(entry.fields.get("rate_limited") or 0) + 1
            )
            return True
        out_of_tries = opts.max_attempts is not None and entry.attempts + 1 >= opts.max_attempts
        if not e.permanent and not expired and not out_of_tries:
            self.stats["retried"] += 1
            metrics.delivery_retry(entry.out)
            delay = min(opts.max_backoff, opts.backoff * 2 ** min(entry.attempts, 20)) * opts.time_scale
            log.info("outbox: %s to %s failed (%s); retry in %.2fs", entry.id, entry.dest, e.reason, delay)
            await self.outbox.later(entry, now + delay, attempts=entry.attempts + 1)
            return True
        return await self._give_up(entry, e.reason)

    async def _give_up(self, entry: Entry, reason: str) -> bool:
        """Tell the other side (through the intake, so it happens once), then drop the entry."""
        self.stats["failed"] += 1
        metrics.delivery_give_up(entry.out)
        log.warning("outbox: giving up on %s to %s: %s", entry.id, entry.dest, reason)
        await self.report(DeliveryReport(entry.out, reason, message_id=entry.id))
        return await self.outbox.done(entry, [])


async def _maybe(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


def _mergeable(out: Outbound) -> bool:
    """A relayed customer message that can be shown as text and files (not only as a copy of itself)."""
    return (
        out.audience == Audience.STAFF
        and out.kind == StaffKind.CUSTOMER_MESSAGE
        and bool(out.text or out.attachments)
        and not out.meta.get("copies")
    )


def _group(out: Outbound) -> str | None:
    """The album a relayed customer message belongs to (its parts are copied together)."""
    if out.kind != StaffKind.CUSTOMER_MESSAGE or out.copy_from is None:
        return None
    return out.copy_from.group
