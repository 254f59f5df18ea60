"""One pass over the registry: the pipeline `registry -> fetch -> normalise -> extract -> store -> compare ->
alert`, read top to bottom in `run_pass`. `monitor run` calls it once; the daemon calls it per source.

Which sources a pass checks: the ones asked for (`--vendor`), that are due by their cron `schedule` (a source
whose file sets no schedule at all is due on every run: cron decides the cadence), and that no other
process is checking right now (a lease in the database, so a cron run and the daemon never check the same
source at once).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update

from . import __version__
from .analyse import Analysis, PageRules, analyse
from .fetch import FetchRequest, FetchResult, Fetcher, FetchSettings
from .record import Context, mismatch_alerts, record
from .registry import Registry, Source, Vendor
from .alerts import raise_alert
from .store import Database
from .store.schema import SourceRow, utcnow

log = logging.getLogger(__name__)

OWNER = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


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
    vendor: Vendor
    source: Source
    row_id: int


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
    with db.session() as s, s.begin():
        rows = {(r.vendor_id, r.url): r.id for r in s.scalars(select(SourceRow))}
        for v in registry.vendors:
            for src in v.sources:
                if (v.id, src.url) not in rows:
                    row = SourceRow(vendor_id=v.id, url=src.url, consecutive_failures=0)
                    s.add(row)
                    s.flush()
                    rows[(v.id, src.url)] = row.id
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
    ids = sync_sources(db, registry)
    now = utcnow()
    wanted = [v for v in registry.vendors if not vendors or v.id in vendors]
    with db.session() as s:
        checked = dict(s.execute(select(SourceRow.id, SourceRow.last_checked_at)).all())
    jobs = []
    for v in wanted:
        for src in v.sources:
            if only is not None and (v.id, src.url) not in only:
                continue
            rid = ids[(v.id, src.url)]
            if force or is_due(registry, src, checked.get(rid), now):
                jobs.append(Job(v, src, rid))
            else:
                summary.not_due += 1
    return jobs


def lease(db: Database, jobs: list[Job], seconds: float) -> list[Job]:
    """Take the sources for this process; those another live process holds are skipped."""
    now = utcnow()
    until = now + timedelta(seconds=seconds)
    taken = []
    with db.session() as s, s.begin():
        for job in jobs:
            res = s.execute(
                update(SourceRow)
                .where(SourceRow.id == job.row_id)
                .where(or_(SourceRow.lease_until.is_(None), SourceRow.lease_until < now, SourceRow.lease_owner == OWNER))
                .values(lease_owner=OWNER, lease_until=until)
            )
            if res.rowcount == 1 or _holder_is_dead(s, job.row_id, until):  # type: ignore[attr-defined]
                taken.append(job)
    return taken


def _holder_is_dead(s, row_id: int, until: datetime) -> bool:  # noqa: ANN001
    """A lease held by a process of this machine that no longer exists (killed) is taken over."""
    owner = s.scalar(select(SourceRow.lease_owner).where(SourceRow.id == row_id))
    try:
        host, pid, _ = (owner or "").split(":")
        if host != socket.gethostname():
            return False
        os.kill(int(pid), 0)
        return False
    except ProcessLookupError:
        s.execute(
            update(SourceRow)
            .where(SourceRow.id == row_id, SourceRow.lease_owner == owner)
            .values(lease_owner=OWNER, lease_until=until)
        )
        return True
    except (ValueError, PermissionError):
        return False


def release(db: Database, row_id: int) -> None:
    with db.session() as s, s.begin():
        s.execute(
            update(SourceRow)
            .where(SourceRow.id == row_id, SourceRow.lease_owner == OWNER)
            .values(lease_owner=None, lease_until=None)
        )


async def run_pass(
    registry: Registry,
    db: Database,
    *,
    vendors: Sequence[str] | None = None,
    only: Collection[tuple[str, str]] | None = None,
    force: bool = False,
    on_progress: Callable[[Job, str], None] | None = None,
    on_total: Callable[[int], None] | None = None,
    executor: Executor | None = None,
    deliver: bool = True,
    transport: object | None = None,
) -> RunSummary:
    """Check every due source once, store what changed, raise alerts and deliver them."""
    summary = RunSummary()
    jobs = select_jobs(db, registry, vendors, force, summary, only)
    lease_seconds = max(600.0, registry.defaults.timeout * (registry.defaults.retries + 2) * 2)
    mine = lease(db, jobs, lease_seconds)
    summary.busy = len(jobs) - len(mine)
    if summary.busy:
        log.info("skipped %d source(s) another process is checking now", summary.busy)
    if on_total:
        on_total(len(mine))
    loop = asyncio.get_running_loop()

    async with Fetcher(fetch_settings(registry), transport=transport) as fetcher:  # type: ignore[arg-type]

        async def check(job: Job) -> None:
            try:
                with db.session() as s:
                    row = s.get(SourceRow, job.row_id)
                    assert row is not None
                    etag, last_mod, body_hash, has_snapshot = row.etag, row.last_modified, row.body_hash, row.snapshot_id
                result = await fetcher.fetch(
                    FetchRequest(
                        url=job.source.url,
                        timeout=registry.timeout_of(job.source),
                        etag=etag if has_snapshot else None,
                        last_modified=last_mod if has_snapshot else None,
                        robots=registry.robots_of(job.source),
                    )
                )
                analysis = None
                if result.outcome == "ok" and not (has_snapshot and result.body_hash == body_hash):
                    rules = PageRules(job.source.select, tuple(job.source.remove), tuple(job.source.ignore))
                    analysis = await loop.run_in_executor(executor, analyse, result.text or "", result.content_type, rules)
                outcome = store_result(db, registry, job, result, analysis, summary)
            finally:
                release(db, job.row_id)
            if on_progress:
                on_progress(job, outcome)

        await asyncio.gather(*(check(job) for job in mine))

    sweep_mismatches(db, registry, {j.vendor.id for j in mine}, summary)
    if deliver:
        from .notify.outbox import deliver_pending

        names = {v.id: v.name for v in registry.vendors}
        sent, left = await loop.run_in_executor(None, deliver_pending, db, registry.notify, names)
        summary.delivered, summary.undelivered = sent, left
    return summary


def store_result(
    db: Database, registry: Registry, job: Job, result: FetchResult, analysis: Analysis | None, summary: RunSummary
) -> str:
    ctx = Context(job.vendor, registry.notify, registry.defaults.failing_after)
    with db.session() as s, s.begin():
        row = s.get(SourceRow, job.row_id)
        assert row is not None
        rec = record(s, row, result, analysis, ctx)
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
    return rec.outcome


def sweep_mismatches(db: Database, registry: Registry, vendor_ids: set[str] | None, summary: RunSummary) -> None:
    """Re-check expected facts against observations for the vendors of this pass (the registry may have
    changed since their pages did)."""
    for v in registry.vendors:
        if vendor_ids is not None and v.id not in vendor_ids:
            continue
        with db.session() as s, s.begin():
            for a in mismatch_alerts(s, v):
                if raise_alert(s, a, registry.notify) is not None:
                    summary.alerts += 1


def user_agent() -> str:
    return f"policy-monitor/{__version__}"
