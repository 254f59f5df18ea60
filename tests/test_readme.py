"""README.md is what a new user follows: every command of `monitor` is in it, its set-up commands exist
and work as written, and what it says about the bundled sources file and other pages is true."""

from __future__ import annotations

import re
import tomllib

import click
import pytest

from policy_monitor.cli import cli
from policy_monitor.registry import load_registry

from .conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def commands(group: click.Group, prefix: str = "") -> list[str]:
    """Every command of the group, subgroups' commands as `db upgrade`."""
    out = []
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            out += commands(command, f"{prefix}{name} ")
        else:
            out.append(prefix + name)
    return out


def shell_lines() -> list[str]:
    """The lines of README's ```sh blocks, comments removed."""
    blocks = re.findall(r"^```sh\n(.*?)^```", README, re.S | re.M)
    return [line.split("#")[0].strip() for block in blocks for line in block.splitlines()]


def test_the_group_has_the_commands_of_the_spec():
    names = commands(cli)
    assert {"run", "daemon", "registry", "extract", "status", "alerts", "ack", "history", "diff", "db upgrade"} <= set(
        names
    )


@pytest.mark.parametrize("command", commands(cli))
def test_every_command_is_in_the_readme(command: str):
    assert re.search(rf"`monitor {re.escape(command)}(?=[ `])", README), f"`monitor {command}` is not in README.md"


def test_global_options_are_in_the_readme():
    for param in cli.params:
        if isinstance(param, click.Option) and param.name not in ("verbose",):
            assert any(opt in README for opt in param.opts), f"{param.opts} is not in README.md"


def test_the_set_up_command_is_in_a_shell_block():
    assert "pip install . && monitor run" in shell_lines()


def test_the_test_command_is_in_a_shell_block_and_its_extra_exists():
    lines = shell_lines()
    assert any(line.endswith("python -m pytest") for line in lines)
    assert 'pip install -e ".[test]" && python -m pytest' in lines
    assert "pytest" in " ".join(PYPROJECT["project"]["optional-dependencies"]["test"])


def test_monitor_is_the_installed_command_and_reads_the_bundled_file_by_default():
    assert PYPROJECT["project"]["scripts"]["monitor"] == "policy_monitor.cli:main"
    sources = next(p for p in cli.params if p.name == "sources")
    db = next(p for p in cli.params if p.name == "db")
    assert (sources.default, db.default) == ("sources.yaml", "sqlite:///monitor.db")
    assert (REPO / "sources.yaml").is_file()
    assert "`monitor.db`" in README and "`./sources.yaml`" in README


def test_the_counts_of_the_bundled_file_are_right():
    registry = load_registry(REPO / "sources.yaml", environ={})
    m = re.search(r"(\d+) vendors, (\d+)\s+pages", README)
    assert m, "README states how many vendors and pages the bundled file watches"
    assert (int(m[1]), int(m[2])) == (len(registry.vendors), sum(len(v.sources) for v in registry.vendors))


@pytest.mark.parametrize("link", sorted(set(re.findall(r"\]\(((?!https?:)[^)#]+)\)", README))))
def test_every_link_of_the_readme_leads_to_a_file(link: str):
    assert (REPO / link).is_file(), f"README.md links {link}, which does not exist"


# --- docs/sources.md, the reference of the sources file ---------------------------------------------------

SOURCES_DOC = (REPO / "docs" / "sources.md").read_text(encoding="utf-8")


def model_fields() -> list[tuple[str, str]]:
    """(model, field as written in the file) for every model a sources file is made of."""
    from policy_monitor import registry as r

    models = [r.Registry, r.Defaults, r.PublishedTable, r.Vendor, r.Facts, r.Claim, r.Source]
    models += [r.WebhookChannel, r.EmailChannel, r.AppriseChannel]
    return [(m.__name__, f.alias or name) for m in models for name, f in m.model_fields.items()]


@pytest.mark.parametrize(("model", "field"), model_fields(), ids=[f"{m}.{f}" for m, f in model_fields()])
def test_the_sources_reference_documents_every_field(model: str, field: str):
    assert re.search(rf"^\| `{re.escape(field)}` \|", SOURCES_DOC, re.M), (
        f"{model}.{field} has no row in docs/sources.md"
    )


def test_the_sources_reference_lists_the_vocabulary_and_the_alert_kinds():
    from typing import get_args

    from policy_monitor.registry import AlertKind
    from policy_monitor.vocabulary import STORES_VALUES, TRAINING_VALUES

    for word in (*TRAINING_VALUES, *STORES_VALUES, *get_args(AlertKind), "prompt", "completion", "image"):
        assert f"`{word}`" in SOURCES_DOC, word
    for words in (("per-alert", "digest"), ("json", "slack"), ("http", "browser")):
        assert all(f"`{w}`" in SOURCES_DOC for w in words)


def test_the_minimal_file_of_the_sources_reference_loads(tmp_path):
    first = re.search(r"^```yaml\n(.*?)^```", SOURCES_DOC, re.S | re.M)
    assert first
    path = tmp_path / "sources.yaml"
    path.write_text(first[1], encoding="utf-8")
    registry = load_registry(path, environ={})
    assert registry.vendors[0].expected.stated() == {"retention": "P30D", "training": "no"}


def test_the_error_examples_of_the_sources_reference_are_one_line_sentences():
    block = re.search(r"^```text\n(.*?)^```", SOURCES_DOC, re.S | re.M)
    assert block
    for line in block[1].splitlines():
        assert re.match(r"Error: sources\.yaml:\d+: ", line) and line.endswith((".", "?")), line
