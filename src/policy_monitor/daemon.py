"""`monitor daemon`: APScheduler runs each source on its cron schedule (with jitter, coalesced, one check of
a source at a time); sources due at start-up (never checked, or missed while the daemon was down) are
checked once at once, however many fire times were missed. Due sources are batched into one pass of
`run.run_pass`, the same function `monitor run` uses, so the daemon and cron runs share leases: they never
check the same source at once. Pending deliveries are retried every minute, with per-delivery backoff.

Signals: SIGHUP re-reads sources.yaml (an invalid file keeps the old registry and logs why); SIGTERM and
SIGINT stop scheduling, give the checks in flight `STOP_GRACE` seconds to finish (a second signal stops at
once), and exit 0. Each source's check is one transaction, so stopping at any point leaves the database
consistent; a check cut short is simply done again later.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import socket
import threading
from datetime import timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import select

from . import __version__
from .errors import ConfigError, MonitorError
from .registry import Registry, load_registry
from .run import is_due, run_pass, sync_sources
from .store import Database
from .store.schema import SourceRow, utcnow

log = logging.getLogger(__name__)

STOP_GRACE = 5.0  # seconds the checks in flight get after SIGTERM before they are cancelled
DELIVERY_RETRY = 60  # seconds between passes over pending deliveries
PASS_RETRY = 60  # seconds before the sources of a pass that failed as a whole are queued again

Key = tuple[str, str]  # (vendor id, url)


def load_checked(sources_path: str) -> Registry:
    """The registry of `sources_path`, with its notification channels checked as `monitor` checks them on
    start (a channel that cannot work on this installation is a configuration error)."""
    from .notify import check_available

    registry = load_registry(sources_path)
    for i, ch in enumerate(registry.notify):
        try:
            check_available(ch)
        except MonitorError as e:
            raise ConfigError(f"{sources_path}: notify[{i}]: {e}") from None
    return registry


class Daemon:
    def __init__(self, sources_path: str, db: Database, registry: Registry | None = None):
        self.sources_path = sources_path
        self.db = db
        self.registry: Registry = registry if registry is not None else load_checked(sources_path)
        self.queue: set[Key] = set()  # due, waiting for the next batch
        self.in_flight: set[Key] = set()  # in the batch being checked now
        self.wake = asyncio.Event()
        self.stopped = asyncio.Event()
        self.hurry = asyncio.Event()  # a second SIGTERM/SIGINT: do not wait for the checks in flight
        self.stopping = False
        self.scheduler: AsyncIOScheduler | None = None
        self.busy = asyncio.Lock()  # a pass and the delivery retry never send the same delivery twice
        self.checks = 0
        self.reload_asked = False

    def _early_hup(self, signum: int, frame: object) -> None:
        self.reload_asked = True

    def serve(self) -> None:
        """Run until SIGTERM/SIGINT."""
        if threading.current_thread() is threading.main_thread():
            # until the event loop handles it, a SIGHUP (whose default action ends the process) is noted
            signal.signal(signal.SIGHUP, self._early_hup)
        asyncio.run(self.main())

    async def main(self) -> None:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(_log_loop_error)
        self.scheduler = AsyncIOScheduler(timezone="UTC", event_loop=loop)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
        loop.add_signal_handler(signal.SIGHUP, self.reload)
        try:
            if self.reload_asked:
                self.reload()
            self.schedule()
            self.scheduler.add_job(
                self.retry_deliveries,
                "interval",
                seconds=DELIVERY_RETRY,
                id="deliveries",
                coalesce=True,
                max_instances=1,
            )
            self.scheduler.start()
            log.info(
                "daemon %s started: %d vendors, %d sources from %s, database %s",
                __version__,
                len(self.registry.vendors),
                self.n_sources(),
                self.sources_path,
                self.db.engine.url.render_as_string(hide_password=True),
            )
            notify_systemd("READY=1")
            worker = asyncio.create_task(self.work())
            await self.stopped.wait()
            notify_systemd("STOPPING=1")
            self.wake.set()
            hurry = asyncio.create_task(self.hurry.wait())
            await asyncio.wait({worker, hurry}, timeout=STOP_GRACE, return_when=asyncio.FIRST_COMPLETED)
            hurry.cancel()
            if not worker.done():
                log.warning("checks still in flight: cancelled; they are done again on the next start")
                worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        finally:
            if self.scheduler.running:
                self.scheduler.shutdown(wait=False)
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(sig)
        log.info("daemon stopped after %d checks", self.checks)

    def n_sources(self) -> int:
        return sum(len(v.sources) for v in self.registry.vendors)

    # --- scheduling ---------------------------------------------------------------------------------------

    def schedule(self) -> None:
        """(Re)create one cron job per source and queue the ones due now: never checked, or a fire time of
        their schedule passed since their last check (missed while the daemon was down: caught up once)."""
        assert self.scheduler is not None
        ids = sync_sources(self.db, self.registry)  # the database first: if it fails, nothing has changed
        with self.db.session() as s:
            last = dict(s.execute(select(SourceRow.id, SourceRow.last_checked_at)).all())
        for job in self.scheduler.get_jobs():
            if job.id.startswith("source:"):
                job.remove()
        now = utcnow()
        reg = self.registry
        for v in reg.vendors:
            for src in v.sources:
                key = (v.id, src.url)
                trigger = CronTrigger.from_crontab(reg.schedule_of(src), timezone="UTC")
                trigger.jitter = int(reg.defaults.jitter) or None
                self.scheduler.add_job(
                    self.enqueue,
                    trigger,
                    args=[key],
                    id=f"source:{ids[key]}",
                    coalesce=True,
                    max_instances=1,
                    misfire_grace_time=3600,
                    replace_existing=True,
                )
                if key not in self.in_flight and is_due(reg, src, last.get(ids[key]), now, unscheduled_always=False):
                    self.queue.add(key)
        if self.queue:
            self.wake.set()

    def enqueue(self, key: Key) -> None:
        """A schedule fired. A source being checked right now is not queued again: that check counts."""
        if key in self.in_flight:
            log.debug("%s %s: still being checked, this fire is coalesced into that check", *key)
            return
        self.queue.add(key)
        self.wake.set()

    async def work(self) -> None:
        """Check whatever is queued, in batches, one batch at a time, until stopped."""
        while not self.stopping:
            await self.wake.wait()
            self.wake.clear()
            if self.stopping:
                break
            batch, self.queue = self.queue, set()
            if not batch:
                continue
            self.in_flight = batch
            try:
                async with self.busy:
                    summary = await run_pass(self.registry, self.db, only=batch, force=True)
                self.checks += summary.checked
                fields = {k: v for k, v in dataclasses.asdict(summary).items() if k != "not_due"}
                log.info("pass: %s", summary.line(), extra={"summary": fields})
            except MonitorError as e:
                log.error("pass failed, tried again in %d s: %s", PASS_RETRY, e)
                self.retry_later(batch)
            except Exception:  # noqa: BLE001 - a service keeps running (e.g. through a database restart)
                log.exception(
                    "unexpected error while checking %d source(s), tried again in %d s", len(batch), PASS_RETRY
                )
                self.retry_later(batch)
            finally:
                self.in_flight = set()

    def retry_later(self, batch: set[Key]) -> None:
        """A pass that failed as a whole (the database was unreachable, say) is queued again shortly,
        rather than waiting for the sources' next fire time."""
        if self.scheduler is not None and not self.stopping:
            when = utcnow() + timedelta(seconds=PASS_RETRY)
            self.scheduler.add_job(self.enqueue_all, "date", run_date=when, args=[batch])

    def enqueue_all(self, keys: set[Key]) -> None:
        for key in keys:
            self.enqueue(key)

    async def retry_deliveries(self) -> None:
        """Pending deliveries whose backoff has passed, on their own schedule (a pass in progress delivers
        them itself)."""
        from .notify.outbox import deliver_pending

        if self.busy.locked() or not self.registry.notify:
            return
        registry = self.registry
        names = {v.id: v.name for v in registry.vendors}
        loop = asyncio.get_running_loop()
        async with self.busy:
            try:
                sent, left = await loop.run_in_executor(
                    None, lambda: deliver_pending(self.db, registry.notify, names, respect_backoff=True, delays=())
                )
            except MonitorError as e:
                log.error("delivery retry failed: %s", e)
                return
        if sent or left:
            log.info("deliveries: %d sent, %d pending", sent, left)

    # --- signals ------------------------------------------------------------------------------------------

    def reload(self) -> None:
        """SIGHUP: re-read sources.yaml. A file that does not validate changes nothing."""
        try:
            registry = load_checked(self.sources_path)
        except MonitorError as e:
            log.error("reload refused, keeping the running registry: %s", e)
            return
        old = self.registry
        self.registry = registry
        try:
            self.schedule()
        except Exception as e:  # noqa: BLE001 - e.g. the database is unreachable: the schedules stay as they were
            self.registry = old
            log.error("reload failed, keeping the running registry: %s", e)
            return
        log.info("reloaded %s: %d vendors, %d sources", self.sources_path, len(registry.vendors), self.n_sources())

    def stop(self) -> None:
        """SIGTERM/SIGINT: no new checks; the ones in flight get STOP_GRACE seconds. A second signal stops now."""
        if self.stopping:
            log.info("stopping now")
            self.hurry.set()
            return
        log.info("stopping: letting the checks in flight finish (a second signal stops at once)")
        self.stopping = True
        self.stopped.set()
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.pause()


def notify_systemd(state: str) -> None:
    """Tell systemd (a unit with Type=notify) how the service is doing; nothing outside systemd."""
    path = os.environ.get("NOTIFY_SOCKET")
    if not path:
        return
    if path.startswith("@"):
        path = "\0" + path[1:]  # an abstract socket
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(path)
            sock.sendall(state.encode())
    except OSError as e:
        log.debug("could not notify systemd: %s", e)


def _log_loop_error(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    exc = context.get("exception")
    log.error("%s", context.get("message", "error in the event loop"), exc_info=exc)


__all__ = ["Daemon", "load_checked", "notify_systemd"]
