"""The apprise channel: a clear message when the extra is missing; delivery through apprise's json:// service
to a receiver on 127.0.0.1 when it is installed."""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from policy_monitor.errors import ChannelUnavailable, ConfigError
from policy_monitor.notify import AlertMessage, SendResult, check_available, send
from policy_monitor.registry import AppriseChannel

# apprise 2.x imports the deprecated stdlib module imghdr while loading its plugins (Python 3.11/3.12);
# that warning is apprise's own and says nothing about this code.
pytestmark = pytest.mark.filterwarnings("ignore:'imghdr' is deprecated:DeprecationWarning")

MISSING = "the apprise channel needs the optional extra: pip install 'policy-monitor[apprise]'"
TOKEN = "t0ken-do-not-leak"


def alert(id: int = 1) -> AlertMessage:
    return AlertMessage(
        id=id,
        kind="fact_changed",
        vendor="acme",
        vendor_name="Acme AI",
        url="https://acme.example/privacy",
        field="training",
        old="no",
        new="opt-out",
        evidence="We use your prompts to train our models unless you opt out.",
        old_evidence="We never train on your prompts.",
        diff=None,
        created_at=datetime(2026, 11, 20, 8, 30, tzinfo=UTC),
    )


def channel(*urls: str) -> AppriseChannel:
    return AppriseChannel.model_validate({"type": "apprise", "urls": list(urls)})


@pytest.fixture
def without_apprise(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "apprise", None)  # `import apprise` now raises ImportError


@pytest.mark.usefixtures("without_apprise")
def test_without_the_extra_every_alert_fails_with_how_to_install_it() -> None:
    results = send(channel(f"json://127.0.0.1:9/{TOKEN}"), [alert(1), alert(2)])
    assert results == [SendResult(1, False, MISSING), SendResult(2, False, MISSING)]


@pytest.mark.usefixtures("without_apprise")
def test_check_available_raises_channel_unavailable_without_the_extra() -> None:
    with pytest.raises(ChannelUnavailable) as raised:
        check_available(channel(f"json://127.0.0.1:9/{TOKEN}"))
    assert str(raised.value) == MISSING
    assert raised.value.exit_code == 2


# --- with apprise installed --------------------------------------------------------------------------


class Receiver(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.status = 200
        self.bodies: list[dict[str, Any]] = []

    def url(self, path: str = TOKEN) -> str:
        return f"json://127.0.0.1:{self.server_address[1]}/{path}"


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        self.server.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(self.server.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    pytest.importorskip("apprise")
    server = Receiver()
    threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_each_alert_is_one_notification_with_the_subject_as_title(receiver: Receiver) -> None:
    results = send(channel(receiver.url()), [alert(1), alert(2)])

    assert results == [SendResult(1, True, None), SendResult(2, True, None)]
    assert [b["title"] for b in receiver.bodies] == ["[policy-monitor] Acme AI: training no -> opt-out"] * 2
    assert "We use your prompts to train our models unless you opt out." in receiver.bodies[0]["message"]
    assert "monitor ack 1" in receiver.bodies[0]["message"]


def test_a_service_that_fails_gives_a_failed_result_without_the_url(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # apprise and urllib3 log service URLs at DEBUG
    receiver.status = 500
    [result] = send(channel(receiver.url()), [alert(1)])
    assert result == SendResult(1, False, "apprise: 1 of 1 service did not accept the notification")
    assert TOKEN not in caplog.text


def test_check_available_accepts_known_urls_and_names_a_bad_one_without_showing_it(
    receiver: Receiver,
) -> None:
    check_available(channel(receiver.url()))
    with pytest.raises(ConfigError) as raised:
        check_available(channel(receiver.url(), f"nosuchservice://{TOKEN}@example.org"))
    message = str(raised.value)
    assert message.startswith("urls[1]: apprise cannot use this nosuchservice:// URL (an unknown service")
    assert TOKEN not in message
