"""The outbox: pending deliveries (one per alert and channel, written with the alert) are sent, and marked
sent only when the channel accepted them (SMTP 250, HTTP 2xx). A failure is recorded with its reason and
retried with backoff in the same pass and on every later run; the daemon retries on its own schedule.
A failing channel never blocks the others: after a failure a channel is skipped for the rest of a round.

Delivery is at-least-once at the transport and exactly-once in the database: a delivery is marked sent in
its own transaction right after the channel accepts it, and the webhook carries `X-Monitor-Delivery: <alert
id>` so a receiver can drop the rare repeat after a crash between the two.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta

from sqlalchemy import or_, select, update

from ..alerts import CONTENT
from ..leases import OWNER, is_dead
from ..registry import ChannelBase
from ..store import Database
from ..store.schema import AlertRow, DeliveryRow, utcnow
from .message import AlertMessage

log = logging.getLogger(__name__)

ROUND_DELAYS = (0.5, 1.5)  # pauses before the in-pass retries of failed deliveries


def backoff(attempts: int) -> timedelta:
    """When the daemon tries a failed delivery again: 1 min, 2, 4, ... capped at 6 hours."""
    return timedelta(seconds=min(60 * 2 ** max(0, attempts - 1), 6 * 3600))


def deliver_pending(
    db: Database,
    channels: Sequence[ChannelBase],
    names: Mapping[str, str] | None = None,
    *,
    respect_backoff: bool = False,
    delays: Sequence[float] = ROUND_DELAYS,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[int, int]:
    """Send every pending delivery to its channel (`names`: vendor id -> name for messages).
    Returns (sent now, still pending)."""
    by_key = {c.key(): c for c in channels}
    sent = 0
    for round_no in range(len(delays) + 1):
        if round_no:
            sleep(delays[round_no - 1])
        done, failed = _round(db, by_key, names or {}, respect_backoff and round_no == 0)
        sent += done
        if not failed:
            break
    return sent, pending_count(db, by_key)


def pending_count(db: Database, by_key: dict[str, ChannelBase]) -> int:
    with db.session() as s:
        return len(
            s.scalars(
                select(DeliveryRow.id).where(DeliveryRow.status == "pending", DeliveryRow.channel.in_(list(by_key)))
            ).all()
        )


def _round(
    db: Database, by_key: dict[str, ChannelBase], names: Mapping[str, str], respect_backoff: bool
) -> tuple[int, int]:
    from . import send

    now = utcnow()
    with db.session() as s:
        q = (
            select(DeliveryRow, AlertRow)
            .join(AlertRow, AlertRow.id == DeliveryRow.alert_id)
            .where(DeliveryRow.status == "pending", DeliveryRow.channel.in_(list(by_key)))
            .order_by(DeliveryRow.alert_id)
        )
        rows = s.execute(q).all()
    due = [
        (d, a) for d, a in rows if not (respect_backoff and d.next_attempt_at is not None and d.next_attempt_at > now)
    ]
    mine = claim(db, [d.id for d, _ in due])
    work: dict[str, list[tuple[int, AlertMessage]]] = defaultdict(list)
    for d, a in due:
        if d.id in mine:
            work[d.channel].append((d.id, message_of(a, names)))
    sent = failed = 0
    for key, items in work.items():
        channel = by_key[key]
        batch = [m for _, m in items]
        ids = {m.id: did for did, m in items}
        # digest channels take the whole batch at once; others one by one, stopping at the first failure
        groups = [batch] if getattr(channel, "mode", None) == "digest" else [[m] for m in batch]
        for group in groups:
            results = send(channel, group)  # type: ignore[arg-type]
            ok = all(r.ok for r in results)
            with db.session() as s, s.begin():
                for r in results:
                    d = s.get(DeliveryRow, ids[r.alert_id])
                    assert d is not None
                    d.attempts += 1
                    d.claim_owner = d.claim_until = None
                    if r.ok:
                        d.status, d.sent_at, d.last_error = "sent", utcnow(), None
                    else:
                        d.last_error = r.reason
                        d.next_attempt_at = utcnow() + backoff(d.attempts)
            sent += sum(1 for r in results if r.ok)
            if not ok:
                failed += 1
                reason = next((r.reason for r in results if not r.ok), None)
                log.warning("channel %s: delivery failed (%s); will retry", key, reason)
                break
    unclaim(db, list(mine))  # what a failing channel left unsent goes back to the pool
    return sent, failed


CLAIM_SECONDS = 300


def claim(db: Database, ids: Sequence[int]) -> set[int]:
    """Take pending deliveries for this process, so a cron run and the daemon never send the same one."""
    now = utcnow()
    with db.session() as s, s.begin():
        for i in range(0, len(ids), 500):
            chunk = list(ids[i : i + 500])
            holders = s.scalars(
                select(DeliveryRow.claim_owner).where(DeliveryRow.id.in_(chunk), DeliveryRow.claim_owner.is_not(None))
            )
            dead = sorted({h for h in holders if h and is_dead(h)})  # a sender killed mid-way
            s.execute(
                update(DeliveryRow)
                .where(DeliveryRow.id.in_(chunk), DeliveryRow.status == "pending")
                .where(
                    or_(
                        DeliveryRow.claim_until.is_(None),
                        DeliveryRow.claim_until < now,
                        DeliveryRow.claim_owner.in_(dead),
                    )
                )
                .values(claim_owner=OWNER, claim_until=now + timedelta(seconds=CLAIM_SECONDS))
            )
        taken: set[int] = set()
        for i in range(0, len(ids), 500):
            chunk = list(ids[i : i + 500])
            taken.update(
                s.scalars(select(DeliveryRow.id).where(DeliveryRow.id.in_(chunk), DeliveryRow.claim_owner == OWNER))
            )
    return taken


def unclaim(db: Database, ids: Sequence[int]) -> None:
    with db.session() as s, s.begin():
        for i in range(0, len(ids), 500):
            s.execute(
                update(DeliveryRow)
                .where(DeliveryRow.id.in_(list(ids[i : i + 500])), DeliveryRow.claim_owner == OWNER)
                .values(claim_owner=None, claim_until=None)
            )


def message_of(a: AlertRow, names: Mapping[str, str]) -> AlertMessage:
    return AlertMessage(
        id=a.id,
        vendor=a.vendor_id,
        vendor_name=names.get(a.vendor_id, a.vendor_id),
        created_at=a.created_at,
        **{f: getattr(a, f) for f in CONTENT},
    )
