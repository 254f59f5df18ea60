"""Loading sources.yaml: each kind of bad input gets one exact message naming the file and the line and
field; good input loads, YAML's bare yes/no included, with ${NAME} taken from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from policy_monitor.errors import ConfigError
from policy_monitor.registry import load_registry

VENDOR = """\
vendors:
  - id: acme
    name: Acme AI
    sources:
      - url: https://acme.example/privacy
"""

# (case id, file text, message with {file} for the file's path)
BAD = [
    (
        "yaml-syntax",
        "vendors:\n  - id: acme\n    name: Acme AI\n    sources: [url: https://acme.example/p\n",
        "{file}:5: YAML syntax error: expected ',' or ']', but got '<stream end>'. Fix the YAML at that line.",
    ),
    (
        "yaml-indentation",
        "vendors:\n  - id: acme\n   name: Acme AI\n",
        "{file}:3: YAML syntax error: expected <block end>, but found '<block mapping start>'. "
        "Fix the YAML at that line.",
    ),
    (
        "retention-value",
        VENDOR + "    expected:\n      retention: thirty days\n",
        "{file}:7: vendors[0].expected.retention: "
        "'thirty days' is not an ISO-8601 duration, 'zero' or 'unknown'. Write e.g. P30D, PT24H, P2Y, zero or unknown.",
    ),
    (
        "training-value",
        VENDOR + "    claims:\n      - registry: table\n        training: maybe\n",
        "{file}:8: vendors[0].claims[0].training: 'maybe' is not one of 'no', 'yes', 'opt-out' or 'opt-in'. "
        "Use one of these.",
    ),
    (
        "stores-value",
        VENDOR + "    expected:\n      stores: sometimes\n",
        "{file}:7: vendors[0].expected.stores: 'sometimes' is not one of 'yes', 'zdr' or 'no'. Use one of these.",
    ),
    (
        "scope-value",
        VENDOR + "    expected:\n      scope: [prompt, audio]\n",
        "{file}:7: vendors[0].expected.scope[1]: 'audio' is not one of 'prompt', 'completion' or 'image'. "
        "Use one of these.",
    ),
    (
        "missing-url",
        "vendors:\n  - id: acme\n    name: Acme AI\n    sources:\n      - kind: privacy-policy\n",
        "{file}:5: vendors[0].sources[0]: `url` is required. "
        "Give the page's address, e.g. url: https://vendor.example/privacy.",
    ),
    (
        "missing-name",
        "vendors:\n  - id: acme\n    sources:\n      - url: https://acme.example/p\n",
        "{file}:2: vendors[0]: `name` is required. Give the vendor's name as people write it, e.g. name: Acme AI.",
    ),
    (
        "missing-vendors",
        "defaults:\n  timeout: 10\n",
        "{file}:1: `vendors` is required. List the vendors to watch under it, "
        "e.g. vendors: [{id: acme, name: Acme AI, sources: [{url: https://acme.example/privacy}]}].",
    ),
    (
        "not-a-mapping",
        "- acme\n- other\n",
        "{file}: the file is not a mapping of fields. Start it with `vendors:` and list the vendors under it.",
    ),
    (
        "duplicate-vendor-id",
        VENDOR + "  - id: acme\n    name: Other\n    sources:\n      - url: https://other.example/p\n",
        "{file}:6: vendors[1].id: duplicate vendor id 'acme' (first used by vendors[0], line 2). "
        "Give each vendor its own id.",
    ),
    (
        "bad-vendor-id",
        "vendors:\n  - id: Acme AI\n    name: Acme AI\n",
        "{file}:2: vendors[0].id: 'Acme AI' is not a vendor id. Use lower-case letters, digits and '-', e.g. acme-ai.",
    ),
    (
        "non-http-scheme",
        "vendors:\n  - id: acme\n    name: Acme AI\n    sources:\n      - url: ftp://acme.example/p\n",
        "{file}:5: vendors[0].sources[0].url: 'ftp://acme.example/p' is not an http(s) URL. Use an https:// URL.",
    ),
    (
        "unknown-field",
        VENDOR + "    retention: P30D\n",
        "{file}:6: vendors[0]: `retention` is not a known field. Did you mean to put it under `expected:`?",
    ),
    (
        "missing-env",
        "vendors:\n  - id: acme\n    name: Acme AI\n    sources:\n      - url: https://${POLICY_HOST}/p\n",
        "{file}:5: vendors[0].sources[0].url: environment variable POLICY_HOST is not set. "
        "Export POLICY_HOST or remove ${POLICY_HOST}.",
    ),
    (
        "bad-cron-default",
        VENDOR + "defaults:\n  schedule: every hour\n",
        "{file}:7: defaults.schedule: 'every hour' is not a cron expression "
        "(Wrong number of fields; got 2, expected 5). Use e.g. '0 */6 * * *'.",
    ),
    (
        "bad-cron-source",
        VENDOR + "        schedule: '61 * * * *'\n",
        "{file}:6: vendors[0].sources[0].schedule: '61 * * * *' is not a cron expression (Error validating "
        "expression '61': the last value (61) is higher than the maximum value (59)). Use e.g. '0 */6 * * *'.",
    ),
    (
        "bad-ignore-regex",
        VENDOR + "        ignore: ['Updated (1 day ago']\n",
        "{file}:6: vendors[0].sources[0].ignore[0]: `Updated (1 day ago` is not a regular expression "
        "(missing ), unterminated subpattern at position 8). "
        "Put a backslash before ( ) [ ] { } . * + ? | ^ $ to match them literally.",
    ),
    (
        "unknown-claim-registry",
        "registries:\n  - id: router\n" + VENDOR + "    claims:\n      - registry: other\n        retention: P30D\n",
        "{file}:9: vendors[0].claims[0].registry: 'other' is not one of the registries (router). "
        "Declare it under `registries:` or use one of those.",
    ),
    (
        "bad-channel-type",
        VENDOR + "notify:\n  - type: pager\n    url: https://hooks.example/p\n",
        "{file}:7: notify[0].type: 'pager' is not a channel type. Use webhook, email or apprise.",
    ),
    (
        "channel-without-type",
        VENDOR + "notify:\n  - url: https://hooks.example/p\n",
        "{file}:7: notify[0]: `type` is required. Add type: webhook, type: email or type: apprise.",
    ),
    (
        "bad-smtp-url",
        VENDOR + "notify:\n  - type: email\n    smtp: http://mail.example:587\n    from: m@example.org\n"
        "    to: [privacy@example.org]\n",
        "{file}:8: notify[0].smtp: 'http://mail.example:587' is not an smtp:// or smtps:// URL. "
        "Use e.g. smtp://mail.example:587?starttls=1.",
    ),
    (
        "bad-smtp-port",
        VENDOR + "notify:\n  - type: email\n    smtp: smtp://mail.example:99999\n    from: m@example.org\n"
        "    to: [privacy@example.org]\n",
        "{file}:8: notify[0].smtp: 'smtp://mail.example:99999' has an invalid port. "
        "Use a port from 1 to 65535, e.g. 587.",
    ),
    (
        "bad-webhook-url",
        VENDOR + "notify:\n  - type: webhook\n    url: file:///etc/passwd\n",
        "{file}:8: notify[0].url: 'file:///etc/passwd' is not an http(s) URL. Use an https:// URL.",
    ),
    (
        "misspelt-key-before-the-missing-field",
        "vendors:\n  - id: acme\n    name: Acme AI\n    sources:\n      - kind: faq\n        urll: https://acme.example/p\n",
        "{file}:6: vendors[0].sources[0]: `urll` is not a known field. Did you mean `url`?",
    ),
    (
        "misspelt-channel-key",
        VENDOR + "notify:\n  - type: email\n    smtp: smtp://mail.example\n    from: m@example.org\n"
        "    too: [privacy@example.org]\n",
        "{file}:10: notify[0]: `too` is not a known field. Did you mean `to`?",
    ),
    (
        "unknown-key-without-a-close-match",
        VENDOR + "        colour: blue\n",
        "{file}:6: vendors[0].sources[0]: `colour` is not a known field. Known fields here: url, kind, select, "
        "remove, ignore, schedule, timeout, render, robots, note.",
    ),
    (
        "empty-url",
        "vendors:\n  - id: acme\n    name: Acme AI\n    sources:\n      - url:\n",
        "{file}:5: vendors[0].sources[0]: `url` is empty. "
        "Give the page's address, e.g. url: https://vendor.example/privacy.",
    ),
    (
        "duplicate-source-url",
        VENDOR + "      - url: https://acme.example/faq\n      - url: https://acme.example/privacy\n",
        "{file}:7: vendors[0].sources[2].url: 'https://acme.example/privacy' is listed twice (first as sources[0]). "
        "Remove one of them.",
    ),
    (
        "duplicate-registry-id",
        "registries:\n  - id: router\n  - id: router\n" + VENDOR,
        "{file}:3: registries[1].id: duplicate registry id 'router' (first used by registries[0]). "
        "Give each published table its own id.",
    ),
    (
        "claim-without-registries",
        VENDOR + "    claims:\n      - registry: router\n        retention: P30D\n",
        "{file}:7: vendors[0].claims[0].registry: 'router' is not one of the registries (none declared). "
        "Declare it under `registries:`.",
    ),
    (
        "claim-registry-close-match",
        "registries:\n  - id: aihubmix\n" + VENDOR + "    claims:\n      - registry: aihubmx\n",
        "{file}:9: vendors[0].claims[0].registry: 'aihubmx' is not one of the registries (aihubmix). "
        "Did you mean 'aihubmix'?",
    ),
    (
        "bool-type",
        VENDOR + "    expected:\n      zdr_available: maybe\n",
        "{file}:7: vendors[0].expected.zdr_available: 'maybe' is not true or false. Write true or false.",
    ),
    (
        "number-type",
        VENDOR + "        timeout: soon\n",
        "{file}:6: vendors[0].sources[0].timeout: 'soon' is not a number. Write a number, e.g. timeout: 30.",
    ),
    (
        "number-range",
        "defaults:\n  concurrency: 5000\n" + VENDOR,
        "{file}:2: defaults.concurrency: 5000 is out of range. Use a number of at most 1000.",
    ),
    (
        "list-type",
        VENDOR.replace("    sources:", "    aliases: Acme\n    sources:"),
        "{file}:4: vendors[0].aliases: 'Acme' is not a list. Write it as a list, e.g. aliases: [Acme].",
    ),
    (
        "string-type-from-a-yaml-boolean",
        VENDOR.replace("name: Acme AI", "name: yes"),
        '{file}:3: vendors[0].name: yes is read as true or false, not text. Put it in quotes: name: "yes".',
    ),
    (
        "string-type-from-a-number",
        VENDOR.replace("name: Acme AI", "name: 42"),
        '{file}:3: vendors[0].name: 42 is read as a number, not text. Put it in quotes: name: "42".',
    ),
    (
        "mapping-type",
        VENDOR + "    expected: P30D\n",
        "{file}:6: vendors[0].expected: 'P30D' is given where a mapping of fields is expected. "
        "Write its fields under it, one `name: value` per line.",
    ),
    (
        "date-type",
        "registries:\n  - id: router\n    updated: yesterday\n" + VENDOR,
        "{file}:3: registries[0].updated: 'yesterday' is not a date. Write YYYY-MM-DD, e.g. updated: 2026-06-01.",
    ),
    (
        "literal-close-match",
        VENDOR + "notify:\n  - type: webhook\n    url: https://hooks.example/p\n    kinds: [page_change]\n",
        "{file}:9: notify[0].kinds[0]: 'page_change' is not one of 'page_changed', 'fact_changed', "
        "'registry_mismatch', 'source_failing' or 'source_gone'. Did you mean 'page_changed'?",
    ),
    (
        "channel-vendor-filter",
        VENDOR + "notify:\n  - type: webhook\n    url: https://hooks.example/p\n    vendors: [acm]\n",
        "{file}:9: notify[0].vendors[0]: 'acm' is not the id of a vendor in this file. Did you mean 'acme'? "
        "`monitor registry` lists the ids.",
    ),
    (
        "regex-as-written",
        VENDOR + "        ignore: ['Build \\d+', 'Build \\d+ (']\n",
        "{file}:6: vendors[0].sources[0].ignore[1]: `Build \\d+ (` is not a regular expression "
        "(missing ), unterminated subpattern at position 10). "
        "Put a backslash before ( ) [ ] { } . * + ? | ^ $ to match them literally.",
    ),
    (
        "secret-value-never-shown",
        VENDOR + "notify:\n  - type: webhook\n    url: https://hooks.example/p\n    secret: 918273645\n",
        "{file}:9: notify[0].secret: the value is read as a number, not text. Put it in quotes.",
    ),
    (
        "env-reference-shown-as-written",
        VENDOR + "notify:\n  - type: webhook\n    url: ftp://hooks.example/${HOOK_TOKEN}\n",
        "{file}:8: notify[0].url: 'ftp://hooks.example/${HOOK_TOKEN}' is not an http(s) URL. Use an https:// URL.",
    ),
    (
        "unsupported-version",
        "version: 2\n" + VENDOR,
        "{file}:1: version: 2 is not a version this program reads. Write version: 1.",
    ),
    (
        "tab-indentation",
        "vendors:\n\t- id: acme\n",
        "{file}:2: YAML syntax error: found character '\\t' that cannot start any token. "
        "Indent with spaces: YAML does not allow tabs.",
    ),
    (
        "key-given-twice",
        VENDOR + "    sources:\n      - url: https://acme.example/faq\n",
        "{file}:6: vendors[0]: `sources` is given twice (first at line 4). Keep one of them, or merge them.",
    ),
    (
        "key-given-twice-in-a-flow-mapping",
        VENDOR + "    expected: {retention: P30D, retention: P1D}\n",
        "{file}:6: vendors[0].expected: `retention` is given twice (first at line 6). Keep one of them, or merge them.",
    ),
    (
        "empty-file",
        "",
        "{file}: the file is empty. List the vendors to watch under `vendors:`.",
    ),
    (
        "several-problems-first-in-the-file-first",
        "vendors:\n  - id: acme\n    name: 1\n    sources:\n      - url: ftp://acme.example/p\n",
        '{file}:3: vendors[0].name: 1 is read as a number, not text. Put it in quotes: name: "1". '
        "The file has 1 more problem.",
    ),
]


@pytest.mark.parametrize(("text", "message"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_input_gets_one_exact_message(tmp_path: Path, text: str, message: str):
    path = tmp_path / "sources.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_registry(path, environ={"HOOK_TOKEN": "hook-token-value"})
    assert str(info.value) == message.replace("{file}", str(path))
    assert info.value.exit_code == 2


@pytest.mark.parametrize("message", [c[2] for c in BAD], ids=[c[0] for c in BAD])
def test_every_message_is_one_line_of_sentences(message: str):
    assert "\n" not in message
    assert message.endswith((".", "?"))


def test_a_missing_file_says_how_to_point_at_one(tmp_path: Path):
    path = tmp_path / "nowhere.yaml"
    with pytest.raises(ConfigError) as info:
        load_registry(path)
    assert str(info.value) == f"{path}: no such file. Pass --sources PATH or set MONITOR_SOURCES."


def test_bare_yaml_yes_and_no_load_as_words(tmp_path: Path):
    path = tmp_path / "sources.yaml"
    path.write_text(
        "registries:\n  - id: router\n"
        + VENDOR
        + "    expected:\n      training: no\n      stores: yes\n"
        + "    claims:\n      - registry: router\n        training: yes\n        stores: no\n",
        encoding="utf-8",
    )
    vendor = load_registry(path, environ={}).vendors[0]
    assert (vendor.expected.training, vendor.expected.stores) == ("no", "yes")
    assert (vendor.claims[0].training, vendor.claims[0].stores) == ("yes", "no")
    assert vendor.expected.stated() == {"training": "no", "stores": "yes"}


def test_env_variables_are_interpolated(tmp_path: Path):
    path = tmp_path / "sources.yaml"
    path.write_text(
        "vendors:\n  - id: acme\n    name: ${VENDOR_NAME} AI\n    sources:\n"
        "      - url: https://${POLICY_HOST}/privacy\n"
        "notify:\n  - type: webhook\n    url: https://hooks.example/p\n    secret: ${WEBHOOK_SECRET}\n",
        encoding="utf-8",
    )
    env = {"VENDOR_NAME": "Acme", "POLICY_HOST": "acme.example:8443", "WEBHOOK_SECRET": "s3cret"}
    reg = load_registry(path, environ=env)
    assert reg.vendors[0].name == "Acme AI"
    assert reg.vendors[0].sources[0].url == "https://acme.example:8443/privacy"
    assert reg.notify[0].secret is not None and reg.notify[0].secret.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(reg.public_dict())


def test_env_defaults_to_the_process_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "sources.yaml"
    path.write_text(VENDOR.replace("acme.example", "${POLICY_HOST}"), encoding="utf-8")
    monkeypatch.setenv("POLICY_HOST", "policies.example")
    assert load_registry(path).vendors[0].sources[0].url == "https://policies.example/privacy"


def test_the_minimal_spec_file_loads_with_defaults(tmp_path: Path):
    path = tmp_path / "sources.yaml"
    path.write_text(VENDOR + '    expected:\n      retention: P30D\n      training: "no"\n', encoding="utf-8")
    reg = load_registry(path, environ={})
    assert reg.defaults.schedule == "0 */6 * * *"
    assert reg.defaults.timeout <= 30
    assert reg.vendors[0].expected.stated() == {"retention": "P30D", "training": "no"}
    assert reg.vendors[0].sources[0].kind == "privacy-policy"


def test_the_bundled_sources_file_loads():
    reg = load_registry(Path(__file__).resolve().parents[1] / "sources.yaml", environ={})
    assert len(reg.vendors) >= 36
    assert all(v.sources for v in reg.vendors)
