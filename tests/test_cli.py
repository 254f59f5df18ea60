"""The `monitor` command as users meet it: what a bad sources file or option prints and exits with (and that
nothing is fetched or written then), and what each read-only command shows."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from policy_monitor import __version__
from policy_monitor.cli import cli
from policy_monitor.store.db import HEAD
from policy_monitor.vocabulary import STORES_VALUES, TRAINING_VALUES, is_retention

from .conftest import FILLER, REPO, Monitor, Result, Site, policy_html

RET30 = "We retain API inputs and outputs for 30 days, after which they are deleted."
FLAGGED = "Inputs flagged by our safety classifiers may be kept for up to 2 years."
TRAIN_NO = "We do not train our models on your API inputs or outputs."


def page(*extra: str) -> str:
    return policy_html("Examplar Privacy Policy", [FILLER[0], RET30, FILLER[1], TRAIN_NO, *extra, FILLER[3]])


def vendor(vid: str, urls: list[str], **expected: Any) -> dict[str, Any]:
    return {"id": vid, "name": vid.title(), "sources": [{"url": u} for u in urls], "expected": expected}


def monitor(sources: Path, db: str, *args: str, env: dict[str, str] | None = None) -> Result:
    return Monitor(sources, db)(*args, env=env)


def db_file(sqlite_url: str) -> Path:
    return Path(sqlite_url.removeprefix("sqlite:///"))


def assert_one_clean_error(r: Result, code: int = 2) -> str:
    """One line on stderr starting with `Error: `, nothing on stdout, no traceback; returns the message."""
    assert r.code == code, (r.out, r.err)
    assert "Traceback" not in r.err
    assert r.out == ""
    lines = r.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), r.err
    return lines[0].removeprefix("Error: ")


# --- a bad sources file: exit 2, file and line/field named, nothing fetched or written ------------------

SRC = "    sources:\n      - url: {url}\n"
GOOD = "vendors:\n  - id: acme\n    name: Acme AI\n" + SRC

# (case id, file text ({url} is a page on the loopback site), where: "line: field path" the message starts with)
BAD_SOURCES = [
    ("yaml-syntax", "vendors:\n  - id: acme\n   name: Acme AI\n" + SRC, ":3: YAML syntax error:"),
    ("unknown-value", GOOD + "    expected:\n      retention: thirty days\n", ":7: vendors[0].expected.retention: "),
    (
        "missing-url",
        "vendors:\n  - id: acme\n    name: Acme AI\n    sources:\n      - kind: faq\n",
        ":5: vendors[0].sources[0]: ",
    ),
    (
        "misspelt-key",
        "vendors:\n  - id: acme\n    name: Acme AI\n    sources:\n      - urll: {url}\n",
        ":5: vendors[0].sources[0]: ",
    ),
    ("duplicate-vendor-id", GOOD + "  - id: acme\n    name: Other\n" + SRC, ":6: vendors[1].id: duplicate vendor id"),
    ("non-http-scheme", GOOD + "      - url: ftp://acme.example/p\n", ":6: vendors[0].sources[1].url: "),
    ("duplicate-source-url", GOOD + "      - url: {url}\n", ":6: vendors[0].sources[1].url: "),
    ("unset-env", GOOD + "notify:\n  - type: webhook\n    url: https://${HOOK_HOST}/p\n", ":8: notify[0].url: "),
    ("claim-registry", GOOD + "    claims:\n      - registry: router\n", ":7: vendors[0].claims[0].registry: "),
    ("bad-channel", GOOD + "notify:\n  - type: pager\n", ":7: notify[0].type: "),
    ("bool-type", GOOD + "    expected:\n      zdr_available: maybe\n", ":7: vendors[0].expected.zdr_available: "),
]


@pytest.fixture(scope="module")
def quiet_site() -> Iterator[Site]:
    """A page nobody should fetch (one server for the module: stopping one takes half a second)."""
    s = Site()
    s.html("/p", page())
    yield s
    s.close()


@pytest.mark.parametrize(("text", "where"), [c[1:] for c in BAD_SOURCES], ids=[c[0] for c in BAD_SOURCES])
def test_a_bad_sources_file_stops_run_before_anything_happens(
    tmp_path: Path, quiet_site: Site, sqlite_url: str, text: str, where: str
) -> None:
    sources = tmp_path / "sources.yaml"
    sources.write_text(text.replace("{url}", quiet_site.url("/p")), encoding="utf-8")
    message = assert_one_clean_error(monitor(sources, sqlite_url, "run"))
    assert message.startswith(f"{sources}{where}"), message
    assert message.endswith((".", "?"))
    assert quiet_site.requests == []  # nothing fetched
    assert not db_file(sqlite_url).exists()  # nothing written


def test_the_message_names_the_misspelt_key_and_the_right_one(tmp_path: Path, sqlite_url: str) -> None:
    sources = tmp_path / "sources.yaml"
    sources.write_text("vendors:\n  - id: acme\n    name: Acme AI\n    sources:\n      - urll: https://a.example/p\n")
    message = assert_one_clean_error(monitor(sources, sqlite_url, "run"))
    assert message == f"{sources}:5: vendors[0].sources[0]: `urll` is not a known field. Did you mean `url`?"


@pytest.mark.parametrize("command", ["registry", "status", "history acme", "diff acme", "reextract", "daemon"])
def test_every_command_that_reads_the_sources_refuses_a_bad_file(tmp_path: Path, sqlite_url: str, command: str) -> None:
    sources = tmp_path / "sources.yaml"
    sources.write_text(GOOD.replace("{url}", "ftp://acme.example/p"), encoding="utf-8")
    message = assert_one_clean_error(monitor(sources, sqlite_url, *command.split()))
    assert message.startswith(f"{sources}:5: vendors[0].sources[0].url: ")


@pytest.mark.parametrize("command", ["status", "history acme", "diff acme", "reextract"])
def test_a_bad_sources_file_creates_no_database(tmp_path: Path, sqlite_url: str, command: str) -> None:
    sources = tmp_path / "sources.yaml"
    sources.write_text(GOOD.replace("{url}", "ftp://acme.example/p"), encoding="utf-8")
    assert monitor(sources, sqlite_url, *command.split()).code == 2
    assert not db_file(sqlite_url).exists()


def test_a_missing_sources_file_says_how_to_point_at_one(tmp_path: Path, sqlite_url: str) -> None:
    nowhere = tmp_path / "nowhere.yaml"
    message = assert_one_clean_error(monitor(nowhere, sqlite_url, "run"))
    assert message == f"{nowhere}: no such file. Pass --sources PATH or set MONITOR_SOURCES."
    assert not db_file(sqlite_url).exists()


def test_the_sources_file_can_come_from_the_environment(tmp_path: Path, sqlite_url: str) -> None:
    nowhere = tmp_path / "from-env.yaml"
    r = CliRunner().invoke(cli, ["--db", sqlite_url, "registry"], env={"MONITOR_SOURCES": str(nowhere)})
    assert (
        r.exit_code == 2
        and r.stderr == f"Error: {nowhere}: no such file. Pass --sources PATH or set MONITOR_SOURCES.\n"
    )


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("not-a-url", "is not a database URL"),
        ("nosuchdb://host/db", "no driver for nosuchdb"),
    ],
)
def test_a_bad_db_url_is_a_usage_error(tmp_path: Path, quiet_site: Site, url: str, says: str) -> None:
    sources = tmp_path / "sources.yaml"
    sources.write_text(GOOD.replace("{url}", quiet_site.url("/p")), encoding="utf-8")
    message = assert_one_clean_error(monitor(sources, url, "run"))
    assert message.startswith("--db: ") and says in message
    assert quiet_site.requests == []


def test_version() -> None:
    r = CliRunner().invoke(cli, ["--version"])
    assert r.exit_code == 0
    assert r.stdout == f"policy-monitor, version {__version__}\n"
    assert re.fullmatch(r"\d+\.\d+\.\d+\S*", __version__)


def test_every_command_has_help() -> None:
    runner = CliRunner()
    commands = [[name] for name in cli.commands if name != "db"] + [["db", "upgrade"]]
    for command in commands:
        r = runner.invoke(cli, [*command, "--help"])
        assert r.exit_code == 0, command
        assert r.stdout.startswith("Usage: "), command
        description = r.stdout.split("\n\n")[1].strip()
        assert len(description) > 20, (command, description)


# --- monitor registry -------------------------------------------------------------------------------------

BUNDLED = REPO / "sources.yaml"


def test_registry_table_of_the_bundled_file(sqlite_url: str) -> None:
    r = monitor(BUNDLED, sqlite_url, "registry")
    assert r.code == 0, r.err
    data = monitor(BUNDLED, sqlite_url, "registry", "--json").json()
    vendors, sources = len(data["vendors"]), sum(len(v["sources"]) for v in data["vendors"])
    rows = r.out.splitlines()
    assert rows[0].split() == ["ID", "NAME", "RETENTION", "TRAINING", "SOURCES", "TABLES"]
    assert [row.split()[0] for row in rows[1 : 1 + vendors]] == [v["id"] for v in data["vendors"]]
    assert f"{vendors} vendors, {sources} sources, {len(data['registries'])} published tables." in r.out
    assert not db_file(sqlite_url).exists()  # the registry is shown without a database


def test_registry_json_has_the_shape_of_the_spec(sqlite_url: str) -> None:
    r = monitor(BUNDLED, sqlite_url, "registry", "--json")
    assert r.code == 0 and r.err == ""
    data = r.json()
    tables = {t["id"] for t in data["registries"]}
    assert tables == {"aihubmix", "assistant"}
    assert len(data["vendors"]) >= 36
    for v in data["vendors"]:
        assert set(v) == {"id", "name", "aliases", "expected", "claims", "sources"}, v["id"]
        assert re.fullmatch(r"[a-z0-9][a-z0-9-]*", v["id"]) and v["name"]
        assert all(isinstance(a, str) for a in v["aliases"])
        assert v["sources"] and all(s["url"].startswith(("http://", "https://")) for s in v["sources"])
        for facts in [v["expected"], *v["claims"]]:
            assert facts.get("retention") is None or is_retention(facts["retention"])
            assert facts.get("flagged_retention") is None or is_retention(facts["flagged_retention"])
            assert facts.get("training") in (None, *TRAINING_VALUES)
            assert facts.get("stores") in (None, *STORES_VALUES)
            assert set(facts.get("scope") or []) <= {"prompt", "completion", "image"}
            assert facts.get("zdr_available") in (None, True, False)
        assert all(c["registry"] in tables for c in v["claims"])
    assert len({v["id"] for v in data["vendors"]}) == len(data["vendors"])


def test_registry_json_normalises_yaml_booleans(tmp_path: Path, sqlite_url: str) -> None:
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        "registries:\n  - id: router\n"
        + GOOD.replace("{url}", "https://acme.example/p")
        + "    expected:\n      training: no\n      stores: yes\n"
        + "    claims:\n      - registry: router\n        training: yes\n",
        encoding="utf-8",
    )
    (v,) = monitor(sources, sqlite_url, "registry", "--json").json()["vendors"]
    assert v["expected"] == {"stores": "yes", "training": "no"}
    assert v["claims"][0]["training"] == "yes" and v["claims"][0]["registry"] == "router"


def test_registry_conflicts_of_a_small_file(tmp_path: Path, sqlite_url: str) -> None:
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        "registries:\n  - id: one\n  - id: two\n"
        + GOOD.replace("{url}", "https://acme.example/p")
        + "    claims:\n      - {registry: one, retention: P30D, training: 'no'}\n"
        + "      - {registry: two, retention: zero, training: 'no'}\n",
        encoding="utf-8",
    )
    text = monitor(sources, sqlite_url, "registry", "--conflicts")
    assert text.code == 0
    assert "Acme AI (acme)" in text.out and "retention: one says P30D; two says zero" in text.out
    assert "training" not in text.out  # the tables agree on it
    data = monitor(sources, sqlite_url, "registry", "--conflicts", "--json").json()
    assert data == [
        {"vendor": "acme", "name": "Acme AI", "field": "retention", "values": {"one": ["P30D"], "two": ["zero"]}}
    ]


def test_registry_conflicts_of_the_bundled_file(sqlite_url: str) -> None:
    text = monitor(BUNDLED, sqlite_url, "registry", "--conflicts")
    assert text.code == 0, text.err
    found = monitor(BUNDLED, sqlite_url, "registry", "--conflicts", "--json").json()
    assert found, "the two published tables disagree somewhere"
    ids = {v["id"] for v in monitor(BUNDLED, sqlite_url, "registry", "--json").json()["vendors"]}
    for c in found:
        assert c["vendor"] in ids and f"({c['vendor']})" in text.out
        assert set(c["values"]) == {"aihubmix", "assistant"}
        assert f"{c['field']}: " in text.out


def test_secrets_from_the_environment_never_appear_in_the_registry_output(tmp_path: Path, sqlite_url: str) -> None:
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        GOOD.replace("{url}", "https://acme.example/p")
        + "notify:\n"
        + "  - type: webhook\n    url: https://hooks.example/policy\n    secret: ${WEBHOOK_SECRET}\n"
        + "  - type: email\n    smtp: smtp://mail.example:587\n    from: monitor@example.org\n"
        + "    to: [privacy@example.org]\n    user: ${SMTP_USER}\n    password: ${SMTP_PASSWORD}\n",
        encoding="utf-8",
    )
    env = {"WEBHOOK_SECRET": "whsec-9f8e7d6c5b", "SMTP_USER": "mailer", "SMTP_PASSWORD": "pw-1a2b3c4d5e"}
    for args in (["registry", "--json"], ["registry"]):
        r = monitor(sources, sqlite_url, *args, env=env)
        assert r.code == 0, r.err
        for secret in ("whsec-9f8e7d6c5b", "pw-1a2b3c4d5e"):
            assert secret not in r.out and secret not in r.err
    notify = monitor(sources, sqlite_url, "registry", "--json", env=env).json()["notify"]
    assert [c["type"] for c in notify] == ["webhook", "email"]


def test_an_unset_secret_variable_is_named(tmp_path: Path, sqlite_url: str) -> None:
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        GOOD.replace("{url}", "https://acme.example/p")
        + "notify:\n  - type: webhook\n    url: https://hooks.example/policy\n    secret: ${WEBHOOK_SECRET}\n",
        encoding="utf-8",
    )
    r = CliRunner().invoke(
        cli, ["--sources", str(sources), "--db", sqlite_url, "registry"], env={"WEBHOOK_SECRET": None}
    )
    assert r.exit_code == 2
    assert r.stderr == (
        f"Error: {sources}:9: notify[0].secret: environment variable WEBHOOK_SECRET is not set. "
        "Export WEBHOOK_SECRET or remove ${WEBHOOK_SECRET}.\n"
    )


# --- monitor extract --------------------------------------------------------------------------------------


def test_extract_a_markdown_file(tmp_path: Path, sqlite_url: str) -> None:
    text = f"# Acme API data policy\n\n{RET30}\n\n{FLAGGED}\n\n## Training\n\n{TRAIN_NO}\n"
    path = tmp_path / "policy.md"
    path.write_text(text, encoding="utf-8")
    r = CliRunner().invoke(cli, ["--db", sqlite_url, "extract", str(path), "--json"])
    assert r.exit_code == 0, r.stderr
    data = json_of(r.stdout)
    assert data["summary"] == {"retention": "P30D", "flagged_retention": "P2Y", "training": "no", "zdr_available": None}
    facts = {(f["kind"], f["value"], f["condition"]): f for f in data["facts"]}
    assert facts[("retention", "P30D", "default")]["evidence"] == RET30
    assert facts[("retention", "P2Y", "abuse")]["evidence"] == FLAGGED
    assert facts[("training", "no", "default")]["evidence"] == TRAIN_NO
    for f in data["facts"]:
        assert f["evidence"] in text  # verbatim from the file
        assert f["scope"] in ("api", "business", "consumer", "all")
    assert not db_file(sqlite_url).exists()


def test_extract_an_html_file(tmp_path: Path, sqlite_url: str) -> None:
    html = page(FLAGGED)
    path = tmp_path / "policy.html"
    path.write_text(html, encoding="utf-8")
    r = CliRunner().invoke(cli, ["--db", sqlite_url, "extract", str(path), "--json"])
    assert r.exit_code == 0, r.stderr
    data = json_of(r.stdout)
    assert data["summary"] == {"retention": "P30D", "flagged_retention": "P2Y", "training": "no", "zdr_available": None}
    assert {f["evidence"] for f in data["facts"]} == {RET30, FLAGGED, TRAIN_NO}
    assert all(f["evidence"] in html for f in data["facts"])
    people = CliRunner().invoke(cli, ["--db", sqlite_url, "extract", str(path)])
    assert people.exit_code == 0
    assert re.search(r"^retention +P30D$", people.stdout, re.M) and f'"{TRAIN_NO}"' in people.stdout
    assert not db_file(sqlite_url).exists()


def test_extract_a_page_that_states_nothing(tmp_path: Path) -> None:
    path = tmp_path / "about.md"
    path.write_text("# About us\n\nWe build developer tools.\n", encoding="utf-8")
    r = CliRunner().invoke(cli, ["extract", str(path), "--json"])
    assert r.exit_code == 0
    data = json_of(r.stdout)
    assert data["facts"] == [] and set(data["summary"].values()) == {None}


def test_extract_a_missing_file(tmp_path: Path) -> None:
    r = CliRunner().invoke(cli, ["extract", str(tmp_path / "nope.md")])
    assert r.exit_code == 2 and "Traceback" not in r.stderr
    assert r.stderr.startswith(f"Error: {tmp_path / 'nope.md'}: cannot be read")


def json_of(text: str) -> Any:
    import json

    return json.loads(text)


# --- the database commands --------------------------------------------------------------------------------


@pytest.fixture
def watched(site: Site, make_monitor: Callable[..., Monitor]) -> Monitor:
    """One vendor whose page contradicts what is expected of it, checked once: one registry_mismatch alert."""
    site.html("/privacy", page())
    m = make_monitor([vendor("examplar", [site.url("/privacy")], training="yes")])
    r = m("run")
    assert r.code == 0, r.err
    return m


def test_ack_unknown_id(watched: Monitor) -> None:
    message = assert_one_clean_error(watched("ack", "999"))
    assert message == "no alert 999. `monitor alerts --all` lists them."


def test_ack_known_and_unknown_ids(watched: Monitor) -> None:
    (alert,) = watched.alerts()
    assert alert["kind"] == "registry_mismatch"
    r = watched("ack", str(alert["id"]), "999")
    assert r.code == 2
    assert r.out == f"acknowledged {alert['id']}\n"
    assert r.err == "Error: no alert 999. `monitor alerts --all` lists them.\n"
    assert watched("alerts", "--json").json() == []
    assert watched.alerts()[0]["status"] == "acknowledged"


def test_ack_needs_an_id(watched: Monitor) -> None:
    r = watched("ack")
    assert r.code == 2 and "Missing argument" in r.err


@pytest.mark.parametrize("command", ["history", "diff"])
def test_history_and_diff_of_an_unknown_target(watched: Monitor, command: str) -> None:
    message = assert_one_clean_error(watched(command, "nope"))
    assert message == "'nope' is neither a watched URL nor a vendor. `monitor registry` lists them."


def test_history_and_diff_by_vendor_name_and_url(watched: Monitor, site: Site) -> None:
    url = site.url("/privacy")
    for target in ("examplar", "Examplar", url):
        (h,) = watched("history", target, "--json").json()
        assert h["url"] == url and len(h["snapshots"]) == 1
        assert h["snapshots"][0]["summary"]["training"] == "no"
    d = watched("diff", "examplar")
    assert d.code == 0 and d.out == f"# {url}: 1 snapshot(s), nothing to compare yet\n"


def test_diff_of_an_unknown_snapshot(watched: Monitor, site: Site) -> None:
    message = assert_one_clean_error(watched("diff", "examplar", "--from", "999"))
    assert message.startswith(f"{site.url('/privacy')}: no snapshot 999 (snapshots: ")


def test_db_upgrade_creates_and_reports_the_schema(tmp_path: Path, sqlite_url: str) -> None:
    sources = tmp_path / "sources.yaml"
    sources.write_text(GOOD.replace("{url}", "https://acme.example/p"), encoding="utf-8")
    first = monitor(sources, sqlite_url, "db", "upgrade")
    assert first.code == 0, first.err
    assert first.out == f"database at revision {HEAD}\n"
    assert db_file(sqlite_url).exists()
    again = monitor(sources, sqlite_url, "db", "upgrade")
    assert (again.code, again.out) == (0, first.out)


def test_db_upgrade_does_not_need_a_sources_file(tmp_path: Path, sqlite_url: str) -> None:
    r = monitor(tmp_path / "nowhere.yaml", sqlite_url, "db", "upgrade")
    assert r.code == 0 and r.out == f"database at revision {HEAD}\n"


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("P2W", "P14D", True),
        ("P1D", "PT24H", True),
        ("P1Y", "P12M", True),
        ("P30D", "P30D", True),
        ("P1M", "P30D", False),
        ("P1Y", "P365D", False),
        ("P30D", "P31D", False),
        ("zero", "PT0S", False),
        ("no", "no", True),
        ("no", "opt-out", False),
        (None, "P30D", False),
    ],
)
def test_durations_of_the_same_length_are_the_same_value(a: str | None, b: str, same: bool) -> None:
    from policy_monitor.vocabulary import same_value

    assert same_value(a, b) is same and same_value(b, a) is same
