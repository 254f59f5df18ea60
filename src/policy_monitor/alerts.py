"""Raising alerts: written in the caller's transaction, once (a `dedupe` key per change), with one pending
delivery per channel that wants it. Sending happens later (`notify.outbox`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from .registry import ChannelBase
from .store.schema import AlertRow, DeliveryRow, utcnow

# what an alert carries from where it is raised to where it is sent
CONTENT = ("kind", "url", "field", "old", "new", "evidence", "old_evidence", "diff")
STORED = ("vendor_id", "source_id", "dedupe", *CONTENT)

KINDS = ("page_changed", "fact_changed", "registry_mismatch", "source_failing", "source_gone")


@dataclass(frozen=True)
class NewAlert:
    kind: str
    vendor_id: str
    dedupe: str
    source_id: int | None = None
    url: str | None = None
    field: str | None = None
    old: str | None = None
    new: str | None = None
    evidence: str | None = None
    old_evidence: str | None = None
    diff: str | None = None


def raise_alert(
    session: Session, alert: NewAlert, channels: Sequence[ChannelBase], now: datetime | None = None
) -> AlertRow | None:
    """Add the alert and its pending deliveries to the session, unless the same alert exists already."""
    exists = session.scalar(select(AlertRow.id).where(AlertRow.dedupe == alert.dedupe))
    if exists is not None:
        return None
    row = AlertRow(**{f: getattr(alert, f) for f in STORED}, created_at=now or utcnow())
    session.add(row)
    session.flush()
    for ch in channels:
        if ch.wants(alert.kind, alert.vendor_id):
            session.add(DeliveryRow(alert_id=row.id, channel=ch.key(), status="pending", attempts=0))
    return row
