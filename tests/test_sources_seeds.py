"""The bundled sources.yaml carries every row of the two published tables it tracks.

The tables are read here, from the seed files kept beside the project (`../shared/seeds`, or the
directory named by POLICY_MONITOR_SEEDS), so that a row added to or changed in a table fails this test
until sources.yaml follows.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from policy_monitor.registry import Claim, Registry, Vendor, load_registry

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "sources.yaml"
ROUTER_SEED = "000_d17fd3f819449af9.txt"
MODELS_SEED = "004_6208a7100aeddd67.txt"


def _seeds_dir() -> Path:
    env = os.environ.get("POLICY_MONITOR_SEEDS")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "seeds"


SEEDS = _seeds_dir()
pytestmark = pytest.mark.skipif(
    not ((SEEDS / ROUTER_SEED).is_file() and (SEEDS / MODELS_SEED).is_file()),
    reason=f"the published tables are not at {SEEDS} (set POLICY_MONITOR_SEEDS to their directory)",
)


# --- reading the two tables ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RouterRow:
    vendor: str
    stores: str
    scope: list[str]
    retention: str
    training: str


@dataclass(frozen=True)
class ModelsRow:
    models: list[str]
    providers: list[str]
    training: str
    retention: str
    flagged_retention: str | None
    links: list[tuple[str, str]]  # (text, url)
    unlinked: list[str] = field(default_factory=list)


# The router's table lost its cell separators when it was copied: each row is the five cells run
# together. The last four cells only ever hold these phrases, so a row is split by matching them.
STORES = {"Yes": "yes", "ZDR": "zdr"}
SCOPES = {
    "Prompt / Completion": ["prompt", "completion"],
    "Prompt / Image": ["prompt", "image"],
    "Prompt": ["prompt"],
    "None": [],
}
TRAINING = {
    "Will not be used for training": "no",
    "May be used for training": "yes",
    "No": "no",
    "Yes": "yes",
}
_ROUTER_ROW = re.compile(
    "^(?P<vendor>.+?)"
    f"(?P<stores>{'|'.join(STORES)})"
    f"(?P<scope>{'|'.join(map(re.escape, SCOPES))})"
    r"(?P<retention>Unknown retention time for prompts|Zero data retention|Retained for \d+ \w+)"
    f"(?P<training>{'|'.join(list(TRAINING)[:2])})$"
)
_UNITS = {"hour": "PT{}H", "day": "P{}D", "week": "P{}W", "month": "P{}M", "year": "P{}Y"}
_PERIOD = r"(\d+) (hour|day|week|month|year)s?"


def _duration(number: str, unit: str) -> str:
    return _UNITS[unit].format(number)


def retention_of(text: str) -> tuple[str, str | None]:
    """A table's retention cell -> (retention, flagged_retention) in the SPEC vocabulary."""
    text = text.strip()
    if text in ("Zero data retention", "Not stored"):
        return "zero", None
    if text == "Unknown retention time for prompts":
        return "unknown", None
    m = re.fullmatch(rf"(?:Retained for )?{_PERIOD}(?: \(flagged prompts: {_PERIOD}\))?", text)
    if not m:
        raise AssertionError(f"retention cell {text!r} is not in the vocabulary this test knows")
    flagged = _duration(m.group(3), m.group(4)) if m.group(3) else None
    return _duration(m.group(1), m.group(2)), flagged


def router_rows() -> list[RouterRow]:
    lines = (SEEDS / ROUTER_SEED).read_text(encoding="utf-8").splitlines()
    start = next(
        i for i, line in enumerate(lines) if line.startswith("Vendor") and "Used for Training" in line
    )
    rows, unread = [], []
    for line in lines[start + 1 :]:
        line = line.strip()
        if not line:
            break
        m = _ROUTER_ROW.match(line)
        if not m:
            unread.append(line)
            continue
        rows.append(
            RouterRow(
                vendor=m["vendor"].strip(),
                stores=STORES[m["stores"]],
                scope=SCOPES[m["scope"]],
                retention=retention_of(m["retention"])[0],
                training=TRAINING[m["training"]],
            )
        )
    assert not unread, f"rows of {ROUTER_SEED} this test cannot read: {unread}"
    return rows


def _items(cell: str) -> list[str]:
    return [re.sub(r"\s+", " ", item).strip() for item in re.findall(r"<li>(.*?)</li>", cell)]


def models_rows() -> list[ModelsRow]:
    rows = []
    for line in (SEEDS / MODELS_SEED).read_text(encoding="utf-8").splitlines():
        if not line.startswith("|") or "<ul>" not in line.split("|")[1]:
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        assert len(cells) == 5, f"a row of {MODELS_SEED} does not have five cells: {line[:80]}"
        models, providers, trains, retention, links = cells
        link_items = _items(links)
        linked = [m.groups() for item in link_items if (m := re.fullmatch(r"\[(.*?)\]\((\S+?)\)", item))]
        unlinked = [item for item in link_items if not item.startswith("[")]
        period, flagged = retention_of(retention)
        rows.append(
            ModelsRow(
                models=_items(models),
                providers=_items(providers),
                training=TRAINING[trains],
                retention=period,
                flagged_retention=flagged,
                links=[(text, url) for text, url in linked],
                unlinked=unlinked,
            )
        )
    return rows


# --- finding rows in the registry ---------------------------------------------------------------------


def _norm(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


@pytest.fixture(scope="module")
def registry() -> Registry:
    return load_registry(SOURCES)


@pytest.fixture(scope="module")
def by_name(registry: Registry) -> dict[str, Vendor]:
    names: dict[str, Vendor] = {}
    for v in registry.vendors:
        for n in {v.id, v.name, *v.aliases}:
            other = names.setdefault(_norm(n), v)
            assert other.id == v.id, f"the name {n!r} is used by both {other.id} and {v.id}"
    return names


def _claims(vendor: Vendor, registry_id: str) -> list[Claim]:
    return [c for c in vendor.claims if c.registry == registry_id]


def test_the_seed_tables_are_read_whole():
    router, models = router_rows(), models_rows()
    assert len(router) == 33
    assert len({r.vendor for r in router}) == 33
    assert len(models) == 12
    assert all(r.models and r.providers for r in models)


def test_both_tables_are_registries(registry: Registry):
    assert {t.id for t in registry.registries} == {"aihubmix", "assistant"}
    aihubmix = next(t for t in registry.registries if t.id == "aihubmix")
    assert str(aihubmix.updated) == "2026-06-01"
    assert registry.defaults.schedule == "0 */6 * * *"
    assert registry.defaults.timeout == 30


def test_every_router_row_is_a_vendor_with_its_claim(by_name: dict[str, Vendor]):
    problems, seen = [], {}
    for row in router_rows():
        vendor = by_name.get(_norm(row.vendor))
        if vendor is None:
            problems.append(f"{row.vendor}: no vendor has this id, name or alias")
            continue
        if vendor.id in seen:
            problems.append(f"{row.vendor} and {seen[vendor.id]} are both {vendor.id}: their claims differ")
        seen[vendor.id] = row.vendor
        want = {
            "stores": row.stores,
            "scope": row.scope,
            "retention": row.retention,
            "training": row.training,
        }
        claims = _claims(vendor, "aihubmix")
        if not any({k: getattr(c, k) for k in want} == want for c in claims):
            got = [{k: getattr(c, k) for k in want} for c in claims]
            problems.append(f"{row.vendor}: no aihubmix claim {want} (has {got})")
        if len(claims) != 1:
            problems.append(f"{row.vendor}: {len(claims)} aihubmix claims for one row")
    assert not problems, "\n".join(problems)


def test_every_models_row_is_claimed_for_each_provider(by_name: dict[str, Vendor]):
    problems = []
    for row in models_rows():
        want = {
            "training": row.training,
            "retention": row.retention,
            "flagged_retention": row.flagged_retention,
        }
        for provider in row.providers:
            vendor = by_name.get(_norm(provider))
            if vendor is None:
                problems.append(f"{provider}: no vendor has this id, name or alias")
                continue
            matching = [c for c in _claims(vendor, "assistant") if {k: getattr(c, k) for k in want} == want]
            if not matching:
                problems.append(f"{provider} ({vendor.id}): no assistant claim {want}")
            elif missing := [m for m in row.models if not any(m in c.models for c in matching)]:
                problems.append(f"{provider} ({vendor.id}): models {missing} are not in its {want} claim")
    assert not problems, "\n".join(problems)


def test_every_model_name_is_in_a_claim_verbatim(registry: Registry):
    claimed = {m for v in registry.vendors for c in v.claims for m in c.models}
    missing = [m for row in models_rows() for m in row.models if m not in claimed]
    assert not missing


def test_every_linked_page_is_a_source_of_a_vendor_of_its_row(by_name: dict[str, Vendor]):
    problems = []
    for row in models_rows():
        vendors = [by_name[_norm(p)] for p in row.providers if _norm(p) in by_name]
        urls = {s.url for v in vendors for s in v.sources}
        problems += [f"{text}: {url}" for text, url in row.links if url not in urls]
    assert not problems, "linked pages that are no source, verbatim:\n" + "\n".join(problems)


def test_unlinked_agreements_are_noted_on_their_vendor(by_name: dict[str, Vendor]):
    rows = [row for row in models_rows() if row.unlinked]
    assert rows, "the models table has unlinked entries (Nebius) this test expects to check"
    for row in rows:
        vendors = [by_name[_norm(p)] for p in row.providers if _norm(p) in by_name]
        for text in row.unlinked:
            notes = [n for v in vendors for n in (v.note, *(s.note for s in v.sources)) if n]
            assert text in notes, f"{text!r} is not the note of any vendor of its row"


def test_every_vendor_has_an_http_source(registry: Registry):
    assert [v.id for v in registry.vendors if not v.sources] == []


def test_google_is_split_and_the_assistant_google_is_vertex(by_name: dict[str, Vendor]):
    assert by_name[_norm("Google AI Studio")].id != by_name[_norm("Google Vertex")].id
    assert by_name[_norm("Google")].id == by_name[_norm("Google Vertex")].id
    vertex = by_name[_norm("Google")]
    assert any("cloud.google.com/vertex-ai" in s.url for s in vertex.sources)


def test_expected_never_contradicts_tables_that_agree(registry: Registry):
    """Where every table that states a field says the same, `expected` does not say otherwise."""
    problems = []
    for v in registry.vendors:
        for name, value in v.expected.stated().items():
            if value == "unknown":
                problems.append(f"{v.id}.expected.{name}: 'unknown' is no expectation")
            claimed = {repr(getattr(c, name)) for c in v.claims if getattr(c, name) is not None}
            if len(claimed) == 1 and claimed != {repr(value)}:
                problems.append(f"{v.id}.expected.{name}: {value!r} but every table says {claimed.pop()}")
    assert not problems, "\n".join(problems)
