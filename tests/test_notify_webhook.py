"""The webhook channel against a real HTTP receiver on 127.0.0.1, and the alert's JSON and subjects."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from policy_monitor import __version__
from policy_monitor.notify import AlertMessage, SendResult, send
from policy_monitor.notify.webhook import send_webhook
from policy_monitor.registry import WebhookChannel

from .conftest import notify_alert

SECRET = "whsec-7f3a9c-do-not-leak"
DOCS = Path(__file__).resolve().parent.parent / "docs" / "webhook.md"


def alert(id: int = 1, **changes: Any) -> AlertMessage:
    return notify_alert(id, **changes)


class Receiver(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.secret: str | None = None
        self.status = 200
        self.answer = b"ok"
        self.delay = 0.0
        self.requests: list[dict[str, Any]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hooks/policy"

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up (the timeout test) leaves a broken pipe behind: expected

    def delivery_ids(self) -> list[str]:
        return [r["headers"]["X-Monitor-Delivery"] for r in self.requests]


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers["Content-Length"]))
        verified = None
        if self.server.secret is not None:
            expected = "sha256=" + hmac.new(self.server.secret.encode(), raw, hashlib.sha256).hexdigest()
            verified = hmac.compare_digest(expected, self.headers.get("X-Monitor-Signature", ""))
        self.server.requests.append(
            {"path": self.path, "headers": dict(self.headers), "body": raw, "verified": verified}
        )
        time.sleep(self.server.delay)
        self.send_response(self.server.status)
        if 300 <= self.server.status < 400:
            self.send_header("Location", "/elsewhere")
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(self.server.answer)))
        self.end_headers()
        self.wfile.write(self.server.answer)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def channel(url: str, **options: Any) -> WebhookChannel:
    return WebhookChannel.model_validate({"type": "webhook", "url": url, **options})


def test_each_alert_is_posted_once_signed_with_its_delivery_id(receiver: Receiver) -> None:
    receiver.secret = SECRET
    alerts = [alert(7), alert(8, kind="page_changed", field=None, old=None, new=None, diff="-a\n+b")]

    results = send(channel(receiver.url, secret=SECRET), alerts)

    assert results == [SendResult(7, True, None), SendResult(8, True, None)]
    assert receiver.delivery_ids() == ["7", "8"]
    assert [r["verified"] for r in receiver.requests] == [True, True]
    first = receiver.requests[0]
    assert first["headers"]["Content-Type"] == "application/json"
    assert first["headers"]["X-Monitor-Event"] == "fact_changed"
    assert receiver.requests[1]["headers"]["X-Monitor-Event"] == "page_changed"
    assert first["headers"]["User-Agent"] == f"policy-monitor/{__version__}"
    assert first["headers"]["X-Monitor-Signature"].startswith("sha256=")
    assert json.loads(first["body"]) == {
        "schema": "policy-monitor.alert/1",
        "id": 7,
        "kind": "fact_changed",
        "vendor": {"id": "anthropic", "name": "Anthropic"},
        "url": "https://www.anthropic.com/legal/privacy",
        "field": "retention",
        "old": "P30D",
        "new": "P5Y",
        "evidence": "We retain your data for up to 5 years.",
        "old_evidence": "We retain your data for 30 days.",
        "diff_excerpt": None,
        "diff_truncated": False,
        "created_at": "2026-11-20T08:30:05Z",
        "subject": "[policy-monitor] Anthropic: retention P30D -> P5Y",
    }
    # compact UTF-8, exactly the bytes that were signed
    compact = json.dumps(json.loads(first["body"]), separators=(",", ":"), ensure_ascii=False).encode()
    assert first["body"] == compact


def test_a_resend_is_byte_for_byte_the_same_request(receiver: Receiver) -> None:
    receiver.secret = SECRET
    ch = channel(receiver.url, secret=SECRET)
    send(ch, [alert(3, evidence="Données conservées 5 ans — « toujours ».")])
    send(ch, [alert(3, evidence="Données conservées 5 ans — « toujours ».")])
    a, b = receiver.requests
    assert a["body"] == b["body"]
    assert a["headers"]["X-Monitor-Signature"] == b["headers"]["X-Monitor-Signature"]
    assert "Données conservées 5 ans — « toujours »." in a["body"].decode("utf-8")


def test_without_a_secret_there_is_no_signature_header(receiver: Receiver) -> None:
    assert send(channel(receiver.url), [alert(1)]) == [SendResult(1, True, None)]
    assert "X-Monitor-Signature" not in receiver.requests[0]["headers"]
    assert receiver.delivery_ids() == ["1"]


def test_a_receiver_that_answers_500_gets_a_failed_result_with_the_status(receiver: Receiver) -> None:
    receiver.status = 500
    receiver.answer = b"database is down\n"
    results = send(channel(receiver.url), [alert(1), alert(2)])
    assert results == [
        SendResult(1, False, "HTTP 500 Internal Server Error: database is down"),
        SendResult(2, False, "HTTP 500 Internal Server Error: database is down"),
    ]


def test_a_redirect_is_not_followed_and_is_not_success(receiver: Receiver) -> None:
    receiver.status = 302
    [result] = send(channel(receiver.url), [alert(1)])
    assert not result.ok
    assert result.reason == "HTTP 302 Found (redirects are not followed: configure the final URL)"
    assert len(receiver.requests) == 1


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_connection_refused_is_a_failed_result_not_an_exception() -> None:
    url = f"http://127.0.0.1:{_closed_port()}/hook"
    assert send(channel(url), [alert(4)]) == [SendResult(4, False, "connection refused")]


def test_a_slow_receiver_times_out_after_the_channel_timeout(receiver: Receiver) -> None:
    receiver.delay = 6.0
    started = time.monotonic()
    results = send(channel(receiver.url, timeout=0.2), [alert(5)])
    assert results == [SendResult(5, False, "timed out after 0.2 s")]
    assert time.monotonic() - started < 5  # gave up long before the receiver answered


def test_slack_format_is_a_slack_message_still_signed_and_carrying_the_delivery_id(
    receiver: Receiver,
) -> None:
    receiver.secret = SECRET
    diff = "--- before\n+++ after\n@@ -1 +1 @@\n-kept <30> days & more\n+kept 5 years"
    a = alert(9, kind="page_changed", field=None, old=None, new=None, evidence=None, old_evidence=None, diff=diff)

    assert send(channel(receiver.url, secret=SECRET, format="slack"), [a]) == [SendResult(9, True, None)]

    request = receiver.requests[0]
    assert request["verified"] is True
    assert request["headers"]["X-Monitor-Delivery"] == "9"
    body = json.loads(request["body"])
    assert set(body) == {"text", "blocks"}
    assert body["text"] == "[policy-monitor] Anthropic: policy page changed (anthropic.com/legal/privacy)"
    assert body["blocks"][0] == {
        "type": "header",
        "text": {
            "type": "plain_text",
            "text": "Anthropic: policy page changed (anthropic.com/legal/privacy)",
        },
    }
    texts = json.dumps(body["blocks"])
    assert "-kept &lt;30&gt; days &amp; more" in texts  # Slack mrkdwn escaping
    assert "monitor ack 9" in texts


def test_secrets_never_appear_in_payloads_reasons_or_logs(receiver: Receiver, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    token_url = receiver.url + "/T0001/B0002/tok3nAbCdEf"
    receiver.status = 403
    receiver.answer = f"invalid token in {'/hooks/policy/T0001/B0002/tok3nAbCdEf'} (key {SECRET})".encode()
    failing = channel(token_url, secret=SECRET)
    refused = channel(f"http://127.0.0.1:{_closed_port()}/T0001/B0002/tok3nAbCdEf", secret=SECRET)

    results = send(failing, [alert(1)]) + send(refused, [alert(2)])

    assert not any(r.ok for r in results)
    assert results[0].reason is not None and results[0].reason.startswith("HTTP 403 Forbidden: invalid token in ***")
    for text in [r.reason or "" for r in results] + [caplog.text] + [r["body"].decode() for r in receiver.requests]:
        assert SECRET not in text
        assert "tok3nAbCdEf" not in text
    assert SECRET not in repr(failing)


@pytest.mark.parametrize(
    ("changes", "subject"),
    [
        ({}, "[policy-monitor] Anthropic: retention P30D -> P5Y"),
        ({"old": None}, "[policy-monitor] Anthropic: retention now stated: P5Y"),
        ({"new": None}, "[policy-monitor] Anthropic: retention no longer stated (was P30D)"),
        (
            {"kind": "page_changed", "field": None, "url": "https://www.anthropic.com/legal/privacy/"},
            "[policy-monitor] Anthropic: policy page changed (anthropic.com/legal/privacy)",
        ),
        (
            {"kind": "registry_mismatch", "vendor_name": "Acme", "old": "P30D", "new": "P90D"},
            "[policy-monitor] Acme: registry says retention P30D, page says P90D",
        ),
        (
            {"kind": "registry_mismatch", "field": "training", "old": "no", "new": "opt-out"},
            "[policy-monitor] Anthropic: registry says training no, page says opt-out",
        ),
        (
            {"kind": "source_failing", "field": None, "evidence": "HTTP 503 Service Unavailable\n(3 runs)"},
            "[policy-monitor] Anthropic: source failing (anthropic.com/legal/privacy): HTTP 503 Service Unavailable",
        ),
        (
            {"kind": "source_gone", "field": None, "evidence": "HTTP 404 Not Found"},
            "[policy-monitor] Anthropic: source gone (anthropic.com/legal/privacy): HTTP 404 Not Found",
        ),
        (
            {"field": "flagged_retention", "evidence": "x", "old": "P2Y", "new": "P7Y"},
            "[policy-monitor] Anthropic: flagged-content retention P2Y -> P7Y",
        ),
        (
            {"vendor_name": "Evil\r\nBcc: x@example.org"},
            "[policy-monitor] Evil Bcc: x@example.org: retention P30D -> P5Y",
        ),
    ],
)
def test_subject_says_what_happened(changes: dict[str, Any], subject: str) -> None:
    assert alert(**changes).subject() == subject


def test_a_long_diff_is_cut_to_an_excerpt_that_says_so() -> None:
    diff = "\n".join(f"+line {i}" for i in range(100))
    payload = alert(diff=diff).payload()
    lines = payload["diff_excerpt"].splitlines()
    assert payload["diff_truncated"] is True
    assert lines[:40] == [f"+line {i}" for i in range(40)]
    assert lines[40] == "[... 60 more lines: monitor diff shows the whole change]"

    wide = "\n".join("+" + "x" * 999 for _ in range(10))
    excerpt = alert(diff=wide).payload()["diff_excerpt"]
    assert len(excerpt) < 4100 and excerpt.endswith("[... 7 more lines: monitor diff shows the whole change]")

    short = alert(diff="-a\n+b").payload()
    assert (short["diff_excerpt"], short["diff_truncated"]) == ("-a\n+b", False)


def test_naive_creation_times_are_taken_as_utc() -> None:
    assert alert(created_at=datetime(2026, 1, 2, 3, 4, 5)).payload()["created_at"] == "2026-01-02T03:04:05Z"


def test_the_verification_code_in_the_docs_accepts_a_real_delivery(receiver: Receiver) -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOCS.read_text(encoding="utf-8"), flags=re.S)
    code = next(b for b in blocks if "def verify" in b)
    namespace: dict[str, Any] = {}
    exec(code, namespace)  # noqa: S102 - the documented snippet, run as a reader would
    verify = namespace["verify"]

    send(channel(receiver.url, secret=SECRET), [alert(1)])

    request = receiver.requests[0]
    signature = request["headers"]["X-Monitor-Signature"]
    assert verify(request["body"], signature, SECRET) is True
    assert verify(request["body"] + b" ", signature, SECRET) is False
    assert verify(request["body"], signature, "another secret") is False


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (httpx.ReadTimeout("read timed out"), "timed out after 10 s"),
        (httpx.ConnectError("[Errno -2] Name or service not known"), "host name not found"),
        (
            httpx.RemoteProtocolError("Server disconnected without sending a response."),
            "RemoteProtocolError: Server disconnected without sending a response.",
        ),
    ],
)
def test_transport_errors_become_one_line_reasons(error: Exception, reason: str) -> None:
    with respx.mock:
        respx.post("https://hooks.example/policy").mock(side_effect=error)
        assert send(channel("https://hooks.example/policy"), [alert(1)]) == [SendResult(1, False, reason)]


def test_an_untrusted_tls_certificate_is_named_as_such() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        cause = ssl.SSLCertVerificationError(1, "certificate verify failed")
        cause.verify_message = "self-signed certificate"
        raise httpx.ConnectError("certificate verify failed", request=request) from cause

    ch = channel("https://hooks.example/policy")
    [result] = send_webhook(ch, [alert(1)], transport=httpx.MockTransport(handler))
    assert result == SendResult(1, False, "TLS certificate not accepted: self-signed certificate")
