"""The event listener behind ``events:listen``.

It follows ``scheduler.events()`` and keeps routing right when containers move:

- a *reader* thread only reads events into a queue, so a slow rebuild never stalls the
  stream (dokku-event-listener ran ``proxy:build-config`` inside its event loop);
- the *worker* gathers a burst of events for ``debounce`` seconds and rebuilds every
  touched app in one ``build_all`` (one ``nginx -t``, one reload), with ``force=False`` so
  a file is rewritten only when its rendering changed;
- on ``die`` with an exhausted on-failure policy (restart count >= a positive maximum) it
  runs ``ps:rebuild``; ``always``/``unless-stopped`` have no maximum and never match, which
  is the loop dokku-event-listener's issue #425 was about; a per-app cooldown bounds it too;
- when the stream breaks (dockerd restarted) it reconnects with exponential backoff and
  resynchronises every app, because events were missed in between (listener #8, #30);
- where the store can ``watch``, a change of ports, domains, certs or nginx/proxy settings
  made by another process or host rebuilds that app;
- given a ``renew`` pass (``letsencrypt:auto-renew``'s), the loop starts it once shortly
  after start and then once a day (``DOCKYARD_RENEW_INTERVAL`` seconds, for tests), on the
  worker pool so a slow ACME server never stalls rebuilds; one pass at a time, and a failed
  pass is logged, never fatal.

Every action is logged with the app, the wall-clock time and how long it took.
"""

from __future__ import annotations

import functools
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dockyard.core.models import SchedulerEvent

if TYPE_CHECKING:
    from dockyard.propstores.base import PropertyStore
    from dockyard.proxy.base import Listeners
    from dockyard.schedulers.base import Scheduler

log = logging.getLogger("dockyard.events")

WATCHED_PLUGINS = ("ports", "domains", "certs", "nginx", "proxy")
_RESYNC = "resync"

#: seconds between certificate renewal passes (default a day); tests set it to seconds
RENEW_INTERVAL_ENV = "DOCKYARD_RENEW_INTERVAL"
RENEW_INTERVAL = 86400.0
#: the first pass runs this long after start (or after one interval, if that is shorter):
#: soon enough to catch what expired while nothing listened, late enough not to slow startup
RENEW_FIRST_DELAY = 60.0


def renew_schedule(environ: Mapping[str, str] | None = None) -> tuple[float, float]:
    """(interval, first delay) in seconds, from ``DOCKYARD_RENEW_INTERVAL`` or the defaults."""
    raw = (os.environ if environ is None else environ).get(RENEW_INTERVAL_ENV, "")
    interval = RENEW_INTERVAL
    if raw:
        try:
            interval = float(raw)
            if not interval > 0 or interval == float("inf"):
                raise ValueError(raw)
        except ValueError:
            log.warning("%s=%r is not a positive number of seconds; renewing once a day", RENEW_INTERVAL_ENV, raw)
            interval = RENEW_INTERVAL
    return interval, min(RENEW_FIRST_DELAY, interval)


@dataclass
class Stats:
    events: int = 0
    rebuilds: int = 0
    rewrites: int = 0
    redeploys: int = 0
    reconnects: int = 0
    renewal_passes: int = 0
    errors: list[str] = field(default_factory=list)


def _now() -> str:
    return time.strftime("%H:%M:%S")


def exhausted(event: SchedulerEvent) -> bool:
    """A die after which the engine will not restart the container any more."""
    return (event.restart_policy == "on-failure" and event.max_retries > 0
            and event.restart_count >= event.max_retries)


class EventListener:
    def __init__(self, store: PropertyStore, scheduler_factory: Callable[[], Scheduler],
                 scheduler_for: Callable[[str], Scheduler] | None = None, debounce: float = 0.05,
                 redeploy: Callable[[str], object] | None = None, backoff: tuple[float, float] = (0.5, 30.0),
                 redeploy_cooldown: float = 60.0, renew: Callable[[], object] | None = None,
                 renew_every: float = RENEW_INTERVAL, renew_first: float = RENEW_FIRST_DELAY,
                 clock: Callable[[], float] = time.monotonic,
                 scheduler_named: Callable[[str], Scheduler] | None = None, default_scheduler: str = "") -> None:
        self.store = store
        self.scheduler_factory = scheduler_factory
        # with scheduler_named, every scheduler some app selects is followed, not only the
        # default one (an app on swarm under a docker-local default is rerouted by swarm's events)
        self.scheduler_named = scheduler_named
        self.default_scheduler = default_scheduler
        self.scheduler_for = scheduler_for or (lambda app: scheduler_factory())
        self.debounce = debounce
        self.redeploy = redeploy or self._ps_rebuild
        self.backoff = backoff
        self.redeploy_cooldown = redeploy_cooldown
        self.stats = Stats()
        self._queue: queue.Queue[tuple[str, object]] = queue.Queue()
        self._stop = threading.Event()
        self._known: dict[str, dict[str, list[str]]] = {}
        self._last_redeploy: dict[str, float] = {}
        self._redeploying: set[str] = set()
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="dockyard-redeploy")
        self._thread: threading.Thread | None = None
        self.ready = threading.Event()
        # the renewal pass: ``renew`` returns what it did (its ``summary()`` is logged)
        self.renew = renew
        self.renew_every = renew_every
        self.renew_first = renew_first
        self.clock = clock
        self._next_renewal = clock() + renew_first
        self._renewing = threading.Lock()

    # ---- lifecycle ------------------------------------------------------------------------
    def start(self, max_events: int | None = None, max_seconds: float | None = None) -> None:
        """Run in a background thread (tests, embedding); ``stop()`` ends it."""
        self._thread = threading.Thread(target=self.run, args=(max_events, max_seconds), daemon=True,
                                        name="dockyard-events")
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def run(self, max_events: int | None = None, max_seconds: float | None = None) -> None:
        """Listen until stopped, ``max_events`` events were handled or ``max_seconds`` passed."""
        deadline = time.monotonic() + max_seconds if max_seconds is not None else None
        sources = self._sources()
        for name, factory in sources.items():
            threading.Thread(target=self._read, args=(factory,), daemon=True,
                             name=f"dockyard-events-{name or 'reader'}").start()
        self._start_watch()
        log.info("[%s] listening for events%s", _now(),
                 f" of {', '.join(sorted(sources))}" if len(sources) > 1 else "")
        self._next_renewal = self.clock() + self.renew_first
        try:
            while not self._stop.is_set():
                self.maybe_renew()
                if deadline is not None and time.monotonic() >= deadline:
                    break
                if max_events is not None and self.stats.events >= max_events:
                    break
                batch = self._gather(deadline)
                if batch:
                    self._handle(batch)
        finally:
            self._stop.set()
            self._pool.shutdown(wait=True)
            log.info("[%s] stopped after %d event(s), %d rebuild(s), %d redeploy(s)", _now(),
                     self.stats.events, self.stats.rebuilds, self.stats.redeploys)

    # ---- certificate renewal ------------------------------------------------------------
    def maybe_renew(self) -> bool:
        """Start a renewal pass if one is due and none runs; True if one was started.

        Called on every turn of the loop (at least every 0.2 s). The next pass is due one
        interval after this one started, so a slow pass never makes passes pile up.
        """
        if self.renew is None or self._stop.is_set():
            return False
        now = self.clock()
        if now < self._next_renewal or not self._renewing.acquire(blocking=False):
            return False
        self._next_renewal = now + self.renew_every
        try:
            self._pool.submit(self._renew_pass)
        except RuntimeError:  # the pool is shutting down: the listener is stopping
            self._renewing.release()
            return False
        return True

    def _renew_pass(self) -> None:
        assert self.renew is not None
        start = time.perf_counter()
        log.info("[%s] letsencrypt: renewal pass started", _now())
        try:
            done = self.renew()
            self.stats.renewal_passes += 1
            summary = done.summary() if hasattr(done, "summary") else str(done)
            failed = getattr(done, "failed", None)
            (log.warning if failed else log.info)("[%s] letsencrypt: renewal pass finished in %.2fs: %s", _now(),
                                                 time.perf_counter() - start, summary)
        except Exception as exc:
            self.stats.errors.append(str(exc))
            log.error("[%s] letsencrypt: renewal pass failed after %.2fs: %s (next in %.0fs)", _now(),
                      time.perf_counter() - start, exc, self.renew_every)
        finally:
            self._renewing.release()

    # ---- reading --------------------------------------------------------------------------
    def _sources(self) -> dict[str, Callable[[], Scheduler]]:
        """The schedulers to follow, by name: the default one, and with ``scheduler_named``
        every scheduler an app (or ``--global``) selects when the listener starts."""
        if self.scheduler_named is None:
            return {self.default_scheduler: self.scheduler_factory}
        from dockyard.core.properties import list_apps, selected_scheduler

        names = {self.default_scheduler} | {selected_scheduler(self.store, app, self.default_scheduler)
                                            for app in list_apps(self.store)}
        named = self.scheduler_named
        return {name: (self.scheduler_factory if name == self.default_scheduler
                       else functools.partial(named, name)) for name in sorted(names)}

    def _read(self, factory: Callable[[], Scheduler] | None = None) -> None:
        delay = self.backoff[0]
        first = True
        while not self._stop.is_set():
            connected_at = time.monotonic()
            try:
                scheduler = (factory or self.scheduler_factory)()
                stream = scheduler.events()
                # registered before the first event: everything after this point is seen
                self._queue.put((_RESYNC, "start" if first else "reconnect"))
                self.ready.set()
                first = False
                for event in stream:
                    if self._stop.is_set():
                        return
                    self._queue.put(("event", event))
                reason = "the event stream ended"
            except Exception as exc:
                reason = f"{type(exc).__name__}: {exc}"
            if self._stop.is_set():
                return
            if time.monotonic() - connected_at > 30:
                delay = self.backoff[0]  # it was healthy for a while: start over
            log.warning("[%s] lost the event stream (%s); reconnecting in %.1fs", _now(), reason, delay)
            self.stats.reconnects += 1
            self._stop.wait(delay)
            delay = min(delay * 2, self.backoff[1])

    def _start_watch(self) -> None:
        from dockyard.propstores.base import StoreCapability

        if StoreCapability.WATCH not in self.store.capabilities:
            log.info("[%s] the store cannot watch; changes from other hosts apply on their next rebuild", _now())
            return

        def watch() -> None:
            """Follow the store; when the watch breaks, reconnect with backoff and resync.

            A change made while the watch was down is never seen as an event, so after every
            reconnect (subscribed first, so nothing later is missed) every deployed app is
            rebuilt from what the store holds now: list, then watch.
            """
            delay = self.backoff[0]
            lost = False
            while not self._stop.is_set():
                try:
                    changes = self.store.watch("")
                    if lost:
                        log.info("[%s] store watch resumed; resyncing every app", _now())
                        self._queue.put((_RESYNC, "store watch reconnect"))
                    delay = self.backoff[0]
                    for change in changes:
                        if self._stop.is_set():
                            return
                        if change.plugin in WATCHED_PLUGINS:
                            self._queue.put(("watch", change.scope))
                    reason = "the stream ended"
                except Exception as exc:
                    reason = str(exc)
                if self._stop.is_set():
                    return
                lost = True
                log.warning("[%s] store watch lost (%s); reconnecting in %.1fs", _now(), reason, delay)
                self._stop.wait(delay)
                delay = min(delay * 2, self.backoff[1])

        threading.Thread(target=watch, daemon=True, name="dockyard-events-watch").start()

    def _gather(self, deadline: float | None) -> list[tuple[str, object]]:
        """The next burst: block for one item, then take whatever arrives within ``debounce``."""
        wait = 0.2 if deadline is None else max(0.0, min(0.2, deadline - time.monotonic()))
        try:
            batch = [self._queue.get(timeout=wait)]
        except queue.Empty:
            return []
        until = time.monotonic() + self.debounce
        while True:
            left = until - time.monotonic()
            if left <= 0:
                break
            try:
                batch.append(self._queue.get(timeout=left))
            except queue.Empty:
                break
        return batch

    # ---- handling -------------------------------------------------------------------------
    def _apps(self) -> list[str]:
        from dockyard.core.plan import is_deployed
        from dockyard.core.properties import list_apps

        return [a for a in list_apps(self.store) if is_deployed(self.store, a)]

    def _handle(self, batch: list[tuple[str, object]]) -> None:
        touched: dict[str, str] = {}
        for kind, item in batch:
            if kind == _RESYNC:
                for app in self._apps():
                    touched.setdefault(app, f"resync after {item}")
            elif kind == "watch":
                scope = str(item)
                targets = self._apps() if scope == "--global" else [scope]
                for app in targets:
                    touched.setdefault(app, "settings changed")
            elif kind == "event" and isinstance(item, SchedulerEvent):
                self.stats.events += 1
                event = item
                log.debug("[%s] %s %s %s", _now(), event.app, event.action, event.instance_id[:12])
                if event.action in ("start", "restart"):
                    touched.setdefault(event.app, f"{event.action} of {event.process_type or 'a container'}")
                elif event.action == "die" and exhausted(event):
                    self._schedule_redeploy(event)
        if touched:
            self._rebuild(touched)

    def _rebuild(self, touched: dict[str, str]) -> None:
        from dockyard.core.plan import app_listeners, is_deployed
        from dockyard.core.properties import app_exists
        from dockyard.core.routing import proxy_type

        start = time.perf_counter()
        by_type: dict[str, dict[str, Listeners]] = {}
        for app in touched:
            try:
                if not app_exists(self.store, app) or not is_deployed(self.store, app):
                    continue
                listeners = app_listeners(self.store, self.scheduler_for(app), app)
            except Exception as exc:
                log.warning("[%s] %s: cannot read listeners: %s", _now(), app, exc)
                continue
            flat = {proc: sorted(str(ls) for ls in items) for proc, items in listeners.items()}
            before = self._known.get(app)
            if before is not None and before != flat:
                log.info("[%s] %s: listeners changed %s -> %s", _now(), app, before, flat)
            self._known[app] = flat
            by_type.setdefault(proxy_type(self.store, app), {})[app] = listeners
        from dockyard.core import load_proxy
        from dockyard.core.routing import build

        for kind, listeners_by_app in by_type.items():
            try:
                results = build(load_proxy(kind, self.store), self.store, listeners_by_app, force=False)
            except Exception as exc:
                self.stats.errors.append(str(exc))
                log.error("[%s] %s: proxy rebuild failed: %s", _now(), ", ".join(listeners_by_app), exc)
                continue
            took = time.perf_counter() - start
            self.stats.rebuilds += 1
            for r in results:
                if not r.ok:
                    self.stats.errors.append(r.message)
                    log.error("[%s] %s (%s): config rejected, previous one kept: %s", _now(), r.app,
                              touched[r.app], r.message)
                elif r.changed:
                    self.stats.rewrites += 1
                    log.info("[%s] %s (%s): proxy config rewritten and reloaded in %.3fs", _now(), r.app,
                             touched[r.app], took)
                else:
                    log.info("[%s] %s (%s): proxy config unchanged (%.3fs)", _now(), r.app, touched[r.app], took)

    def _schedule_redeploy(self, event: SchedulerEvent) -> None:
        app = event.app
        now = time.monotonic()
        if app in self._redeploying or now - self._last_redeploy.get(app, -1e9) < self.redeploy_cooldown:
            log.info("[%s] %s: restart policy exhausted again; a rebuild ran or runs already", _now(), app)
            return
        self._redeploying.add(app)
        self._last_redeploy[app] = now
        log.info("[%s] %s: %s died after %d/%d restarts; running ps:rebuild", _now(), app,
                 event.process_type or "a container", event.restart_count, event.max_retries)

        def job() -> None:
            start = time.perf_counter()
            try:
                self.redeploy(app)
                self.stats.redeploys += 1
                log.info("[%s] %s: ps:rebuild finished in %.2fs", _now(), app, time.perf_counter() - start)
            except Exception as exc:
                self.stats.errors.append(str(exc))
                log.error("[%s] %s: ps:rebuild failed after %.2fs: %s", _now(), app, time.perf_counter() - start,
                          exc)
            finally:
                self._redeploying.discard(app)

        self._pool.submit(job)

    def _ps_rebuild(self, app: str) -> object:
        from dockyard.core.deploy import rebuild_app

        return rebuild_app(self.store, self.scheduler_for(app), app)
