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
        "{file}:5: YAML syntax error: expected ',' or ']', but got '<stream end>'. "
        "Fix the YAML at that line.",
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
        "'thirty days' is not an ISO-8601 duration, 'zero' or 'unknown'",
    ),
    (
        "training-value",
        VENDOR + "    claims:\n      - registry: table\n        training: maybe\n",
        "{file}:8: vendors[0].claims[0].training: 'maybe' is not one of 'no', 'yes', 'opt-out' or 'opt-in'",
    ),
    (
        "stores-value",
        VENDOR + "    expected:\n      stores: sometimes\n",
        "{file}:7: vendors[0].expected.stores: 'sometimes' is not one of 'yes', 'zdr' or 'no'",
    ),
    (
        "scope-value",
        VENDOR + "    expected:\n      scope: [prompt, audio]\n",
        "{file}:7: vendors[0].expected.scope[1]: 'audio' is not one of 'prompt', 'completion' or 'image'",
    ),
    (
        "missing-url",
        "vendors:\n  - id: acme\n    name: Acme AI\n    sources:\n      - kind: privacy-policy\n",
        "{file}:5: vendors[0].sources[0].url: is required",
    ),
    (
        "missing-name",
        "vendors:\n  - id: acme\n    sources:\n      - url: https://acme.example/p\n",
        "{file}:2: vendors[0].name: is required",
    ),
    (
        "missing-vendors",
        "defaults:\n  timeout: 10\n",
        "{file}:1: vendors: is required",
    ),
    (
        "not-a-mapping",
        "- acme\n- other\n",
        "{file}: expected a mapping with a `vendors:` list at the top.",
    ),
    (
        "duplicate-vendor-id",
        VENDOR + "  - id: acme\n    name: Other\n    sources:\n      - url: https://other.example/p\n",
        "{file}:6: vendors[1].id: duplicate vendor id 'acme' (first used by vendors[0]). "
        "Give each vendor its own id.",
    ),
    (
        "bad-vendor-id",
        "vendors:\n  - id: Acme AI\n    name: Acme AI\n",
        "{file}:2: vendors[0].id: 'Acme AI' is not a vendor id: use lower-case letters, digits and '-'",
    ),
    (
        "non-http-scheme",
        "vendors:\n  - id: acme\n    name: Acme AI\n    sources:\n      - url: ftp://acme.example/p\n",
        "{file}:5: vendors[0].sources[0].url: "
        "'ftp://acme.example/p' is not an http(s) URL. Use an https:// URL",
    ),
    (
        "unknown-field",
        VENDOR + "    retention: P30D\n",
        "{file}:6: vendors[0].retention: is not a known field. Check the spelling against SPEC §1",
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
        "(Wrong number of fields; got 2, expected 5). Use e.g. '0 */6 * * *'",
    ),
    (
        "bad-cron-source",
        VENDOR + "        schedule: '61 * * * *'\n",
        "{file}:6: vendors[0].sources[0].schedule: '61 * * * *' is not a cron expression (Error validating "
        "expression '61': the last value (61) is higher than the maximum value (59)). Use e.g. '0 */6 * * *'",
    ),
    (
        "bad-ignore-regex",
        VENDOR + "        ignore: ['Updated (1 day ago']\n",
        "{file}:6: vendors[0].sources[0].ignore: 'Updated (1 day ago' is not a regular expression "
        "(missing ), unterminated subpattern at position 8)",
    ),
    (
        "unknown-claim-registry",
        "registries:\n  - id: router\n"
        + VENDOR
        + "    claims:\n      - registry: other\n        retention: P30D\n",
        "{file}:9: vendors[0].claims[0].registry: 'other' is not one of the registries (router)",
    ),
    (
        "bad-channel-type",
        VENDOR + "notify:\n  - type: pager\n    url: https://hooks.example/p\n",
        "{file}:7: notify[0]: 'pager' is not a channel type: use webhook, email or apprise",
    ),
    (
        "channel-without-type",
        VENDOR + "notify:\n  - url: https://hooks.example/p\n",
        "{file}:7: notify[0]: needs a `type` (webhook, email or apprise)",
    ),
    (
        "bad-smtp-url",
        VENDOR + "notify:\n  - type: email\n    smtp: http://mail.example:587\n    from: m@example.org\n"
        "    to: [privacy@example.org]\n",
        "{file}:8: notify[0].smtp: 'http://mail.example:587' is not an smtp:// or smtps:// URL. "
        "Use e.g. smtp://mail.example:587?starttls=1",
    ),
    (
        "bad-smtp-port",
        VENDOR + "notify:\n  - type: email\n    smtp: smtp://mail.example:99999\n    from: m@example.org\n"
        "    to: [privacy@example.org]\n",
        "{file}:8: notify[0].smtp: 'smtp://mail.example:99999' has an invalid port",
    ),
    (
        "bad-webhook-url",
        VENDOR + "notify:\n  - type: webhook\n    url: file:///etc/passwd\n",
        "{file}:8: notify[0].url: 'file:///etc/passwd' is not an http(s) URL. Use an https:// URL",
    ),
]


@pytest.mark.parametrize(("text", "message"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_input_gets_one_exact_message(tmp_path: Path, text: str, message: str):
    path = tmp_path / "sources.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_registry(path, environ={})
    assert str(info.value) == message.replace("{file}", str(path))
    assert info.value.exit_code == 2


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
