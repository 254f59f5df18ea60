"""Leases on sources: a cron run and the daemon (or two cron runs) never check the same source at once.

A lease is two columns of the source row (owner, until), taken with one conditional UPDATE, which works the
same on SQLite and PostgreSQL. A lease whose holder was killed is taken over: at once when the holder was a
process of this machine that no longer exists, otherwise when it expires.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from .store import Database
from .store.schema import SourceRow, utcnow

OWNER = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
CHUNK = 500


def take(db: Database, row_ids: Sequence[int], seconds: float) -> set[int]:
    """Lease the sources for this process; returns the ids taken (others are being checked elsewhere)."""
    now = utcnow()
    until = now + timedelta(seconds=seconds)
    taken: set[int] = set()
    with db.session() as s, s.begin():
        for i in range(0, len(row_ids), CHUNK):
            chunk = list(row_ids[i : i + CHUNK])
            s.execute(
                update(SourceRow)
                .where(SourceRow.id.in_(chunk))
                .where(
                    or_(SourceRow.lease_until.is_(None), SourceRow.lease_until < now, SourceRow.lease_owner == OWNER)
                )
                .values(lease_owner=OWNER, lease_until=until)
            )
            for rid, owner in s.execute(select(SourceRow.id, SourceRow.lease_owner).where(SourceRow.id.in_(chunk))):
                if owner == OWNER or _take_over_dead(s, rid, owner, until):
                    taken.add(rid)
    return taken


def _take_over_dead(s: Session, row_id: int, owner: str | None, until: datetime) -> bool:
    if not is_dead(owner):
        return False
    res = s.execute(
        update(SourceRow)
        .where(SourceRow.id == row_id, SourceRow.lease_owner == owner)
        .values(lease_owner=OWNER, lease_until=until)
    )
    return bool(res.rowcount)  # type: ignore[attr-defined]


def is_dead(owner: str | None) -> bool:
    """True when `owner` names a process of this machine that no longer exists (it was killed)."""
    try:
        host, pid, _ = (owner or "").split(":")
        if host != socket.gethostname():
            return False
        os.kill(int(pid), 0)
        return False
    except ProcessLookupError:
        return True
    except (ValueError, PermissionError):
        return False


def release(db: Database, row_ids: Sequence[int]) -> None:
    """Give back leases this process still holds (normally released with each source's check)."""
    with db.session() as s, s.begin():
        for i in range(0, len(row_ids), CHUNK):
            s.execute(
                update(SourceRow)
                .where(SourceRow.id.in_(list(row_ids[i : i + CHUNK])), SourceRow.lease_owner == OWNER)
                .values(lease_owner=None, lease_until=None)
            )


def release_row(row: SourceRow) -> None:
    """Release within the transaction that records the check."""
    if row.lease_owner == OWNER:
        row.lease_owner = None
        row.lease_until = None
