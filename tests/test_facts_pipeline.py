"""Facts in the pipeline: unverified fields, re-extraction after an extractor upgrade, merged vendors."""

from __future__ import annotations

from typing import Any

import pytest

from policy_monitor import facts
from policy_monitor.facts import Extraction, Summary

from .conftest import FILLER, Site, policy_html

RET = "We retain API inputs and outputs for 30 days, after which they are deleted."


def vendor(urls: list[str], **expected: Any) -> dict[str, Any]:
    return {"id": "examplar", "name": "Examplar", "sources": [{"url": u} for u in urls], "expected": expected}


def test_a_field_no_page_states_is_unverified_not_alerted(site: Site, make_monitor: Any) -> None:
    site.html("/p", policy_html("Examplar", [FILLER[0], RET, FILLER[1]]))
    m = make_monitor([vendor([site.url("/p")], retention="P30D", training="no")])
    m("run")
    facts = {f["field"]: f for f in m("status", "--json").json()[0]["facts"]}
    assert facts["retention"]["state"] == "ok" and facts["retention"]["observed"] == "P30D"
    assert facts["training"]["state"] == "unverified" and facts["training"]["observed"] is None
    assert m.alerts() == []
    assert "unverified" in m("status").out


def test_sources_of_a_vendor_are_merged_and_contradictions_shown(site: Site, make_monitor: Any) -> None:
    site.html("/privacy", policy_html("Examplar", [FILLER[0], RET]))
    site.html("/faq", policy_html("FAQ", ["We do not use API data to train our models.", FILLER[2]]))
    m = make_monitor([vendor([site.url("/privacy"), site.url("/faq")], retention="P30D", training="no")])
    m("run")
    assert m.alerts() == []  # retention from one page, training from the other: both verified
    site.html(
        "/faq", policy_html("FAQ", ["API inputs are kept for 90 days.", "We do not use API data to train our models."])
    )
    m("run")
    mismatch = [a for a in m.alerts() if a["kind"] == "registry_mismatch"]
    assert len(mismatch) == 1 and mismatch[0]["field"] == "retention"
    assert mismatch[0]["new"] == "P30D | P90D"  # the two pages contradict each other, and say so


def test_a_period_said_in_other_units_is_the_same_fact(site: Site, make_monitor: Any) -> None:
    """"two weeks" is the registry's P14D: no mismatch, and rewording it later changes the page, not a fact."""
    site.html("/p", policy_html("Examplar", [FILLER[0], "We keep API prompts for two weeks.", FILLER[1]]))
    site.html("/faq", policy_html("FAQ", ["API inputs are deleted after 14 days.", FILLER[2]]))
    m = make_monitor([vendor([site.url("/p"), site.url("/faq")], retention="P14D")])
    m("run")
    retention = next(f for f in m("status", "--json").json()[0]["facts"] if f["field"] == "retention")
    assert retention["state"] == "ok"
    assert retention["observed"] in ("P2W", "P14D")  # one value, as the first page states it
    assert m.alerts() == []

    site.html("/p", policy_html("Examplar", [FILLER[0], "We keep API prompts for fourteen days.", FILLER[1]]))
    m("run")
    assert [a["kind"] for a in m.alerts()] == ["page_changed"]

    site.html("/p", policy_html("Examplar", [FILLER[0], "We keep API prompts for one month.", FILLER[1]]))
    m("run")  # a month is not 14 days, nor 30: a real change, and the two pages now disagree
    kinds = sorted(a["kind"] for a in m.alerts())
    assert kinds == ["fact_changed", "page_changed", "page_changed", "registry_mismatch"]


def test_a_mismatch_reworded_in_other_units_is_not_alerted_again(site: Site, make_monitor: Any) -> None:
    site.html("/p", policy_html("Examplar", [FILLER[0], "We keep API prompts for 14 days.", FILLER[1]]))
    m = make_monitor([vendor([site.url("/p")], retention="P30D")])
    m("run")
    assert [(a["kind"], a["new"]) for a in m.alerts()] == [("registry_mismatch", "P14D")]
    site.html("/p", policy_html("Examplar", [FILLER[0], "We keep API prompts for two weeks.", FILLER[1]]))
    m("run")
    assert sorted(a["kind"] for a in m.alerts()) == ["page_changed", "registry_mismatch"]  # the same mismatch


def test_reextract_stores_new_facts_without_fact_changed(
    site: Site, make_monitor: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    site.html("/p", policy_html("Examplar", [FILLER[0], RET]))
    m = make_monitor([vendor([site.url("/p")], retention="P30D")])
    m("run")
    assert m.alerts() == []

    better = Extraction(summary=Summary(retention="P30D", zdr_available=True), facts=(), evidence={"retention": RET})
    monkeypatch.setattr(facts, "extract", lambda text: better)  # an improved extractor reads more
    r = m("reextract")
    assert r.code == 0 and "re-extracted 1 snapshot" in r.out and "1 summary" in r.out
    history = m("history", "examplar", "--json").json()[0]["snapshots"]
    assert history[-1]["summary"]["zdr_available"] is True
    assert [a["kind"] for a in m.alerts()] == []  # our upgrade, not the vendor's change

    worse = Extraction(summary=Summary(retention="P2Y"), facts=(), evidence={"retention": RET})
    monkeypatch.setattr(facts, "extract", lambda text: worse)
    m("reextract")
    kinds = [a["kind"] for a in m.alerts()]
    assert kinds == ["registry_mismatch"]  # the expected facts are re-checked against the new reading


def test_a_page_whose_bytes_change_but_not_its_policy_is_not_read_again(
    site: Site, make_monitor: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    real = facts.extract
    monkeypatch.setattr(facts, "extract", lambda text: calls.append(1) or real(text))
    m = make_monitor([vendor([site.url("/p")], retention="P30D")])
    for nonce in range(3):  # a fresh token on every load: new bytes, same policy
        site.html("/p", policy_html("Examplar", [FILLER[0], RET], head=f'<meta name="csrf" content="{nonce}">'))
        assert m("run").code == 0
    assert len(calls) == 1
    assert m.alerts() == []
