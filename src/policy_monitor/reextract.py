"""`monitor reextract`: read the facts of stored snapshots again with the current extractor.

New extractions are stored beside the old ones; no `fact_changed` is raised, since a better reading of the
same text is our change, not the vendor's. Registry mismatches are re-checked against the new reading."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from .alerts import raise_alert
from .analyse import facts_of
from .facts import EXTRACTOR_VERSION
from .mismatch import latest_extraction, mismatch_alerts
from .record import store_extraction
from .registry import Registry
from .store import Database
from .store.schema import SnapshotRow, SourceRow


def reextract(db: Database, registry: Registry, vendors: Sequence[str] | None = None) -> tuple[int, int]:
    """Returns (snapshots re-read, summaries that read differently now)."""
    n = changed = 0
    with db.session() as s:
        q = select(SnapshotRow.id, SourceRow.vendor_id).join(SourceRow, SourceRow.id == SnapshotRow.source_id)
        if vendors:
            q = q.where(SourceRow.vendor_id.in_(list(vendors)))
        todo = s.execute(q.order_by(SnapshotRow.id)).all()
    for snap_id, _vendor in todo:
        with db.session() as s, s.begin():
            snap = s.get(SnapshotRow, snap_id)
            assert snap is not None
            before = latest_extraction(s, snap_id)
            data = facts_of(snap.text)
            store_extraction(s, snap, data["summary"], data["evidence"], data["facts"], EXTRACTOR_VERSION)
            n += 1
            if before is None or before[0] != data["summary"]:
                changed += 1
    for v in registry.vendors:
        if vendors and v.id not in vendors:
            continue
        with db.session() as s, s.begin():
            for a in mismatch_alerts(s, v):
                raise_alert(s, a, registry.notify)
    return n, changed
