"""What the read-only commands show: status per source, alerts with their delivery state, snapshot history
and diffs. Each function returns plain data (the `--json` output); `cli.py` formats it for people."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select

from .compare import check_expected, merge_observed, unified_diff
from .errors import ConfigError
from .mismatch import latest_extraction, vendor_summaries
from .registry import Registry
from .store import Database
from .store.schema import AlertRow, DeliveryRow, SnapshotRow, SourceRow, utcnow


def iso(t: datetime | None) -> str | None:
    return None if t is None else t.isoformat(timespec="seconds").replace("+00:00", "Z")


def status(db: Database, registry: Registry, vendors: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Per vendor: its sources' last check, last change and error, and its facts against expected."""
    out = []
    with db.session() as s:
        rows = {(r.vendor_id, r.url): r for r in s.scalars(select(SourceRow))}
        for v in registry.vendors:
            if vendors and v.id not in vendors:
                continue
            sources = []
            for src in v.sources:
                r = rows.get((v.id, src.url))
                summary = latest_extraction(s, r.snapshot_id) if r and r.snapshot_id else None
                sources.append(
                    {
                        "url": src.url,
                        "kind": src.kind,
                        "last_check": iso(r.last_checked_at) if r else None,
                        "last_outcome": r.last_outcome if r else None,
                        "last_change": iso(r.last_changed_at) if r else None,
                        "last_error": r.last_error if r else None,
                        "consecutive_failures": r.consecutive_failures if r else 0,
                        "snapshot": r.snapshot_id if r else None,
                        "summary": summary[0] if summary else None,
                    }
                )
            verdicts = check_expected(v.expected.stated(), merge_observed(vendor_summaries(s, v)))
            out.append(
                {
                    "vendor": v.id,
                    "name": v.name,
                    "sources": sources,
                    "facts": [
                        {
                            "field": d.field,
                            "expected": d.expected,
                            "observed": d.observed,
                            "state": d.state,
                            "evidence": d.evidence,
                            "urls": list(d.urls),
                        }
                        for d in verdicts
                        if d.state != "not-expected" or d.observed is not None
                    ],
                }
            )
    return out


def alert_dict(a: AlertRow, deliveries: list[DeliveryRow]) -> dict[str, Any]:
    return {
        "id": a.id,
        "kind": a.kind,
        "vendor": a.vendor_id,
        "url": a.url,
        "field": a.field,
        "old": a.old,
        "new": a.new,
        "evidence": a.evidence,
        "old_evidence": a.old_evidence,
        "created_at": iso(a.created_at),
        "status": delivery_state(a, deliveries),
        "acknowledged_at": iso(a.acked_at),
        "deliveries": [
            {
                "channel": d.channel,
                "status": d.status,
                "attempts": d.attempts,
                "last_error": d.last_error,
                "sent_at": iso(d.sent_at),
            }
            for d in deliveries
        ],
    }


def delivery_state(a: AlertRow, deliveries: list[DeliveryRow]) -> str:
    """acknowledged | delivered | failed (retrying) | pending | recorded (no channel)."""
    if a.acked_at is not None:
        return "acknowledged"
    if not deliveries:
        return "recorded"
    if all(d.status == "sent" for d in deliveries):
        return "delivered"
    if any(d.status != "sent" and d.attempts > 0 for d in deliveries):
        return "failed"
    return "pending"


def alerts(db: Database, include_acked: bool = False, kinds: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Alerts, oldest first (newest last), with their delivery state."""
    with db.session() as s:
        q = select(AlertRow).order_by(AlertRow.id)
        if not include_acked:
            q = q.where(AlertRow.acked_at.is_(None))
        if kinds:
            q = q.where(AlertRow.kind.in_(list(kinds)))
        rows = s.scalars(q).all()
        ids = [a.id for a in rows]
        dels: dict[int, list[DeliveryRow]] = {}
        for i in range(0, len(ids), 500):
            for d in s.scalars(
                select(DeliveryRow).where(DeliveryRow.alert_id.in_(ids[i : i + 500])).order_by(DeliveryRow.id)
            ):
                dels.setdefault(d.alert_id, []).append(d)
        return [alert_dict(a, dels.get(a.id, [])) for a in rows]


def alert_diff(db: Database, alert_id: int) -> str | None:
    with db.session() as s:
        a = s.get(AlertRow, alert_id)
        return a.diff if a else None


def ack(db: Database, ids: Sequence[int]) -> tuple[list[int], list[int]]:
    """Acknowledge alerts; returns (acknowledged, unknown ids)."""
    done, unknown = [], []
    with db.session() as s, s.begin():
        for i in ids:
            a = s.get(AlertRow, i)
            if a is None:
                unknown.append(i)
                continue
            if a.acked_at is None:
                a.acked_at = utcnow()
            done.append(i)
    return done, unknown


def find_sources(db: Database, registry: Registry, target: str) -> list[SourceRow]:
    """Source rows for a URL or a vendor id/name/alias."""
    t = target.strip()
    with db.session() as s:
        rows = s.scalars(select(SourceRow).order_by(SourceRow.id)).all()
    by_url = [r for r in rows if r.url == t or r.url.rstrip("/") == t.rstrip("/")]
    if by_url:
        return by_url
    low = t.lower()
    for v in registry.vendors:
        if low in {v.id, v.name.lower(), *(a.lower() for a in v.aliases)}:
            urls = {s.url for s in v.sources}
            return [r for r in rows if r.vendor_id == v.id and r.url in urls]
    raise ConfigError(f"{target!r} is neither a watched URL nor a vendor. `monitor registry` lists them.")


def history(db: Database, registry: Registry, target: str) -> list[dict[str, Any]]:
    out = []
    for src in find_sources(db, registry, target):
        with db.session() as s:
            snaps = s.scalars(select(SnapshotRow).where(SnapshotRow.source_id == src.id).order_by(SnapshotRow.id)).all()
            versions = []
            for n in snaps:
                ex = latest_extraction(s, n.id)
                versions.append(
                    {
                        "snapshot": n.id,
                        "created_at": iso(n.created_at),
                        "chars": n.chars,
                        "key": n.key[:12],
                        "title": n.title,
                        "summary": ex[0] if ex else None,
                    }
                )
        out.append({"vendor": src.vendor_id, "url": src.url, "snapshots": versions})
    return out


def diff(db: Database, registry: Registry, target: str, frm: int | None, to: int | None) -> list[str]:
    """Unified diffs between snapshots of each matching source (default: the last two)."""
    out = []
    for src in find_sources(db, registry, target):
        with db.session() as s:
            snaps = s.scalars(select(SnapshotRow).where(SnapshotRow.source_id == src.id).order_by(SnapshotRow.id)).all()
            by_id = {n.id: n for n in snaps}
            if frm is not None or to is not None:
                a = by_id.get(frm) if frm is not None else (snaps[-2] if len(snaps) > 1 else None)
                b = by_id.get(to) if to is not None else (snaps[-1] if snaps else None)
                if a is None or b is None:
                    known = ", ".join(str(n.id) for n in snaps) or "none"
                    raise ConfigError(f"{src.url}: no snapshot {frm if a is None else to} (snapshots: {known}).")
            elif len(snaps) < 2:
                out.append(f"# {src.url}: {len(snaps)} snapshot(s), nothing to compare yet")
                continue
            else:
                a, b = snaps[-2], snaps[-1]
            text = unified_diff(
                a.text,
                b.text,
                f"{src.url} snapshot {a.id} ({iso(a.created_at)})",
                f"{src.url} snapshot {b.id} ({iso(b.created_at)})",
            )
            out.append(text or f"# {src.url}: snapshots {a.id} and {b.id} have the same text")
    return out
