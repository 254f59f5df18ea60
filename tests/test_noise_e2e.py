"""No false alarms, end to end: ten loads of one unchanged policy, each with what real pages vary on every
load, raise nothing; one reworded sentence raises page_changed; a new period raises fact_changed."""

from __future__ import annotations

import random
from typing import Any

from .conftest import Site

RET = "Inputs and outputs sent to the API are retained for 30 days, after which they are deleted."
TRAIN = "We don't use content submitted through the API to train our models."
DATES = ["Effective: 8 July 2026", "Effective: July 8, 2026", "Effective: 2026-07-08", "Effective: Jul 8, 2026"]


def noisy_page(seed: int, retention: str = RET) -> str:
    rnd = random.Random(seed)
    token = f"{rnd.getrandbits(128):032x}"
    quote = rnd.choice(["'", "\u2019"])
    space = rnd.choice([" ", "\u00a0"])
    invisible = rnd.choice(["", "\u200b", "\u2060", "\u00ad"])
    attrs = ['class="p" data-x="1"', 'data-x="1"   class="p"'][seed % 2]
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>Examplar privacy</title>
<meta name="csrf-token" content="{token}">
<script nonce="{token[:12]}">window.__BUILD__="{rnd.getrandbits(40):x}"</script>
<style>.p{{margin:{rnd.randint(1, 9)}px}}</style></head><body>
<div id="onetrust-banner-sdk" class="cookie-consent">We use cookies. Session {rnd.getrandbits(32):x}.
<button>Accept all</button></div>
<header><nav><a href="/?ref={token[:8]}">Home</a> <a href="/blog">Blog ({rnd.randint(1, 99)} new)</a></nav></header>
<aside class="promo">Try our new model {rnd.choice(["Alpha", "Beta", "Gamma"])} today!</aside>
<main><article>
<h1>Privacy{space}Policy</h1>
<p {attrs}>{rnd.choice(DATES)}</p>
<p>Updated {rnd.randint(2, 30)} days ago</p>
<p {attrs}>This policy explains how Examplar{invisible} handles   information when you use our API.</p>
<p {attrs}>{retention}</p>
<p>{TRAIN.replace("'", quote)}</p>
<p>See our <a href="/subprocessors?utm_source=x{seed}&amp;gclid={rnd.getrandbits(30)}">subprocessor list</a>
for who helps us.</p>
<ul><li>Account data is kept while your account is open.</li>
<li>Billing records are kept as the law requires.</li></ul>
<div hidden>tracking pixel {rnd.random()}</div>
</article></main>
<footer>&copy; 2026 Examplar · Build {rnd.randint(1000, 9999)} · {rnd.randint(1, 10**6)} views ·
generated 2026-11-{rnd.randint(1, 28):02d}T{rnd.randint(0, 23):02d}:{rnd.randint(0, 59):02d}:00Z</footer>
</body></html>"""


def test_noise_is_silent_and_real_changes_are_not(site: Site, make_monitor: Any) -> None:
    vendor = {
        "id": "examplar",
        "name": "Examplar",
        "sources": [{"url": site.url("/privacy")}],
        "expected": {"retention": "P30D", "training": "no"},
    }
    m = make_monitor([vendor])
    for seed in range(10):
        site.html("/privacy", noisy_page(seed))
        r = m("run")
        assert r.code == 0, r.err
    assert m.alerts() == [], [(a["kind"], a.get("new")) for a in m.alerts()]
    status = m("status", "--json").json()[0]
    assert {f["field"]: f["state"] for f in status["facts"]}["retention"] == "ok"

    site.html("/privacy", noisy_page(11, RET.replace("they are deleted", "they are deleted or anonymised")))
    m("run")
    assert [a["kind"] for a in m.alerts()] == ["page_changed"]

    site.html("/privacy", noisy_page(12, RET.replace("30 days", "90 days")))
    m("run")
    kinds = sorted(a["kind"] for a in m.alerts())
    assert kinds == ["fact_changed", "page_changed", "page_changed", "registry_mismatch"]
