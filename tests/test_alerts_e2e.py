"""Alerts end to end: stored before sent, delivered once per channel, retried until accepted, signed,
by real HTTP and real SMTP on loopback; secrets nowhere."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from policy_monitor.registry import load_registry
from policy_monitor.run import run_pass
from policy_monitor.store import Database

from .conftest import FILLER, Site, policy_html

SECRET = "hook-secret-3f9a1c77e2"
RET = "We retain API inputs and outputs for {} days, after which they are deleted."


def page(days: int) -> str:
    return policy_html("Examplar", [FILLER[0], RET.format(days), FILLER[1], FILLER[2]])


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(message_from_bytes(envelope.original_content))
        return "250 OK"


@pytest.fixture
def smtp() -> Any:
    inbox = Inbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        inbox.port = probe.getsockname()[1]  # type: ignore[attr-defined]
    c = Controller(inbox, hostname="127.0.0.1", port=inbox.port)  # type: ignore[attr-defined]
    c.start()
    yield inbox
    c.stop()


class Receiver:
    """A webhook receiver that fails the first `fail` posts, and checks every signature."""

    def __init__(self, fail: int = 0) -> None:
        self.fail = fail
        self.statuses: list[int] = []
        self.accepted: list[dict[str, Any]] = []
        self.deliveries: list[str] = []
        self.bad_signatures = 0
        self.bodies: list[bytes] = []

    def __call__(self, path: str, headers: dict[str, str], body: bytes) -> int:
        self.bodies.append(body)
        h = {k.lower(): v for k, v in headers.items()}
        want = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(h.get("x-monitor-signature", ""), want):
            self.bad_signatures += 1
        status = 500 if self.fail > 0 else 200
        self.fail -= 1
        self.statuses.append(status)
        if status == 200:
            self.accepted.append(json.loads(body))
            self.deliveries.append(h["x-monitor-delivery"])
        return status


def setup(tmp_path: Path, site: Site, make_monitor: Any, smtp_port: int | None = None) -> Any:
    site.html("/p", page(30))
    notify: list[dict[str, Any]] = [{"type": "webhook", "url": site.url("/hook"), "secret": "${HOOK_SECRET}"}]
    if smtp_port:
        notify.append(
            {
                "type": "email",
                "smtp": f"smtp://127.0.0.1:{smtp_port}",
                "from": "monitor@example.org",
                "to": ["team@example.org"],
            }
        )
    vendor = {
        "id": "examplar",
        "name": "Examplar AI",
        "sources": [{"url": site.url("/p")}],
        "expected": {"retention": "P30D"},
    }
    return make_monitor([vendor], notify=notify)


ENV = {"HOOK_SECRET": SECRET}


def changed_but_not_sent(m: Any, site: Site) -> tuple[Any, Database]:
    """A first run, a change, and a pass that stops right after storing its alerts (as a run killed before
    delivery leaves them). Returns the registry and the open database."""
    m("run", env=ENV)
    site.html("/p", page(60))
    registry = load_registry(m.sources, environ=ENV)
    db = Database(m.db)
    asyncio.run(run_pass(registry, db, deliver=False))
    return registry, db


def test_outage_then_every_alert_delivered_exactly_once(
    tmp_path: Path, site: Site, make_monitor: Any, smtp: Any
) -> None:
    hook = Receiver(fail=4)
    site.on_post = hook
    m = setup(tmp_path, site, make_monitor, smtp.port)
    assert m("run", env=ENV).code == 0
    assert hook.statuses == [] and smtp.messages == []  # a first snapshot is no news

    site.html("/p", page(90))
    m("run", env=ENV)  # the receiver fails 4 times: the in-run retries are not enough
    alerts = m.alerts()
    assert sorted(a["kind"] for a in alerts) == ["fact_changed", "page_changed", "registry_mismatch"]
    failing = [a for a in alerts if a["status"] == "failed"]
    assert failing, alerts
    hook_state = [d for a in failing for d in a["deliveries"] if d["channel"].startswith("webhook")]
    assert all("HTTP 500" in (d["last_error"] or "") for d in hook_state if d["status"] != "sent")
    listing = m("alerts")
    assert "HTTP 500" in listing.out  # people see why it is waiting

    m("run", env=ENV)  # the receiver is back: what waited is delivered, once
    m("run", env=ENV)
    ids = {str(a["id"]) for a in m.alerts()}
    assert sorted(hook.deliveries) == sorted(ids)  # each alert exactly once
    assert hook.bad_signatures == 0
    assert all(a["status"] == "delivered" for a in m.alerts())
    # email: one message per alert, delivered while the webhook was failing (a failing channel blocks no other)
    subjects = sorted(msg["Subject"] for msg in smtp.messages)
    assert len(subjects) == 3
    assert any("Examplar AI" in s and "P30D" in s and "P90D" in s for s in subjects), subjects
    fact = next(p for p in hook.accepted if p["kind"] == "fact_changed")
    assert (fact["field"], fact["old"], fact["new"]) == ("retention", "P30D", "P90D")
    assert "90 days" in fact["evidence"]


def test_alert_stored_but_not_sent_is_delivered_by_the_next_run_once(
    tmp_path: Path, site: Site, make_monitor: Any
) -> None:
    hook = Receiver()
    site.on_post = hook
    m = setup(tmp_path, site, make_monitor)
    registry, db = changed_but_not_sent(m, site)
    db.close()
    pending = m.alerts()
    assert len(pending) == 3 and all(a["status"] == "pending" for a in pending)
    assert hook.statuses == []
    m("run", env=ENV)
    m("run", env=ENV)
    assert sorted(hook.deliveries) == sorted(str(a["id"]) for a in pending)


def test_secret_never_stored_or_printed(tmp_path: Path, site: Site, make_monitor: Any) -> None:
    hook = Receiver(fail=1)
    site.on_post = hook
    m = setup(tmp_path, site, make_monitor)
    outs = [m("run", env=ENV)]
    site.html("/p", page(45))
    outs += [m("run", env=ENV), m("alerts", "--json", "--all"), m("registry", "--json", env=ENV), m("status", "--json")]
    db_bytes = b"".join(p.read_bytes() for p in tmp_path.glob("monitor.db*"))
    assert SECRET.encode() not in db_bytes
    assert all(SECRET not in r.out + r.err for r in outs)
    assert hook.bodies and all(SECRET.encode() not in b for b in hook.bodies)


def test_ack_hides_alerts_until_all(tmp_path: Path, site: Site, make_monitor: Any) -> None:
    site.on_post = Receiver()
    m = setup(tmp_path, site, make_monitor)
    m("run", env=ENV)
    site.html("/p", page(10))
    m("run", env=ENV)
    ids = [a["id"] for a in m("alerts", "--json").json()]
    assert len(ids) == 3
    assert m("ack", str(ids[0]), str(ids[1])).code == 0
    assert [a["id"] for a in m("alerts", "--json").json()] == ids[2:]
    everything = m("alerts", "--json", "--all").json()
    assert [a["status"] for a in everything][:2] == ["acknowledged", "acknowledged"]


def test_a_delivery_claimed_by_another_process_is_not_sent_twice(tmp_path: Path, site: Site, make_monitor: Any) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from policy_monitor.notify.outbox import deliver_pending
    from policy_monitor.store.schema import DeliveryRow, utcnow

    hook = Receiver()
    site.on_post = hook
    m = setup(tmp_path, site, make_monitor)
    registry, db = changed_but_not_sent(m, site)

    with db.session() as s, s.begin():  # another live sender (the daemon, say) is sending them right now
        s.execute(update(DeliveryRow).values(claim_owner="elsewhere:1:x", claim_until=utcnow() + timedelta(minutes=5)))
    assert deliver_pending(db, registry.notify) == (0, 3)
    assert hook.statuses == []
    with db.session() as s, s.begin():  # that sender died without finishing: its claims run out
        s.execute(update(DeliveryRow).values(claim_until=utcnow() - timedelta(seconds=1)))
    assert deliver_pending(db, registry.notify) == (3, 0)
    assert len(hook.deliveries) == 3
    db.close()
