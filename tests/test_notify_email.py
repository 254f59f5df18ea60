"""The email channel against real SMTP servers (aiosmtpd) on 127.0.0.1: plain, AUTH, STARTTLS, SMTPS."""

from __future__ import annotations

import email
import email.policy
import logging
import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from policy_monitor.notify import AlertMessage, SendResult, send
from policy_monitor.notify.email import send_email
from policy_monitor.registry import EmailChannel

from .conftest import notify_alert

PASSWORD = "smtp-pa55-do-not-leak"


def alert(id: int = 1, **changes: Any) -> AlertMessage:
    # evidence with characters HTML must escape; a creation time without microseconds
    changes = {
        "evidence": "We retain <your> data for up to 5 years & more.",
        "created_at": datetime(2026, 11, 20, 8, 30, 5, tzinfo=UTC),
        **changes,
    }
    return notify_alert(id, **changes)


DIFF = "--- before\n+++ after\n@@ -1,2 +1,2 @@\n context\n-kept for 30 days\n+kept for <5> years"
PAGE = {
    "kind": "page_changed",
    "field": None,
    "old": None,
    "new": None,
    "evidence": None,
    "old_evidence": None,
}


@dataclass
class Mail:
    sender: str
    recipients: list[str]
    message: EmailMessage

    def subject(self) -> str:
        # a long Subject is folded onto a continuation line; mail readers show it without the fold's space
        return str(self.message["Subject"]).strip()

    def text(self) -> str:
        part = self.message.get_body(("plain",))
        assert part is not None
        return str(part.get_content())

    def html(self) -> str:
        part = self.message.get_body(("html",))
        assert part is not None
        return str(part.get_content())


@dataclass
class Handler:
    mails: list[Mail] = field(default_factory=list)
    refuse_rcpt: set[str] = field(default_factory=set)
    refuse_data: str | None = None

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.refuse_rcpt:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse_data:
            return self.refuse_data
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.mails.append(Mail(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 2.0.0 queued"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    handler: Handler
    port: int
    logins: list[tuple[str, str]]

    def url(self, scheme: str = "smtp", query: str = "") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{query}"


def _authenticator(logins: list[tuple[str, str]]) -> Any:
    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user, password = auth_data.login.decode(), auth_data.password.decode()
        logins.append((user, password))
        return AuthResult(success=(user, password) == ("monitor", PASSWORD), handled=False)

    return authenticate


@pytest.fixture
def start_server() -> Iterator[Any]:
    controllers: list[Controller] = []

    def start(**options: Any) -> Server:
        handler = Handler()
        logins: list[tuple[str, str]] = []
        if options.pop("auth", False):
            options.update(authenticator=_authenticator(logins), auth_required=True)
            options.setdefault("auth_require_tls", False)
        port = _free_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port, **options)
        controller.start()
        controllers.append(controller)
        return Server(handler, port, logins)

    yield start
    for c in controllers:
        c.stop()


@pytest.fixture
def server(start_server: Any) -> Server:
    return start_server()  # type: ignore[no-any-return]


def channel(url: str, **options: Any) -> EmailChannel:
    data = {"type": "email", "smtp": url, "from": "monitor@example.org", "to": ["privacy@example.org"]}
    return EmailChannel.model_validate({**data, **options})


def test_one_message_per_alert_with_a_subject_text_and_html(server: Server) -> None:
    results = send(channel(server.url()), [alert(1), alert(2, **PAGE, diff=DIFF)])

    assert results == [SendResult(1, True, None), SendResult(2, True, None)]
    first, second = server.handler.mails
    assert first.sender == "monitor@example.org"
    assert first.recipients == ["privacy@example.org"]
    assert first.subject() == "[policy-monitor] Anthropic: retention P30D -> P5Y"
    assert first.message["To"] == "privacy@example.org"
    assert first.message["X-Monitor-Delivery"] == "1"
    assert first.message["Auto-Submitted"] == "auto-generated"
    text = first.text()
    assert "Was: P30D" in text and "Now: P5Y" in text
    assert "We retain <your> data for up to 5 years & more." in text
    assert "monitor ack 1" in text
    html = first.html()
    assert "We retain &lt;your&gt; data for up to 5 years &amp; more." in html
    assert "<your>" not in html

    assert second.subject() == "[policy-monitor] Anthropic: policy page changed (anthropic.com/legal/privacy)"
    assert "+kept for <5> years" in second.text()
    removed = '<span style="display:block;white-space:pre-wrap;color:#82071e;background:#ffebe9;">-kept for 30 days'
    added = 'color:#116329;background:#e6ffec;">+kept for &lt;5&gt; years</span>'
    assert removed in second.html() and added in second.html()


def test_the_message_id_comes_from_the_alert_so_a_resend_is_recognisable(server: Server) -> None:
    ch = channel(server.url())
    send(ch, [alert(5)])
    send(ch, [alert(5)])
    send(ch, [alert(6)])
    ids = [m.message["Message-ID"] for m in server.handler.mails]
    assert ids[0] == ids[1] == "<policy-monitor.alert-5.20261120083005@example.org>"
    assert ids[2] != ids[0]


def test_digest_sends_one_message_for_all_alerts(server: Server) -> None:
    alerts = [
        alert(1),
        alert(2, vendor_name="Acme", **PAGE, diff=DIFF),
        alert(3, field="training", old="no", new="yes"),
    ]
    ch = channel(server.url(), mode="digest", to=["a@example.org", "b@example.org"])

    assert send(ch, alerts) == [
        SendResult(1, True, None),
        SendResult(2, True, None),
        SendResult(3, True, None),
    ]

    [mail] = server.handler.mails
    assert mail.recipients == ["a@example.org", "b@example.org"]
    assert mail.subject() == (
        "[policy-monitor] 3 alerts: Anthropic retention P30D -> P5Y; "
        "Acme policy page changed (anthropic.com/legal/privacy); Anthropic training no -> yes"
    )
    assert mail.message["X-Monitor-Delivery"] == "1, 2, 3"
    for needle in ("Now: P5Y", "+kept for <5> years", "Now: yes", "monitor ack 3"):
        assert needle in mail.text()
    assert mail.html().count("<h2") == 3


def test_digest_alerts_share_the_outcome(server: Server) -> None:
    server.handler.refuse_data = "554 5.6.0 message rejected"
    results = send(channel(server.url(), mode="digest"), [alert(1), alert(2)])
    assert results == [
        SendResult(1, False, "SMTP 554 5.6.0 message rejected"),
        SendResult(2, False, "SMTP 554 5.6.0 message rejected"),
    ]


def test_a_refused_recipient_means_not_delivered(server: Server) -> None:
    server.handler.refuse_rcpt = {"privacy@example.org"}
    [result] = send(channel(server.url()), [alert(1)])
    assert result == SendResult(1, False, "SMTP 550 5.1.1 mailbox unavailable (recipient privacy@example.org refused)")
    assert server.handler.mails == []


def test_a_partly_refused_message_is_not_counted_as_delivered(server: Server) -> None:
    server.handler.refuse_rcpt = {"gone@example.org"}
    [result] = send(channel(server.url(), to=["privacy@example.org", "gone@example.org"]), [alert(1)])
    assert not result.ok
    assert result.reason == (
        "SMTP 550 5.1.1 mailbox unavailable (recipient gone@example.org refused; accepted for 1 other recipient)"
    )


# aiosmtpd warns when a server requires AUTH without TLS; that is exactly the loopback server these tests want
plain_auth = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")


@plain_auth
def test_login_with_user_and_password(start_server: Any) -> None:
    server = start_server(auth=True)
    ch = channel(server.url(), user="monitor", password=PASSWORD)
    assert send(ch, [alert(1)]) == [SendResult(1, True, None)]
    assert server.logins == [("monitor", PASSWORD)]
    assert len(server.handler.mails) == 1


@plain_auth
def test_a_wrong_password_is_a_failed_result_that_does_not_show_it(
    start_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server = start_server(auth=True)
    wrong = PASSWORD + "-wrong"
    [result] = send(channel(server.url(), user="monitor", password=wrong), [alert(1)])
    assert result == SendResult(1, False, "SMTP 535 login failed: 5.7.8 Authentication credentials invalid")
    assert wrong not in caplog.text and PASSWORD not in caplog.text
    assert server.handler.mails == []


@plain_auth
def test_no_login_without_credentials_on_a_server_that_requires_it(start_server: Any) -> None:
    server = start_server(auth=True)
    [result] = send(channel(server.url()), [alert(1)])
    assert result.ok is False
    assert result.reason is not None and result.reason.startswith("SMTP 530")
    assert server.logins == []


def test_a_password_is_never_sent_unencrypted_to_a_remote_server() -> None:
    # mail.example.invalid is never resolved: the channel refuses before connecting
    ch = channel("smtp://mail.example.invalid:25", user="monitor", password=PASSWORD)
    [result] = send(ch, [alert(1)])
    assert result == SendResult(
        1,
        False,
        "refusing to send the SMTP password unencrypted: use smtps:// or add ?starttls=1 to the smtp URL",
    )


def test_user_without_password_is_explained() -> None:
    [result] = send(channel("smtp://127.0.0.1:25", user="monitor"), [alert(1)])
    assert result.reason == "the email channel needs both `user` and `password` to log in, or neither"


def test_connection_refused_is_a_failed_result_for_every_alert() -> None:
    results = send(channel(f"smtp://127.0.0.1:{_free_port()}"), [alert(1), alert(2)])
    assert results == [SendResult(1, False, "connection refused"), SendResult(2, False, "connection refused")]


def test_starttls_is_refused_clearly_by_a_server_that_does_not_offer_it(server: Server) -> None:
    [result] = send(channel(server.url(query="?starttls=1")), [alert(1)])
    assert result.reason == "the SMTP server does not offer STARTTLS: use smtps:// or a server that does"


# --- TLS, with a throwaway self-signed certificate for 127.0.0.1 ------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def _server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


def _client_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(certificate[0]))


def test_starttls_then_login(start_server: Any, certificate: tuple[Path, Path]) -> None:
    server = start_server(
        auth=True, auth_require_tls=True, require_starttls=True, tls_context=_server_context(certificate)
    )
    ch = channel(server.url(query="?starttls=1"), user="monitor", password=PASSWORD)

    results = send_email(ch, [alert(1)], ssl_context=_client_context(certificate))

    assert results == [SendResult(1, True, None)]
    assert server.logins == [("monitor", PASSWORD)]


def test_smtps_implicit_tls(start_server: Any, certificate: tuple[Path, Path]) -> None:
    server = start_server(ssl_context=_server_context(certificate))
    results = send_email(channel(server.url("smtps")), [alert(1)], ssl_context=_client_context(certificate))
    assert results == [SendResult(1, True, None)]
    assert server.handler.mails[0].subject() == "[policy-monitor] Anthropic: retention P30D -> P5Y"


def test_an_untrusted_certificate_is_not_accepted(start_server: Any, certificate: tuple[Path, Path]) -> None:
    server = start_server(ssl_context=_server_context(certificate))
    [result] = send(channel(server.url("smtps")), [alert(1)])  # the system's CAs do not know the test cert
    assert result.ok is False
    assert result.reason is not None and result.reason.startswith("TLS certificate not accepted:")
    assert server.handler.mails == []


def test_non_ascii_names_and_evidence_arrive_intact(server: Server) -> None:
    a = alert(1, vendor_name="Société Générale IA", evidence="Nous conservez vos données « 5 ans » — au plus.")
    assert send(channel(server.url()), [a]) == [SendResult(1, True, None)]
    [mail] = server.handler.mails
    assert mail.subject() == "[policy-monitor] Société Générale IA: retention P30D -> P5Y"
    assert "Nous conservez vos données « 5 ans » — au plus." in mail.text()
    assert "Nous conservez vos données « 5 ans » — au plus." in mail.html()
