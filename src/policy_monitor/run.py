"""One pass over the registry: the pipeline `registry -> fetch -> normalise -> extract -> store -> compare ->
alert`, read top to bottom in `run_pass`. `monitor run` calls it once; the daemon calls it per source.

Which sources a pass checks: the ones asked for (`--vendor`), that are due by their cron `schedule` (a source
whose file sets no schedule at all is due on every run: cron decides the cadence), and that no other
process is checking right now (a lease in the database, so a cron run and the daemon never check the same
source at once).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import zlib
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, TypeGuard

import httpx
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from . import __version__, leases
from .alerts import raise_alert
from .fetch import Fetcher, FetchRequest, FetchResult, FetchSettings, site_of
from .mismatch import mismatch_alerts, sweep
from .page_workers import Analyser
from .record import Context, Recorded, record, record_new, record_unchanged
from .registry import Registry, Source, Vendor
from .render import BrowserFetcher
from .store import Database
from .store.schema import RobotsRow, SnapshotRow, SourceRow, utcnow

if TYPE_CHECKING:  # reading pages (selectolax, the extractor) is imported only when a page must be read
    from .analyse import Analysis

log = logging.getLogger(__name__)


@dataclass
class RunSummary:
    checked: int = 0
    new: int = 0
    unchanged: int = 0
    changed: int = 0
    failed: int = 0
    not_due: int = 0
    busy: int = 0
    alerts: int = 0
    delivered: int = 0
    undelivered: int = 0
    failures: list[tuple[str, str, str]] = field(default_factory=list)  # vendor, url, reason

    @property
    def exit_code(self) -> int:
        return 3 if self.failed else 0

    def line(self) -> str:
        parts = [
            f"checked {self.checked}",
            f"new {self.new}",
            f"unchanged {self.unchanged}",
            f"changed {self.changed}",
            f"failed {self.failed}",
            f"alerts {self.alerts}",
        ]
        if self.delivered or self.undelivered:
            parts.append(f"delivered {self.delivered}, undelivered {self.undelivered}")
        if self.not_due:
            parts.append(f"not due {self.not_due} (--force checks them)")
        if self.busy:
            parts.append(f"skipped {self.busy} being checked by another process")
        return ", ".join(parts)


@dataclass(frozen=True)
class Job:
    """One source to check, with the state its check needs."""

    vendor: Vendor
    source: Source
    row_id: int
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    has_snapshot: bool = False
    current_key: str | None = None  # canonical-text hash of the current snapshot
    varies: bool = False  # the last body seen was not the snapshot's: its bytes change from load to load

    @property
    def likely_read(self) -> bool:
        """Whether this check will probably have a page to read: never read, or bytes that vary."""
        return not self.has_snapshot or self.varies

    def request(self, registry: Registry) -> FetchRequest:
        return FetchRequest(
            url=self.source.url,
            timeout=registry.timeout_of(self.source),
            etag=self.etag if self.has_snapshot else None,
            last_modified=self.last_modified if self.has_snapshot else None,
            robots=registry.robots_of(self.source),
        )

    def needs_analysis(self, result: FetchResult) -> bool:
        """A body is read unless it is byte for byte the one behind the current snapshot."""
        return result.outcome == "ok" and not (self.has_snapshot and result.body_hash == self.body_hash)


def by_site(jobs: Sequence[Job]) -> list[Job]:
    """The jobs taking turns between sites (one of each site, then the second of each...), so that the
    checks under way at any moment spread over every site instead of queueing for the first few."""
    queues: dict[str, list[Job]] = {}
    for job in jobs:
        queues.setdefault(site_of(job.source.url), []).append(job)
    rounds = itertools.zip_longest(*queues.values())
    return [job for turn in rounds for job in turn if job is not None]


def fetch_settings(registry: Registry) -> FetchSettings:
    d = registry.defaults
    return FetchSettings(
        concurrency=d.concurrency,
        per_host=d.per_host,
        timeout=d.timeout,
        max_bytes=d.max_bytes,
        retries=d.retries,
    )


def sync_sources(db: Database, registry: Registry) -> dict[tuple[str, str], int]:
    """Make sure every source of the registry has a row; return (vendor id, url) -> row id."""
    query = select(SourceRow.id, SourceRow.vendor_id, SourceRow.url)
    with db.session() as s, s.begin():
        rows = {(vid, url): rid for rid, vid, url in s.execute(query)}
        new = [
            {"vendor_id": v.id, "url": src.url, "consecutive_failures": 0}
            for v in registry.vendors
            for src in v.sources
            if (v.id, src.url) not in rows
        ]
        if new:  # one statement for all of them (a first run adds every source)
            s.execute(insert(SourceRow), new)
            rows = {(vid, url): rid for rid, vid, url in s.execute(query)}
    return rows


def is_due(
    registry: Registry, source: Source, last_checked: datetime | None, now: datetime, *, unscheduled_always: bool = True
) -> bool:
    """Never checked, or its cron schedule fired since the last check. With `unscheduled_always` (cron mode)
    a source of a file that sets no schedule at all is due on every run."""
    if last_checked is None:
        return True
    if unscheduled_always and source.schedule is None and "schedule" not in registry.defaults.model_fields_set:
        return True
    from apscheduler.triggers.cron import CronTrigger

    trigger = CronTrigger.from_crontab(registry.schedule_of(source), timezone="UTC")
    nxt = trigger.get_next_fire_time(None, last_checked)
    return nxt is not None and nxt <= now


def select_jobs(
    db: Database,
    registry: Registry,
    vendors: Sequence[str] | None,
    force: bool,
    summary: RunSummary,
    only: Collection[tuple[str, str]] | None = None,
) -> list[Job]:
    """The sources to check in this pass, with their stored state (one query)."""
    ids = sync_sources(db, registry)
    now = utcnow()
    with db.session() as s:
        state = {
            r.id: r
            for r in s.execute(
                select(
                    SourceRow.id,
                    SourceRow.last_checked_at,
                    SourceRow.etag,
                    SourceRow.last_modified,
                    SourceRow.body_hash,
                    SourceRow.snapshot_id,
                    SnapshotRow.key,
                    SnapshotRow.raw_hash,
                ).outerjoin(SnapshotRow, SnapshotRow.id == SourceRow.snapshot_id)
            )
        }
    jobs = []
    for v in registry.vendors:
        if vendors and v.id not in vendors:
            continue
        for src in v.sources:
            if only is not None and (v.id, src.url) not in only:
                continue
            st = state[ids[(v.id, src.url)]]
            if force or is_due(registry, src, st.last_checked_at, now):
                has = st.snapshot_id is not None
                key = st.key if has else None
                varies = has and st.body_hash != st.raw_hash
                jobs.append(Job(v, src, st.id, st.etag, st.last_modified, st.body_hash, has, key, varies))
            else:
                summary.not_due += 1
    return jobs


async def run_pass(
    registry: Registry,
    db: Database,
    *,
    vendors: Sequence[str] | None = None,
    only: Collection[tuple[str, str]] | None = None,
    force: bool = False,
    on_progress: Callable[[Job, str], None] | None = None,
    on_total: Callable[[int], None] | None = None,
    deliver: bool = True,
    transport: httpx.AsyncBaseTransport | None = None,
) -> RunSummary:
    """Check every due source once, store what changed, raise alerts and deliver them."""
    summary = RunSummary()
    jobs = select_jobs(db, registry, vendors, force, summary, only)
    lease_seconds = max(600.0, registry.defaults.timeout * (registry.defaults.retries + 2) * 2)
    taken = leases.take(db, [j.row_id for j in jobs], lease_seconds)
    mine = [j for j in jobs if j.row_id in taken]
    summary.busy = len(jobs) - len(mine)
    if summary.busy:
        log.info("skipped %d source(s) another process is checking now", summary.busy)
    if on_total:
        on_total(len(mine))

    writer = Writer(db, registry, summary, on_progress)
    settings = fetch_settings(registry)
    robots = RobotsMemory(db)
    async with (
        robots.attach(Fetcher(settings, transport=transport)) as fetcher,
        BrowserFetcher(
            settings, http=fetcher
        ) as browser,  # starts Chromium only if a `render: browser` source is checked
        Analyser(sum(1 for j in mine if j.likely_read), len(mine)) as analyser,
    ):
        # checks under way (fetched, read or waiting for the writer) at most: with fast sites, pages would
        # otherwise be fetched and read faster than they are stored, and wait in memory
        under_way = asyncio.Semaphore(max(2 * settings.concurrency, Writer.WAITING))

        async def check(job: Job) -> None:
            async with under_way:
                await check_one(job)

        async def check_one(job: Job) -> None:
            fetch = browser.fetch if job.source.render == "browser" else fetcher.fetch
            result = await fetch(job.request(registry))
            analysis: Analysis | str | None = None
            raw = None
            if job.needs_analysis(result):
                from .analyse import FetchedPage, PageRules

                page = FetchedPage(result.body or b"", result.charset, result.content_type, result.status or 200)
                rules = PageRules(job.source.select, tuple(job.source.remove), tuple(job.source.ignore))
                analysis = await analyser.analyse(page, rules, job.current_key)
                if not isinstance(analysis, str) and analysis.holds_current:
                    analysis = None  # new bytes, the snapshot's policy: recorded as unchanged, in bulk
                if new_version(analysis):
                    raw = analysis.raw or zlib.compress(page.body, 1)
            # the writer needs neither the body nor its text, and the compressed body only for a new version
            await writer.put(job, replace(result, body=None, raw=raw), analysis)

        try:
            await asyncio.gather(*(check(job) for job in by_site(mine)))
        finally:
            await writer.close()
            leases.release(db, [j.row_id for j in mine])  # those a failure left unrecorded
            robots.remember(fetcher)

    with db.session() as s, s.begin():
        summary.alerts += sum(1 for a in sweep(s, registry) if raise_alert(s, a, registry.notify) is not None)
    if deliver:
        from .notify.outbox import deliver_pending

        names = {v.id: v.name for v in registry.vendors}
        loop = asyncio.get_running_loop()
        summary.delivered, summary.undelivered = await loop.run_in_executor(
            None, deliver_pending, db, registry.notify, names
        )
    return summary


class RobotsMemory:
    """robots.txt read in the last day, kept in the database, so a run asks each site for it at most daily."""

    MAX_AGE = timedelta(hours=24)

    def __init__(self, db: Database):
        self.db = db

    def attach(self, fetcher: Fetcher) -> Fetcher:
        since = utcnow() - self.MAX_AGE
        with self.db.session() as s:
            fetcher.robots_known = dict(
                s.execute(select(RobotsRow.origin, RobotsRow.body).where(RobotsRow.fetched_at > since)).all()
            )
        return fetcher

    def remember(self, fetcher: Fetcher) -> None:
        if not fetcher.robots_read:
            return
        now = utcnow()
        with self.db.session() as s, s.begin():
            for origin, body in fetcher.robots_read.items():
                s.merge(RobotsRow(origin=origin, body=body, fetched_at=now))


UNCHANGED = ("ok", "not_modified")  # fetch outcomes that, without a page to read, mean "unchanged"
UNCHANGED_RECORD = Recorded("unchanged", None, 0)
NEW_RECORD = Recorded("new", None, 0)


class Writer:
    """Stores check results as they arrive, many per transaction when they arrive together. Each source's
    check (its row, snapshot, facts, alerts and lease) is written whole or not at all.

    The writing happens in a thread of its own, so the fetches go on while a batch is stored (the database
    driver releases the interpreter lock); results that arrive meanwhile form the next batch. First versions
    and unchanged checks are stored in bulk, a few statements per batch.
    """

    BATCH = 200
    LINGER = 0.05  # seconds a first result waits for others to share its transaction (not when the pass ends)
    VERSIONS = 25  # new versions per batch: each holds ~100 KB until stored, so they go in smaller batches
    WAITING = 100  # results waiting for the writer at most

    def __init__(
        self, db: Database, registry: Registry, summary: RunSummary, on_progress: Callable[[Job, str], None] | None
    ):
        self.db = db
        self.registry = registry
        self.summary = summary
        self.on_progress = on_progress
        # bounded: when the database falls behind (fast sites, a slow disk), checks wait to hand in their
        # results instead of piling them up in memory
        self.queue: asyncio.Queue[tuple[Job, FetchResult, Analysis | str | None] | None] = asyncio.Queue(self.WAITING)
        self.thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="writer")
        self.closing = asyncio.Event()
        self.task = asyncio.create_task(self._loop())

    async def put(self, job: Job, result: FetchResult, analysis: Analysis | str | None) -> None:
        await self._hand_in((job, result, analysis))

    async def close(self) -> None:
        self.closing.set()
        try:
            await self._hand_in(None)
            await self.task
        finally:
            self.thread.shutdown(wait=True)

    async def _hand_in(self, item: tuple[Job, FetchResult, Analysis | str | None] | None) -> None:
        """Queue an item; if the writer has died, raise its error (nobody would empty a full queue)."""
        if self.task.done():
            self.task.result()
        if not self.queue.full():
            self.queue.put_nowait(item)
            return
        put = asyncio.ensure_future(self.queue.put(item))
        await asyncio.wait({put, self.task}, return_when=asyncio.FIRST_COMPLETED)
        if not put.done():
            put.cancel()
            self.task.result()

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        done = False
        while not done:
            item = await self.queue.get()
            if item is not None and not self.queue.full() and not self.closing.is_set():
                # let results gather for a moment: a transaction costs about as much as the rows it writes
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.LINGER):
                        await self.closing.wait()
            batch = []
            versions = 0  # checks that store a new version (its text, Markdown, body, facts) in this batch
            while item is not None:
                batch.append(item)
                versions += new_version(item[2])
                if len(batch) >= self.BATCH or versions >= self.VERSIONS or self.queue.empty():
                    break
                item = self.queue.get_nowait()
            done = item is None
            if batch:
                for job, rec in await loop.run_in_executor(self.thread, self._write, batch):
                    self._count(job, rec)

    def _write(self, batch: list[tuple[Job, FetchResult, Analysis | str | None]]) -> list[tuple[Job, Recorded]]:
        """Store a batch; each stored check with its outcome (a check that cannot be stored is logged and left
        out; its lease is released at the end of the pass and the next run checks it again)."""
        try:
            with self.db.session() as s, s.begin():
                plain = [(j.row_id, r, j.body_hash) for j, r, a in batch if a is None and r.outcome in UNCHANGED]
                first = [(j.row_id, r, a) for j, r, a in batch if not j.has_snapshot and new_version(a)]
                bulk = dict.fromkeys(record_unchanged(s, plain) if len(plain) > 1 else (), UNCHANGED_RECORD)
                bulk.update(dict.fromkeys(record_new(s, first) if len(first) > 1 else (), NEW_RECORD))
                rest = [item for item in batch if item[0].row_id not in bulk]
                ids = [job.row_id for job, _, _ in rest]
                rows = {r.id: r for r in s.scalars(select(SourceRow).where(SourceRow.id.in_(ids)))}  # one query
                recorded = {item[0].row_id: self._record(s, rows[item[0].row_id], *item) for item in rest}
                self._mismatches(s, [job for job, _, _ in rest if recorded[job.row_id].outcome == "changed"], recorded)
                outcomes = [recorded.get(job.row_id) or bulk[job.row_id] for job, _, _ in batch]
        except Exception:
            if len(batch) == 1:
                raise
            stored = []
            for item in batch:  # find the one that cannot be stored; store the others
                try:
                    stored += self._write([item])
                except Exception:  # noqa: BLE001
                    log.exception("could not store the check of %s", item[0].source.url)
            return stored
        return [(job, rec) for (job, _, _), rec in zip(batch, outcomes, strict=True)]

    def _record(
        self, s: Session, row: SourceRow, job: Job, result: FetchResult, analysis: Analysis | str | None
    ) -> Recorded:
        if isinstance(analysis, str):
            result = replace(result, outcome="failed", reason=analysis)
            analysis = None
        ctx = Context(self.registry.notify, self.registry.defaults.failing_after)
        return record(s, row, result, analysis, ctx)

    def _mismatches(self, s: Session, changed: list[Job], recorded: dict[int, Recorded]) -> None:
        """Each vendor with a changed page in the batch against the registry, once, in the batch's transaction
        (per change, a vendor of many pages would merge all their facts again for every one of them)."""
        first: dict[str, Job] = {}
        for job in changed:
            first.setdefault(job.vendor.id, job)
        for job in first.values():
            alerts = mismatch_alerts(s, job.vendor)
            raised = sum(1 for a in alerts if raise_alert(s, a, self.registry.notify) is not None)
            if raised:
                rec = recorded[job.row_id]
                recorded[job.row_id] = replace(rec, alerts=rec.alerts + raised)

    def _count(self, job: Job, rec: Recorded) -> None:
        summary = self.summary
        summary.checked += 1
        summary.alerts += rec.alerts
        if rec.outcome in ("failed", "gone"):
            summary.failed += 1
            summary.failures.append((job.vendor.id, job.source.url, rec.reason or rec.outcome))
            log.warning("%s %s: %s", job.vendor.id, job.source.url, rec.reason)
        elif rec.outcome == "new":
            summary.new += 1
        elif rec.outcome == "changed":
            summary.changed += 1
            log.info("%s %s: policy text changed", job.vendor.id, job.source.url)
        else:
            summary.unchanged += 1
        if self.on_progress:
            self.on_progress(job, rec.outcome)


def new_version(analysis: Analysis | str | None) -> TypeGuard[Analysis]:
    """Whether a check's outcome holds a page read for a new version (None: nothing read; a string: why
    the page could not be read)."""
    return analysis is not None and not isinstance(analysis, str)


def user_agent() -> str:
    return f"policy-monitor/{__version__}"
