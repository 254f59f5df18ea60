"""One check's result -> the database: check row, source state, snapshot, facts and the alerts they cause,
all in one transaction, so a run killed at any moment leaves each source either before or after its check.

Outcomes: `new` (first good snapshot), `unchanged` (304, same body, or same canonical text), `changed`
(new policy text: a snapshot and `page_changed`), `failed` (fetch failure or a page the guard refused:
never a snapshot), `gone` (404/410).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from .alerts import NewAlert, raise_alert
from .compare import summary_changes, unified_diff
from .fetch import FetchResult
from .leases import OWNER, release_row
from .mismatch import latest_extraction
from .registry import ChannelBase

if TYPE_CHECKING:
    from .analyse import Analysis

from .store.schema import (
    CheckRow,
    ExtractionRow,
    FactRow,
    SnapshotRow,
    SourceRow,
    utcnow,
)

DIFF_LIMIT = 200_000  # characters of diff kept with a page_changed alert
SHRINK_CONFIRM = 3  # identical loads in a row that make a much shorter text the new version


@dataclass(frozen=True)
class Recorded:
    outcome: str
    reason: str | None
    alerts: int


@dataclass(frozen=True)
class Context:
    """What recording needs besides the result: the alert channels and the failure threshold."""

    channels: Sequence[ChannelBase]
    failing_after: int


def record(session: Session, src: SourceRow, result: FetchResult, analysis: Analysis | None, ctx: Context) -> Recorded:
    """Store one check and what follows from it for its page. The caller commits, and checks the vendor
    against the registry (once per batch of checks, not once per changed page)."""
    now = utcnow()
    alerts: list[Any] = []
    outcome, reason = _classify(session, src, result, analysis)

    if outcome in ("failed", "gone"):
        src.consecutive_failures += 1
        src.last_error = reason
        if outcome == "gone" and src.snapshot_id is not None and not src.gone_alerted:
            src.gone_alerted = True
            alerts.append(
                NewAlert(
                    "source_gone", src.vendor_id, f"gone:{src.id}:{now.isoformat()}", src.id, src.url, evidence=reason
                )
            )
        if src.consecutive_failures >= ctx.failing_after and not src.failing_alerted:
            src.failing_alerted = True
            alerts.append(
                NewAlert(
                    "source_failing",
                    src.vendor_id,
                    f"failing:{src.id}:{now.isoformat()}",
                    src.id,
                    src.url,
                    new=f"{src.consecutive_failures} failed checks in a row",
                    evidence=reason,
                )
            )
    else:
        if src.consecutive_failures or src.failing_alerted or src.gone_alerted:
            reason = f"recovered after {src.consecutive_failures} failed check(s)" if src.consecutive_failures else None
        src.consecutive_failures = 0
        src.failing_alerted = False
        src.gone_alerted = False
        src.last_error = None
        src.last_ok_at = now
        src.etag = result.etag
        src.last_modified = result.last_modified
        if result.body_hash:
            src.body_hash = result.body_hash
        if analysis is not None and outcome in ("new", "changed"):
            if not analysis.facts_read:  # cannot happen for a new text; read them rather than store none
                from .analyse import with_facts

                analysis = with_facts(analysis)
            alerts.extend(_store_version(session, src, result, analysis, outcome, now))
            src.last_changed_at = now  # the vendor is checked against the registry by the caller, per batch

    src.last_checked_at = now
    src.last_outcome = outcome
    release_row(src)
    session.add(
        CheckRow(
            source_id=src.id,
            at=now,
            ms=int(result.duration * 1000),
            status=result.status,
            nbytes=result.nbytes,
            outcome=outcome,
            reason=reason,
        )
    )
    raised = sum(1 for a in alerts if raise_alert(session, a, ctx.channels, now) is not None)
    return Recorded(outcome, reason, raised)


def _classify(
    session: Session, src: SourceRow, result: FetchResult, analysis: Analysis | None
) -> tuple[str, str | None]:
    if result.outcome == "gone":
        return "gone", result.reason or f"HTTP {result.status}"
    if result.outcome == "failed":
        return "failed", result.reason or "fetch failed"
    if result.outcome == "not_modified" or analysis is None:
        return "unchanged", None
    from .guard import is_shrink, judge  # only when a page was read

    current = session.get(SnapshotRow, src.snapshot_id) if src.snapshot_id else None
    refused = judge(analysis.page, status=result.status or 200, previous_chars=current.chars if current else None)
    if refused and is_shrink(refused) and _confirmed_shrink(src, analysis.page.key):
        refused = None  # the same shorter text, load after load: the policy really got shorter
    elif refused:
        return "failed", refused
    src.pending_key, src.pending_count = None, 0
    if current is None:
        return "new", None
    if current.key == analysis.page.key:
        return "unchanged", None
    return "changed", None


def _confirmed_shrink(src: SourceRow, key: str) -> bool:
    """A truncated or half-served page varies from load to load; a policy that was really cut down reads the
    same every time. Count identical shrunken loads in a row; confirm at SHRINK_CONFIRM."""
    if src.pending_key == key:
        src.pending_count = (src.pending_count or 0) + 1
    else:
        src.pending_key, src.pending_count = key, 1
    return src.pending_count >= SHRINK_CONFIRM


def _store_version(
    session: Session, src: SourceRow, result: FetchResult, analysis: Analysis, outcome: str, now: datetime
) -> list[NewAlert]:
    previous = session.get(SnapshotRow, src.snapshot_id) if src.snapshot_id else None
    page = analysis.page
    snap = SnapshotRow(**_snapshot_values(src.id, result, analysis, now))
    session.add(snap)
    store_extraction(
        session, snap, analysis.summary, analysis.evidence, analysis.facts, analysis.extractor_version, now
    )
    src.current_snapshot = snap  # ids are given when the batch is flushed: one INSERT per table per batch
    if outcome != "changed" or previous is None:
        return []
    session.flush()  # a change names its snapshot
    alerts = [
        NewAlert(
            "page_changed",
            src.vendor_id,
            f"page:{src.id}:{page.key}",  # once per distinct version: a page flipping between two is told once each
            src.id,
            src.url,
            old=f"snapshot {previous.id}",
            new=f"snapshot {snap.id}",
            diff=unified_diff(previous.text, page.text, f"snapshot {previous.id}", f"snapshot {snap.id}")[:DIFF_LIMIT],
        )
    ]
    old = latest_extraction(session, previous.id)
    if old is not None:
        old_summary, old_evidence = old
        for ch in summary_changes(old_summary, analysis.summary, old_evidence, analysis.evidence):
            alerts.append(
                NewAlert(
                    "fact_changed",
                    src.vendor_id,
                    f"fact:{src.id}:{ch.field}:{ch.new}:{page.key}",
                    src.id,
                    src.url,
                    field=ch.field,
                    old=ch.old,
                    new=ch.new,
                    evidence=ch.new_evidence,
                    old_evidence=ch.old_evidence,
                )
            )
    return alerts


def store_extraction(
    session: Session,
    snapshot: SnapshotRow,
    summary: dict[str, Any],
    evidence: dict[str, str],
    facts: list[dict[str, str]],
    version: str,
    now: datetime | None = None,
) -> ExtractionRow:
    ex = ExtractionRow(snapshot=snapshot, **_extraction_values(summary, evidence, version, now or utcnow()))
    session.add(ex)
    for f in facts:
        session.add(FactRow(extraction=ex, **_fact_values(f)))
    return ex


def _snapshot_values(source_id: int, result: FetchResult, analysis: Analysis, now: datetime) -> dict[str, Any]:
    page = analysis.page
    return {
        "source_id": source_id,
        "created_at": now,
        "status": result.status,
        "final_url": result.final_url,
        "content_type": result.content_type,
        "raw": result.raw,  # the body zlib-compressed, kept for reference
        "raw_hash": result.body_hash,
        "text": page.text,
        "markdown": page.markdown,
        "key": page.key,
        "chars": len(page.text),
        "title": page.title,
    }


def _extraction_values(
    summary: dict[str, Any], evidence: dict[str, str], version: str, now: datetime
) -> dict[str, Any]:
    summary_json = json.dumps({"summary": summary, "evidence": evidence}, ensure_ascii=False)
    return {"version": version, "created_at": now, "summary": summary_json}


def _fact_values(f: dict[str, str]) -> dict[str, str]:
    return {
        "kind": f["kind"],
        "value": str(f["value"]),
        "scope": f.get("scope") or "all",
        "condition": f.get("condition") or "default",
        "evidence": f.get("evidence") or "",
    }


def _healthy(session: Session, ids: list[int], *, first: bool = False) -> set[int]:
    """The sources among `ids` that this process holds and that were healthy at their last check (with
    `first`: that have no snapshot yet): those whose check raises nothing and can be recorded in bulk."""
    query = select(SourceRow.id).where(
        SourceRow.id.in_(ids),
        SourceRow.consecutive_failures == 0,
        SourceRow.failing_alerted.is_(False),
        SourceRow.gone_alerted.is_(False),
        SourceRow.pending_count == 0,
        SourceRow.lease_owner == OWNER,
    )
    if first:
        query = query.where(SourceRow.snapshot_id.is_(None))
    return set(session.scalars(query))


def record_new(session: Session, checks: Sequence[tuple[int, FetchResult, Analysis]]) -> list[int]:
    """First versions in bulk (a first run stores one for every source): pages read and accepted by the
    guard, of healthy sources without a snapshot. A first version raises no alert, so the batch takes five
    statements (snapshots, extractions, facts, sources, checks) instead of an ORM round per source.
    `checks` holds (source id, result, analysis); returns the ids it recorded (the others need `record`)."""
    from .guard import judge

    healthy = _healthy(session, [rid for rid, _, _ in checks], first=True)
    mine = [
        (rid, r, a)
        for rid, r, a in checks
        if rid in healthy
        and r.body_hash
        and a.facts_read
        and judge(a.page, status=r.status or 200, previous_chars=None) is None
    ]
    if not mine:
        return []
    now = utcnow()
    snapshot_ids = session.scalars(
        insert(SnapshotRow).returning(SnapshotRow.id, sort_by_parameter_order=True),
        [_snapshot_values(rid, r, a, now) for rid, r, a in mine],
    ).all()
    extraction_ids = session.scalars(
        insert(ExtractionRow).returning(ExtractionRow.id, sort_by_parameter_order=True),
        [
            {"snapshot_id": sid, **_extraction_values(a.summary, a.evidence, a.extractor_version, now)}
            for sid, (_, _, a) in zip(snapshot_ids, mine, strict=True)
        ],
    ).all()
    facts = [
        {"extraction_id": eid, **_fact_values(f)}
        for eid, (_, _, a) in zip(extraction_ids, mine, strict=True)
        for f in a.facts
    ]
    if facts:
        session.execute(insert(FactRow), facts)
    session.execute(
        update(SourceRow),
        [
            {
                "id": rid,
                "snapshot_id": sid,
                "etag": r.etag,
                "last_modified": r.last_modified,
                "body_hash": r.body_hash,
                "last_checked_at": now,
                "last_ok_at": now,
                "last_changed_at": now,
                "last_outcome": "new",
                "last_error": None,
                "pending_key": None,
                "lease_owner": None,
                "lease_until": None,
            }
            for sid, (rid, r, _) in zip(snapshot_ids, mine, strict=True)
        ],
    )
    _insert_checks(session, [(rid, r) for rid, r, _ in mine], "new", now)
    return [rid for rid, _, _ in mine]


def record_unchanged(session: Session, checks: Sequence[tuple[int, FetchResult, str | None]]) -> list[int]:
    """The common case in bulk: sources whose page came back byte for byte (or 304) and that were healthy
    before. Two statements for the whole batch instead of an ORM round per source. `checks` holds
    (source id, result, stored body hash); returns the ids it recorded (the others need `record`)."""
    healthy = _healthy(session, [rid for rid, _, _ in checks])
    mine = [(rid, r, h) for rid, r, h in checks if rid in healthy]
    if not mine:
        return []
    now = utcnow()
    session.execute(
        update(SourceRow),
        [
            {
                "id": rid,
                "etag": r.etag,
                "last_modified": r.last_modified,
                "body_hash": r.body_hash or stored,
                "last_checked_at": now,
                "last_ok_at": now,
                "last_outcome": "unchanged",
                "last_error": None,
                "lease_owner": None,
                "lease_until": None,
            }
            for rid, r, stored in mine
        ],
    )
    _insert_checks(session, [(rid, r) for rid, r, _ in mine], "unchanged", now)
    return [rid for rid, _, _ in mine]


def _insert_checks(session: Session, checks: list[tuple[int, FetchResult]], outcome: str, now: datetime) -> None:
    rows = [
        {
            "source_id": rid,
            "at": now,
            "ms": int(r.duration * 1000),
            "status": r.status,
            "nbytes": r.nbytes,
            "outcome": outcome,
            "reason": None,
        }
        for rid, r in checks
    ]
    session.execute(insert(CheckRow), rows)
