"""The registry views: the vendor table and the conflicts between published tables."""

from __future__ import annotations

from pathlib import Path

import pytest

from policy_monitor.registry import Registry, load_registry
from policy_monitor.registry_view import Conflict, find_conflicts, render_conflicts, render_table

SMALL = """\
registries:
  - id: router
  - id: models
vendors:
  - id: acme
    name: Acme AI
    aliases: [Acme]
    sources:
      - url: https://acme.example/privacy
      - url: https://acme.example/faq
    expected:
      retention: P30D
      flagged_retention: P2Y
      training: "no"
    claims:
      - registry: router
        stores: "yes"
        scope: [prompt, completion]
        retention: unknown
        training: "no"
      - registry: models
        retention: P30D
        flagged_retention: P2Y
        training: "no"
        models: [Acme 1]
  - id: bolt
    name: Bolt
    sources:
      - url: https://bolt.example/privacy
    claims:
      - registry: router
        stores: zdr
        scope: []
        retention: zero
        training: "no"
        zdr_available: true
      - registry: models
        retention: P30D
        training: "yes"
        zdr_available: false
        models: [Bolt Large]
      - registry: models
        retention: zero
        training: "yes"
        models: [Bolt Small]
  - id: calm
    name: Calm
    sources:
      - url: https://calm.example/privacy
    claims:
      - registry: router
        retention: P30D
        training: "no"
        models: [Calm A]
      - registry: models
        retention: P30D
        training: "no"
        models: [Calm B]
  - id: solo
    name: Solo
    sources:
      - url: https://solo.example/privacy
    claims:
      - registry: models
        retention: P30D
        models: [Solo 1]
      - registry: models
        retention: zero
        models: [Solo 2]
"""


@pytest.fixture
def small(tmp_path: Path) -> Registry:
    path = tmp_path / "sources.yaml"
    path.write_text(SMALL, encoding="utf-8")
    return load_registry(path, environ={})


@pytest.fixture(scope="module")
def bundled() -> Registry:
    return load_registry(Path(__file__).resolve().parents[1] / "sources.yaml", environ={})


def test_conflicts_of_a_small_registry(small: Registry):
    assert find_conflicts(small) == [
        Conflict("acme", "Acme AI", "retention", {"router": ("unknown",), "models": ("P30D",)}),
        Conflict("bolt", "Bolt", "retention", {"router": ("zero",), "models": ("P30D", "zero")}),
        Conflict("bolt", "Bolt", "training", {"router": ("no",), "models": ("yes",)}),
        Conflict("bolt", "Bolt", "zdr_available", {"router": (True,), "models": (False,)}),
    ]


def test_fields_one_table_alone_states_are_no_conflict(small: Registry):
    fields = {(c.vendor_id, c.field) for c in find_conflicts(small)}
    assert ("acme", "flagged_retention") not in fields  # only the models table states it
    assert ("acme", "stores") not in fields
    assert not any(vendor == "calm" for vendor, _ in fields)  # different models, same facts
    assert not any(vendor == "solo" for vendor, _ in fields)  # one table disagreeing with itself


def test_render_conflicts_groups_by_vendor(small: Registry):
    assert render_conflicts(find_conflicts(small)) == (
        "Acme AI (acme)\n"
        "  retention: router says unknown; models says P30D\n"
        "\n"
        "Bolt (bolt)\n"
        "  retention: router says zero; models says P30D / zero\n"
        "  training: router says no; models says yes\n"
        "  zdr_available: router says true; models says false\n"
        "\n"
        "4 conflicts in 2 vendors.\n"
    )


def test_render_conflicts_when_the_tables_agree():
    assert render_conflicts([]) == "The published tables agree on every vendor they share.\n"


def test_conflict_to_dict_is_json_ready(small: Registry):
    bolt = [c for c in find_conflicts(small) if c.vendor_id == "bolt"]
    assert bolt[0].to_dict() == {
        "vendor": "bolt",
        "name": "Bolt",
        "field": "retention",
        "values": {"router": ["zero"], "models": ["P30D", "zero"]},
    }


def test_scope_conflicts_compare_lists(tmp_path: Path):
    path = tmp_path / "sources.yaml"
    path.write_text(
        "registries:\n  - id: a\n  - id: b\n"
        "vendors:\n  - id: acme\n    name: Acme\n    claims:\n"
        "      - registry: a\n        scope: [prompt, completion]\n"
        "      - registry: b\n        scope: []\n",
        encoding="utf-8",
    )
    (conflict,) = find_conflicts(load_registry(path, environ={}))
    assert conflict.values == {"a": (("prompt", "completion"),), "b": ((),)}
    assert "scope: a says [prompt, completion]; b says []" in render_conflicts([conflict])


def test_render_table_of_a_small_registry(small: Registry):
    assert render_table(small) == (
        "ID    NAME     RETENTION           TRAINING  SOURCES  TABLES\n"
        "acme  Acme AI  P30D (flagged P2Y)  no        2        router, models\n"
        "bolt  Bolt     -                   -         1        router, models\n"
        "calm  Calm     -                   -         1        router, models\n"
        "solo  Solo     -                   -         1        models\n"
        "\n"
        "4 vendors, 5 sources, 2 published tables. RETENTION and TRAINING are the expected values; "
        "'-' is not checked.\n"
    )


def test_bundled_conflicts(bundled: Registry):
    found = {(c.vendor_id, c.field): c.values for c in find_conflicts(bundled)}
    assert found == {
        ("openai", "retention"): {"aihubmix": ("unknown",), "assistant": ("P30D",)},
        ("azure", "retention"): {"aihubmix": ("zero",), "assistant": ("P30D",)},
        ("amazon", "retention"): {"aihubmix": ("zero",), "assistant": ("P30D", "zero")},
        ("google-vertex", "retention"): {"aihubmix": ("zero",), "assistant": ("PT24H",)},
    }


def test_bundled_table_lists_every_vendor(bundled: Registry):
    text = render_table(bundled)
    lines = text.splitlines()
    assert lines[0].split() == ["ID", "NAME", "RETENTION", "TRAINING", "SOURCES", "TABLES"]
    rows = {line.split()[0]: line for line in lines[1 : 1 + len(bundled.vendors)]}
    assert set(rows) == {v.id for v in bundled.vendors}
    assert rows["openai"].split()[-4:] == ["no", "5", "aihubmix,", "assistant"]
    assert "P30D (flagged P2Y)" in rows["anthropic"]
    assert rows["nebius"].endswith("assistant")
