"""The tables: sources and their state, checks, snapshots, extractions and facts, alerts, deliveries.

Portable SQL only (SQLite and PostgreSQL). Times are stored as integer milliseconds since the epoch
(`EpochMs`): compact, sortable, and identical on both databases.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class EpochMs(TypeDecorator[datetime]):
    """An aware UTC datetime stored as integer milliseconds since the epoch."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> int | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return int(value.timestamp() * 1000)

    def process_result_value(self, value: int | None, dialect: object) -> datetime | None:
        return None if value is None else datetime.fromtimestamp(value / 1000, tz=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class SourceRow(Base):
    """One watched page of one vendor, with the state the next check needs."""

    __tablename__ = "sources"
    __table_args__ = (UniqueConstraint("vendor_id", "url"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    vendor_id: Mapped[str] = mapped_column(String(100))
    url: Mapped[str] = mapped_column(String(2000))
    etag: Mapped[str | None] = mapped_column(String(500))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    body_hash: Mapped[str | None] = mapped_column(String(64))
    last_checked_at: Mapped[datetime | None] = mapped_column(EpochMs)
    last_ok_at: Mapped[datetime | None] = mapped_column(EpochMs)
    last_changed_at: Mapped[datetime | None] = mapped_column(EpochMs)
    last_outcome: Mapped[str | None] = mapped_column(String(16))
    last_error: Mapped[str | None] = mapped_column(Text)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    failing_alerted: Mapped[bool] = mapped_column(Boolean, default=False)
    gone_alerted: Mapped[bool] = mapped_column(Boolean, default=False)
    snapshot_id: Mapped[int | None] = mapped_column(Integer)  # the current (last good) snapshot
    pending_key: Mapped[str | None] = mapped_column(String(64))  # a much shorter text seen, not yet accepted
    pending_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    current_snapshot: Mapped[SnapshotRow | None] = relationship(
        primaryjoin="SourceRow.snapshot_id == SnapshotRow.id",
        foreign_keys=[snapshot_id],
        post_update=True,  # set after the snapshot row is inserted, in the same flush
    )
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[datetime | None] = mapped_column(EpochMs)


class CheckRow(Base):
    """Every check of a source: kept small, an unchanged run adds one of these per source."""

    __tablename__ = "checks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(EpochMs)
    ms: Mapped[int] = mapped_column(Integer)  # duration
    status: Mapped[int | None] = mapped_column(Integer)  # HTTP status
    nbytes: Mapped[int] = mapped_column(Integer, default=0)
    outcome: Mapped[str] = mapped_column(String(16))  # new | unchanged | changed | failed | gone
    reason: Mapped[str | None] = mapped_column(Text)


class SnapshotRow(Base):
    """A version of a page's policy text, stored only when the canonical text changed. The body, text and
    Markdown (most of a row's bytes) are loaded only when read: a check compares the key and length."""

    __tablename__ = "snapshots"
    __table_args__ = (Index("ix_snapshots_source_key", "source_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(EpochMs)
    status: Mapped[int | None] = mapped_column(Integer)
    final_url: Mapped[str | None] = mapped_column(String(2000))
    content_type: Mapped[str | None] = mapped_column(String(200))
    raw: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)  # zlib-compressed body
    raw_hash: Mapped[str | None] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text, deferred=True)
    markdown: Mapped[str | None] = mapped_column(Text, deferred=True)
    key: Mapped[str] = mapped_column(String(64))  # sha256 of the canonical text
    chars: Mapped[int] = mapped_column(Integer)
    title: Mapped[str | None] = mapped_column(Text)


class ExtractionRow(Base):
    """The facts read from one snapshot by one version of the extractor."""

    __tablename__ = "extractions"
    __table_args__ = (Index("ix_extractions_snapshot", "snapshot_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    snapshot_id: Mapped[int] = mapped_column(ForeignKey("snapshots.id", ondelete="CASCADE"))
    version: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(EpochMs)
    summary: Mapped[str] = mapped_column(Text)  # JSON: summary fields and their evidence

    snapshot: Mapped[SnapshotRow] = relationship()


class FactRow(Base):
    __tablename__ = "facts"
    __table_args__ = (Index("ix_facts_extraction", "extraction_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    extraction_id: Mapped[int] = mapped_column(ForeignKey("extractions.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    value: Mapped[str] = mapped_column(String(100))
    scope: Mapped[str] = mapped_column(String(20))
    condition: Mapped[str] = mapped_column(String(40))
    evidence: Mapped[str] = mapped_column(Text)

    extraction: Mapped[ExtractionRow] = relationship()


class AlertRow(Base):
    """An alert, written in the same transaction as what caused it; `dedupe` makes it unique."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    vendor_id: Mapped[str] = mapped_column(String(100))
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id", ondelete="SET NULL"))
    url: Mapped[str | None] = mapped_column(String(2000))
    field: Mapped[str | None] = mapped_column(String(40))
    old: Mapped[str | None] = mapped_column(Text)
    new: Mapped[str | None] = mapped_column(Text)
    evidence: Mapped[str | None] = mapped_column(Text)
    old_evidence: Mapped[str | None] = mapped_column(Text)
    diff: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(EpochMs)
    acked_at: Mapped[datetime | None] = mapped_column(EpochMs)
    dedupe: Mapped[str] = mapped_column(String(400), unique=True)


class DeliveryRow(Base):
    """One alert to one channel: pending until the channel accepted it."""

    __tablename__ = "deliveries"
    __table_args__ = (UniqueConstraint("alert_id", "channel"), Index("ix_deliveries_status", "status"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending | sent
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column(EpochMs)
    sent_at: Mapped[datetime | None] = mapped_column(EpochMs)
    claim_owner: Mapped[str | None] = mapped_column(String(200))  # the process sending it now
    claim_until: Mapped[datetime | None] = mapped_column(EpochMs)


class MismatchRow(Base):
    """A lasting difference between a vendor's expected and observed fact: alerted once while it lasts."""

    __tablename__ = "mismatches"

    vendor_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    field: Mapped[str] = mapped_column(String(40), primary_key=True)
    expected: Mapped[str] = mapped_column(Text)
    observed: Mapped[str] = mapped_column(Text)
    since: Mapped[datetime] = mapped_column(EpochMs)
    alert_id: Mapped[int | None] = mapped_column(Integer)


class RobotsRow(Base):
    """An origin's robots.txt as last read ("" when everything is allowed), kept for a day (RFC 9309)."""

    __tablename__ = "robots"

    origin: Mapped[str] = mapped_column(String(300), primary_key=True)
    body: Mapped[str] = mapped_column(Text)
    fetched_at: Mapped[datetime] = mapped_column(EpochMs)
