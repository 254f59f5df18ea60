"""`monitor daemon`: APScheduler runs each source on its cron schedule (with jitter, coalesced, one check of
a source at a time); sources due at start-up (never checked, or missed while the daemon was down) are
checked once at once. Due sources are batched into one pass of `run.run_pass`, the same function
`monitor run` uses. Pending deliveries are retried every minute, with per-delivery backoff.

Signals: SIGHUP re-reads sources.yaml (an invalid file keeps the old registry and logs why); SIGTERM and
SIGINT stop scheduling, give the checks in flight a few seconds to finish, and exit 0. Each source's check
is one transaction, so stopping at any point leaves the database consistent.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import select

from .errors import MonitorError
from .registry import Registry, load_registry
from .run import is_due, run_pass, sync_sources
from .store import Database
from .store.schema import SourceRow, utcnow

log = logging.getLogger(__name__)

STOP_GRACE = 5.0  # seconds the checks in flight get after SIGTERM before they are cancelled
DELIVERY_RETRY = 60  # seconds between passes over pending deliveries


class Daemon:
    def __init__(self, sources_path: str, db: Database):
        self.sources_path = sources_path
        self.db = db
        self.registry: Registry = load_registry(sources_path)
        self.queue: set[tuple[str, str]] = set()
        self.wake = asyncio.Event()
        self.stopping = False
        self.scheduler: AsyncIOScheduler | None = None
        self.checks = 0

    def serve(self) -> None:
        asyncio.run(self.main())

    async def main(self) -> None:
        loop = asyncio.get_running_loop()
        self.wake = asyncio.Event()
        self.scheduler = AsyncIOScheduler(timezone="UTC", event_loop=loop)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
        loop.add_signal_handler(signal.SIGHUP, self.reload)
        self.schedule()
        self.scheduler.add_job(
            self.retry_deliveries, "interval", seconds=DELIVERY_RETRY, id="deliveries", coalesce=True, max_instances=1
        )
        self.scheduler.start()
        log.info("daemon started: %d vendors, %d sources", len(self.registry.vendors), self.n_sources())
        worker = asyncio.create_task(self.work())
        while not self.stopping:
            await asyncio.sleep(0.2)
        self.scheduler.shutdown(wait=False)
        self.wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(worker), timeout=STOP_GRACE)
        except TimeoutError:
            worker.cancel()
            try:
                await worker
            except asyncio.CancelledError:
                pass
        log.info("daemon stopped after %d checks", self.checks)

    def n_sources(self) -> int:
        return sum(len(v.sources) for v in self.registry.vendors)

    # --- scheduling ---------------------------------------------------------------------------------------

    def schedule(self) -> None:
        """(Re)create one cron job per source and queue the ones due now."""
        assert self.scheduler is not None
        for job in self.scheduler.get_jobs():
            if job.id.startswith("source:"):
                job.remove()
        ids = sync_sources(self.db, self.registry)
        with self.db.session() as s:
            last = dict(s.execute(select(SourceRow.id, SourceRow.last_checked_at)).all())
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
                if is_due(reg, src, last.get(ids[key]), now, unscheduled_always=False):
                    self.queue.add(key)
        if self.queue:
            self.wake.set()

    def enqueue(self, key: tuple[str, str]) -> None:
        self.queue.add(key)
        self.wake.set()

    async def work(self) -> None:
        """Check whatever is queued, in batches, until stopped."""
        while not self.stopping:
            await self.wake.wait()
            self.wake.clear()
            if self.stopping:
                break
            batch, self.queue = self.queue, set()
            if not batch:
                continue
            try:
                summary = await run_pass(self.registry, self.db, only=batch, force=True)
                self.checks += summary.checked
                log.info("checked %s", summary.line())
            except MonitorError as e:
                log.error("check failed: %s", e)
            except Exception:  # noqa: BLE001 - a service keeps running; the next schedule tries again
                log.exception("unexpected error while checking %d source(s)", len(batch))

    async def retry_deliveries(self) -> None:
        from .notify.outbox import deliver_pending

        names = {v.id: v.name for v in self.registry.vendors}
        loop = asyncio.get_running_loop()
        sent, left = await loop.run_in_executor(
            None, lambda: deliver_pending(self.db, self.registry.notify, names, respect_backoff=True, delays=())
        )
        if sent or left:
            log.info("deliveries: %d sent, %d pending", sent, left)

    # --- signals ------------------------------------------------------------------------------------------

    def reload(self) -> None:
        try:
            registry = load_registry(self.sources_path)
        except MonitorError as e:
            log.error("reload refused, keeping the running registry: %s", e)
            return
        self.registry = registry
        self.schedule()
        log.info("reloaded %s: %d vendors, %d sources", self.sources_path, len(registry.vendors), self.n_sources())

    def stop(self) -> None:
        if not self.stopping:
            log.info("stopping: letting the checks in flight finish")
        self.stopping = True


__all__ = ["Daemon"]
