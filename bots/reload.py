"""FAQ reload without a restart: `supportbot faq reload`, or SIGHUP to a `supportbot run` process.

``request_reload(store)`` (what `supportbot faq reload` does) counts the request in Redis (``faq:reload``, a
generation number) and publishes it on the channel of the same name. Every `supportbot run` process runs a
``FaqReloader``: it listens on that channel (and, after a lost connection, compares the generation with the last
one it saw, so a request made meanwhile is not missed), and on SIGHUP. Each request makes it load the FAQ from
``FAQ_PATH`` again and validate it, off the event loop; a good FAQ replaces the desk's matcher and entries in one
step between two events (no event is dropped or sees half of each); a broken one is logged with the file, the
entry and the reason, and the FAQ in use stays.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from typing import Any

from bots import metrics
from core.faq import FaqMatcher

log = logging.getLogger(__name__)


async def request_reload(store: Any) -> int:
    """Ask every running process to reload the FAQ; returns how many were listening."""
    name = store.keys.faq_reload
    generation = await store.redis.incr(name)
    return int(await store.redis.publish(name, str(generation)))


def swap_matcher(desk: Any, matcher: FaqMatcher) -> None:
    """The desk answers from ``matcher`` from the next event on (no await in here: nothing runs in between)."""
    entries = {e.id: e for e in matcher.entries}
    desk.matcher, desk.entries = matcher, entries


class FaqReloader:
    """Reloads the FAQ of ``core`` (a ``bots.app.Core``) on request: ``run`` until cancelled.

    ``load`` builds a validated matcher from the settings (default ``bots.app.build_matcher``); ``backoff``:
    seconds before listening again after Redis went away."""

    def __init__(self, core: Any, *, load: Callable[[Any], FaqMatcher] | None = None, backoff: float = 1.0):
        if load is None:
            from bots.app import build_matcher

            load = build_matcher
        self.core = core
        self.load = load
        self.backoff = backoff
        self.listening = asyncio.Event()  # subscribed (and SIGHUP handled, when asked): requests are seen now
        self.attempts = 0  # reloads tried so far (a test waits for this to move)
        self._wake = asyncio.Event()
        self._tried = asyncio.Condition()
        self._generation: int | None = None

    def request(self) -> None:
        """Reload soon (requests that come while one is running make one more reload, not one each)."""
        self._wake.set()

    async def reload(self) -> bool:
        """Load, validate and swap in the FAQ now; False (the old FAQ kept, the error logged) when it is broken."""
        desk = self.core.desk
        path = self.core.settings.faq_path
        try:
            matcher = await asyncio.to_thread(self.load, self.core.settings)
        except Exception as e:  # FaqError names file, entry and reason; OSError: the path went away
            metrics.faq_reload_failed()
            log.error("FAQ reload from %s failed; still answering from the FAQ loaded before: %s", path, e)
            ok = False
        else:
            swap_matcher(desk, matcher)
            metrics.faq_loaded(len(matcher.entries), "ok")
            log.info("FAQ reloaded from %s: %d entries", path, len(matcher.entries))
            ok = True
        async with self._tried:
            self.attempts += 1
            self._tried.notify_all()
        return ok

    async def wait_attempts(self, n: int, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Until ``n`` reloads have been tried (a barrier for tests)."""
        async with asyncio.timeout(timeout), self._tried:
            await self._tried.wait_for(lambda: self.attempts >= n)

    async def run(self, *, signals: bool = False) -> None:
        """Reload on every request until cancelled; ``signals``: SIGHUP requests one too (main thread only)."""
        metrics.faq_loaded(len(self.core.desk.entries))
        loop = asyncio.get_running_loop()
        hup = False
        if signals and hasattr(signal, "SIGHUP"):
            try:
                loop.add_signal_handler(signal.SIGHUP, self._on_sighup)
                hup = True
            except (NotImplementedError, RuntimeError, ValueError) as e:  # not the main thread, no signals here
                log.warning("FAQ reload: SIGHUP not handled (%s); `supportbot faq reload` still works", e)
        listener = asyncio.create_task(self._listen(), name="faq-reload-listen")
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                await self.reload()
        finally:
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)
            if hup:
                loop.remove_signal_handler(signal.SIGHUP)

    def _on_sighup(self) -> None:
        log.info("SIGHUP: reloading the FAQ")
        self.request()

    async def _listen(self) -> None:
        store = self.core.store
        name = store.keys.faq_reload
        while True:
            pubsub = store.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(name)
                generation = int(await store.redis.get(name) or 0)
                if self._generation is not None and generation != self._generation:
                    log.info("FAQ reload was requested while Redis was away")
                    self.request()
                self._generation = generation
                self.listening.set()
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        with contextlib.suppress(TypeError, ValueError):
                            self._generation = int(message["data"])
                        log.info("FAQ reload requested")
                        self.request()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # Redis away: listen again later (the generation tells what was missed)
                log.warning("FAQ reload: cannot listen for requests (%r); trying again in %.0fs", e, self.backoff)
                await asyncio.sleep(self.backoff)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
