"""`monitor run` end to end: a real HTTP server on 127.0.0.1, a real database, the command as users run it."""

from __future__ import annotations

import gzip
import time
from typing import Any

import pytest

from .conftest import FILLER, Monitor, Site, policy_html

RET30 = "We retain API inputs and outputs for 30 days, after which they are deleted."
TRAIN_NO = "We do not use data submitted through the API to train our models."


def page(retention: str = RET30, extra: str = "") -> str:
    return policy_html(
        "Examplar Privacy Policy", [FILLER[0], retention, FILLER[1], TRAIN_NO, FILLER[2], extra, FILLER[3]]
    )


def vendor(vid: str, urls: list[str], **expected: Any) -> dict[str, Any]:
    return {"id": vid, "name": vid.title(), "sources": [{"url": u} for u in urls], "expected": expected}


def kinds(alerts: list[dict[str, Any]], vendor_id: str | None = None) -> list[str]:
    return sorted(a["kind"] for a in alerts if vendor_id is None or a["vendor"] == vendor_id)


def test_first_unchanged_and_changed_runs(site: Site, make_monitor: Any, db_url: str) -> None:
    site.html("/privacy", page())
    m: Monitor = make_monitor([vendor("examplar", [site.url("/privacy")], retention="P30D", training="no")], db=db_url)

    first = m("run")
    assert first.code == 0, first.err
    assert "checked 1, new 1, unchanged 0, changed 0, failed 0, alerts 0" in first.out
    assert m.alerts() == []  # the first snapshot raises nothing

    again = m("run")
    assert again.code == 0
    assert "unchanged 1" in again.out and m.alerts() == []

    site.html("/privacy", page(RET30.replace("30 days", "5 years")))
    changed = m("run")
    assert changed.code == 0 and "changed 1" in changed.out
    alerts = m.alerts()
    assert kinds(alerts) == ["fact_changed", "page_changed", "registry_mismatch"]
    fact = next(a for a in alerts if a["kind"] == "fact_changed")
    assert (fact["field"], fact["old"], fact["new"]) == ("retention", "P30D", "P5Y")
    assert "5 years" in fact["evidence"]
    mismatch = next(a for a in alerts if a["kind"] == "registry_mismatch")
    assert (mismatch["old"], mismatch["new"]) == ("P30D", "P5Y")

    # the mismatch lasts: not alerted again; and the diff is there for people
    m("run")
    assert len(m.alerts()) == 3
    d = m("diff", "examplar")
    assert (
        "-We retain API inputs and outputs for 30 days" in d.out
        and "+We retain API inputs and outputs for 5 years" in d.out
    )
    h = m("history", site.url("/privacy"), "--json").json()
    assert [n["summary"]["retention"] for n in h[0]["snapshots"]] == ["P30D", "P5Y"]


def test_conditional_get_304_is_unchanged(site: Site, make_monitor: Any) -> None:
    body = page().encode()

    def etagged(h: Any) -> None:
        if h.headers.get("If-None-Match") == '"v1"':
            h.send(304, {"ETag": '"v1"'}, b"")
        else:
            h.send(200, {"Content-Type": "text/html", "ETag": '"v1"'}, body)

    site.pages["/p"] = etagged
    m = make_monitor([vendor("examplar", [site.url("/p")])])
    assert m("run").code == 0
    r = m("run")
    assert r.code == 0 and "unchanged 1" in r.out
    assert site.requests[-1][1].get("If-None-Match") == '"v1"'
    st = m("status", "--json").json()
    assert st[0]["sources"][0]["last_outcome"] == "unchanged"


def test_reworded_sentence_is_page_change_without_fact_change(site: Site, make_monitor: Any) -> None:
    site.html("/p", page())
    m = make_monitor([vendor("examplar", [site.url("/p")], retention="P30D")])
    m("run")
    site.html("/p", page(RET30.replace("after which they are deleted", "after which they are deleted or anonymised")))
    m("run")
    assert kinds(m.alerts()) == ["page_changed"]


def slow(h: Any) -> None:
    time.sleep(5)


def reset(h: Any) -> None:
    import socket as s

    h.connection.shutdown(s.SHUT_RDWR)
    h.close_connection = True


def huge(h: Any) -> None:
    h.send_response(200)
    h.send_header("Content-Type", "text/html")
    h.send_header("Transfer-Encoding", "chunked")
    h.end_headers()
    chunk = b"<p>" + b"x" * 65530 + b"</p>"
    try:
        for _ in range(300 * 16):
            h.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    except OSError:
        pass


@pytest.fixture
def faulty(site: Site, make_monitor: Any) -> tuple[Site, Monitor, list[str]]:
    names = [
        "ok",
        "slow",
        "reset",
        "e503",
        "e429",
        "huge",
        "bomb",
        "loop",
        "badbytes",
        "empty",
        "botcheck",
        "gone",
        "error200",
    ]
    for n in names:
        site.html(f"/{n}", page())
    vendors = [vendor(n, [site.url(f"/{n}")], retention="P30D", training="no") for n in names]
    m = make_monitor(vendors, defaults={"timeout": 2, "retries": 2, "max_bytes": 2 * 2**20})
    first = m("run")
    assert first.code == 0, first.out + first.err
    return site, m, names


def test_faults_are_failures_never_changes(faulty: tuple[Site, Monitor, list[str]]) -> None:
    site, m, names = faulty
    tries = {"e429": 0}

    def e429(h: Any) -> None:
        tries["e429"] += 1
        if tries["e429"] == 1:
            h.send(429, {"Retry-After": "1", "Content-Type": "text/plain"}, b"slow down")
        else:
            h.send(200, {"Content-Type": "text/html; charset=utf-8"}, page().encode())

    site.html("/ok", page(RET30.replace("30 days", "90 days")))
    site.pages["/slow"] = slow
    site.pages["/reset"] = reset
    site.html("/e503", "<h1>Service Unavailable</h1>", status=503)
    site.pages["/e429"] = e429
    site.pages["/huge"] = huge
    bomb = gzip.compress(b"<html><body><p>" + b"A" * (64 * 2**20) + b"</p></body></html>", 9)
    site.pages["/bomb"] = (200, {"Content-Type": "text/html", "Content-Encoding": "gzip"}, bomb)
    site.html("/loop", "", status=302, headers={"Location": "/loop2"})
    site.html("/loop2", "", status=302, headers={"Location": "/loop"})
    site.pages["/badbytes"] = (
        200,
        {"Content-Type": "text/html; charset=utf-8"},
        page().encode().replace(b"Examplar Privacy Policy</h1>", b"Examplar \xff\xfe Privacy Policy</h1>"),
    )
    site.html("/empty", "")
    site.html(
        "/botcheck",
        "<html><head><title>Just a moment...</title></head><body><h1>Checking your browser before accessing</h1>"
        "<p>Please enable JavaScript and cookies to continue.</p></body></html>",
    )
    site.html(
        "/error200",
        "<html><head><title>Page not found</title></head><body><main><h1>Page not found</h1>"
        "<p>The page you are looking for does not exist.</p></main></body></html>",
    )
    del site.pages["/gone"]

    r = m("run")
    assert r.code == 3, r.out + r.err
    alerts = m.alerts()
    assert set(kinds(alerts, "ok")) == {"page_changed", "fact_changed", "registry_mismatch"}
    for n in names[1:]:
        assert not set(kinds(alerts, n)) & {"page_changed", "fact_changed", "registry_mismatch"}, n
    assert kinds(alerts, "gone") == ["source_gone"]
    assert tries["e429"] == 2
    status = {v["vendor"]: v["sources"][0] for v in m("status", "--json").json()}
    reasons = {n: (status[n]["last_outcome"], status[n]["last_error"] or "") for n in names}
    assert reasons["badbytes"][0] == "unchanged"  # bytes replaced, the text is the same policy
    assert reasons["e429"][0] == "unchanged"
    for n in ("slow", "reset", "e503", "huge", "bomb", "loop", "empty", "botcheck", "error200"):
        assert reasons[n][0] == "failed" and reasons[n][1], (n, reasons[n])
    assert "timed out" in reasons["slow"][1]
    assert "503" in reasons["e503"][1]
    assert "redirect" in reasons["loop"][1]
    assert "MiB" in reasons["huge"][1] and "MiB" in reasons["bomb"][1]

    # the next good load is compared with the last good snapshot: nothing changed, nothing raised
    for n in ("slow", "e503", "botcheck", "empty"):
        site.html(f"/{n}", page())
    before = len(m.alerts())
    m("run")
    after = m.alerts()
    assert len(after) == before, [a for a in after if a["id"] > max(x["id"] for x in alerts)]


def test_source_failing_raised_once_and_recovery(site: Site, make_monitor: Any) -> None:
    site.html("/p", page())
    m = make_monitor([vendor("examplar", [site.url("/p")])], defaults={"retries": 0, "failing_after": 3})
    m("run")
    site.html("/p", "<h1>down</h1>", status=500)
    for _ in range(5):
        assert m("run").code == 3
    assert kinds(m.alerts()) == ["source_failing"]
    site.html("/p", page())
    assert m("run").code == 0
    st = m("status", "--json").json()[0]["sources"][0]
    assert st["consecutive_failures"] == 0 and st["last_error"] is None
    site.html("/p", "<h1>down</h1>", status=500)
    for _ in range(3):
        m("run")
    assert kinds(m.alerts()) == ["source_failing", "source_failing"]  # a new outage after recovery


def test_alternating_versions_alert_once_per_version(site: Site, make_monitor: Any) -> None:
    a, b = page(), page(extra="Enterprise customers can request zero data retention.")
    m = make_monitor([vendor("examplar", [site.url("/p")])])
    for body in (a, b, a, b, a, b):
        site.html("/p", body)
        m("run")
    # B is news once, and so is the return to A (a revert); the flipping after that is not
    assert kinds(m.alerts()).count("page_changed") == 2


def test_vendor_filter_and_unknown_vendor(site: Site, make_monitor: Any) -> None:
    site.html("/a", page())
    site.html("/b", page())
    m = make_monitor([vendor("a", [site.url("/a")]), vendor("b", [site.url("/b")])])
    r = m("run", "--vendor", "a")
    assert "checked 1" in r.out and site.hits.get("/b") is None
    bad = m("run", "--vendor", "nope")
    assert bad.code == 2 and "nope" in bad.err and "Traceback" not in bad.err


def test_scheduled_sources_are_checked_only_when_due(site: Site, make_monitor: Any) -> None:
    site.html("/a", page())
    m = make_monitor([vendor("a", [site.url("/a")])], defaults={"schedule": "0 0 1 1 *"})
    assert "checked 1" in m("run").out
    r = m("run")
    assert "checked 0" in r.out and "not due 1" in r.out
    assert "checked 1" in m("run", "--force").out


def long_page(n: int) -> str:
    paras = [f"Section {i}: {FILLER[i % 4]}" for i in range(n)]
    return policy_html("Examplar Privacy Policy", [RET30, TRAIN_NO, *paras])


def test_a_truncated_page_is_refused_but_a_policy_really_cut_down_is_accepted(site: Site, make_monitor: Any) -> None:
    site.html("/p", long_page(60))
    m = make_monitor([vendor("examplar", [site.url("/p")])])
    m("run")
    for cut in (3, 5, 2):  # truncated at a different point on every load: never a new version
        site.html("/p", long_page(cut))
        r = m("run")
        assert r.code == 3 and "shrank" in r.err
    assert kinds(m.alerts()) == ["source_failing"]  # told as a failing source, never as a change
    site.html("/p", long_page(4))  # the same short policy load after load: it really got shorter
    outcomes = [m("run").code for _ in range(3)]
    assert outcomes == [3, 3, 0]
    assert kinds(m.alerts()) == ["page_changed", "source_failing"]


def test_robots_txt_is_asked_for_once_a_day_and_obeyed_from_memory(site: Site, make_monitor: Any) -> None:
    site.html("/robots.txt", "User-agent: *\nDisallow: /private/\n", headers={"Content-Type": "text/plain"})
    site.html("/p", page())
    site.html("/private/p", page())
    m = make_monitor([vendor("a", [site.url("/p")]), vendor("b", [site.url("/private/p")])])
    for _ in range(3):
        r = m("run")
        assert r.code == 3 and "robots.txt" in r.err
    assert site.hits["/robots.txt"] == 1  # remembered between runs
    assert "/private/p" not in site.hits  # and obeyed from memory
    assert site.hits["/p"] == 3


def test_a_first_run_stores_each_page_as_it_would_alone(site: Site, make_monitor: Any, db_url: str) -> None:
    """A first run stores many first versions together: each must be what checking its page alone gives,
    the refused pages among them included, and a source whose first good load follows failures."""
    days = [7, 14, 30, 45, 60, 90]
    for d in days:
        site.html(f"/p{d}", page(RET30.replace("30 days", f"{d} days")))
    site.html(
        "/botcheck",
        "<html><head><title>Just a moment...</title></head><body><h1>Checking your browser before accessing</h1>"
        "<p>Please enable JavaScript and cookies to continue.</p></body></html>",
    )
    site.html("/late", "<h1>down</h1>", status=500)
    vendors = [vendor(f"v{d}", [site.url(f"/p{d}")]) for d in days]
    vendors += [vendor("botcheck", [site.url("/botcheck")]), vendor("late", [site.url("/late")])]
    m = make_monitor(vendors, defaults={"retries": 0}, db=db_url)

    first = m("run")
    assert first.code == 3, first.out + first.err
    assert "checked 8, new 6, unchanged 0, changed 0, failed 2, alerts 0" in first.out
    status = {v["vendor"]: v for v in m("status", "--json").json()}
    for d in days:
        observed = {f["field"]: f["observed"] for f in status[f"v{d}"]["facts"]}
        assert observed["retention"] == f"P{d}D", d
        assert observed["training"] == "no", d
        assert status[f"v{d}"]["sources"][0]["last_outcome"] == "new"
        history = m("history", f"v{d}", "--json").json()[0]["snapshots"]
        assert len(history) == 1 and history[0]["summary"]["retention"] == f"P{d}D"
    for refused in ("botcheck", "late"):
        src = status[refused]["sources"][0]
        assert src["last_outcome"] == "failed" and src["last_error"], refused
        assert m("history", refused, "--json").json()[0]["snapshots"] == []

    site.html("/late", page())
    second = m("run")
    assert "new 1, unchanged 6, changed 0, failed 1" in second.out, second.out
    late = next(v for v in m("status", "--json").json() if v["vendor"] == "late")["sources"][0]
    assert (late["last_outcome"], late["consecutive_failures"], late["last_error"]) == ("new", 0, None)

    site.html("/p45", page(RET30.replace("30 days", "2 years")))
    m("run")
    facts = [a for a in m.alerts() if a["kind"] == "fact_changed"]
    assert [(a["vendor"], a["old"], a["new"]) for a in facts] == [("v45", "P45D", "P2Y")]
