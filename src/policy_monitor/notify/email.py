"""The email channel: alerts as mail, over SMTP (smtplib).

`smtp://host:port` speaks plain SMTP, `?starttls=1` upgrades it with STARTTLS, `smtps://host:port` uses
implicit TLS. The channel logs in only when it has both `user` and `password`, and never sends a password
over an unencrypted connection except to a loopback address. `mode: per-alert` sends one message per
alert, `mode: digest` one message for the whole batch (whose alerts then share one outcome).

Each message has a text and an HTML part with the change, the page's words and the diff, and a
Message-ID made from the alert id and time, so a resent alert is recognisable as the same message.
A message counts as delivered only when the server accepted it for every recipient.
"""

from __future__ import annotations

import hashlib
import html
import ipaddress
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from urllib.parse import parse_qs, unquote, urlsplit

from ..registry import EmailChannel
from .message import PREFIX, AlertMessage, SendResult, describe_error, failed, iso_z, one_line, scrub

_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class SmtpServer:
    """Where and how to connect, read from the channel's `smtp` URL."""

    host: str
    port: int
    implicit_tls: bool
    starttls: bool

    @property
    def encrypted(self) -> bool:
        return self.implicit_tls or self.starttls

    @property
    def loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


def smtp_server(url: str) -> SmtpServer:
    """`smtp://mail.example:587?starttls=1` -> SmtpServer("mail.example", 587, False, True)."""
    parts = urlsplit(url)
    implicit = parts.scheme == "smtps"
    query = {k.lower(): v[-1].lower() for k, v in parse_qs(parts.query).items()}
    return SmtpServer(
        host=parts.hostname or "localhost",
        port=parts.port or (465 if implicit else 25),
        implicit_tls=implicit,
        starttls=not implicit and query.get("starttls", "0") in _TRUE,
    )


def _credentials(channel: EmailChannel) -> tuple[str | None, str | None]:
    """user and password from the channel, else from the URL's user-info (smtp://user:pass@host)."""
    parts = urlsplit(channel.smtp)
    user = channel.user if channel.user is not None else (unquote(parts.username) if parts.username else None)
    if channel.password is not None:
        password: str | None = channel.password.get_secret_value()
    else:
        password = unquote(parts.password) if parts.password else None
    return user, password


def send_email(
    channel: EmailChannel,
    alerts: Sequence[AlertMessage],
    *,
    ssl_context: ssl.SSLContext | None = None,
) -> list[SendResult]:
    """Send the alerts as mail over one SMTP session; one result per alert, in order."""
    if not alerts:
        return []
    server = smtp_server(channel.smtp)
    user, password = _credentials(channel)
    secrets = [password, urlsplit(channel.smtp).password]
    if (user is None) != (password is None):
        return failed(alerts, "the email channel needs both `user` and `password` to log in, or neither")
    if password is not None and not server.encrypted and not server.loopback:
        return failed(
            alerts,
            "refusing to send the SMTP password unencrypted: use smtps:// or add ?starttls=1 to the smtp URL",
        )
    batches = [list(alerts)] if channel.mode == "digest" else [[a] for a in alerts]
    context = ssl_context or ssl.create_default_context()

    try:
        smtp = _connect(server, channel.timeout, context)
    except Exception as e:  # noqa: BLE001 - a failure to deliver is a result, not a crash
        return failed(alerts, scrub(_describe(e, channel.timeout), secrets))

    results: list[SendResult] = []
    try:
        try:
            if server.starttls:
                smtp.starttls(context=context)
                smtp.ehlo()
            if user is not None and password is not None:
                smtp.login(user, password)
        except Exception as e:  # noqa: BLE001
            return failed(alerts, scrub(_describe(e, channel.timeout), secrets))
        for batch in batches:
            message = build_message(channel, batch)
            try:
                refused = smtp.send_message(message, channel.from_, list(channel.to))
            except Exception as e:  # noqa: BLE001
                results += failed(batch, scrub(_describe(e, channel.timeout), secrets))
                continue
            if refused:
                results += failed(batch, scrub(_refused(refused, len(channel.to)), secrets))
            else:
                results += [SendResult(a.id, True, None) for a in batch]
        return results
    finally:
        try:
            smtp.quit()
        except Exception:  # noqa: BLE001, S110 - the messages are already accepted or failed; QUIT is courtesy
            smtp.close()


def _connect(server: SmtpServer, timeout: float, context: ssl.SSLContext) -> smtplib.SMTP:
    if server.implicit_tls:
        return smtplib.SMTP_SSL(server.host, server.port, timeout=timeout, context=context)
    smtp = smtplib.SMTP(server.host, server.port, timeout=timeout)
    smtp.ehlo()
    return smtp


def _describe(error: BaseException, timeout: float) -> str:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return _refused(error.recipients, len(error.recipients))
    if isinstance(error, smtplib.SMTPAuthenticationError):
        return one_line(f"SMTP {error.smtp_code} login failed: {_text(error.smtp_error)}")
    if isinstance(error, smtplib.SMTPSenderRefused):
        return one_line(f"SMTP {error.smtp_code} sender {error.sender} refused: {_text(error.smtp_error)}")
    if isinstance(error, smtplib.SMTPResponseException):
        return one_line(f"SMTP {error.smtp_code} {_text(error.smtp_error)}")
    if isinstance(error, smtplib.SMTPNotSupportedError):
        text = str(error)
        if "STARTTLS" in text:
            return "the SMTP server does not offer STARTTLS: use smtps:// or a server that does"
        if "AUTH" in text:
            return "the SMTP server does not offer login (AUTH): remove user/password or use TLS"
        return one_line(f"SMTP: {text}")
    if isinstance(error, smtplib.SMTPServerDisconnected):
        return one_line(f"the SMTP server closed the connection{': ' + str(error) if str(error) else ''}")
    if isinstance(error, smtplib.SMTPException):
        return one_line(f"SMTP: {error}")
    return describe_error(error, timeout)


def _refused(refused: dict[str, tuple[int, bytes]], total: int) -> str:
    addr, (code, text) = next(iter(refused.items()))
    others = len(refused) - 1
    more = f" and {others} other recipient{'s' if others > 1 else ''}" if others else ""
    accepted = total - len(refused)
    tail = f"; accepted for {accepted} other recipient{'s' if accepted > 1 else ''}" if accepted > 0 else ""
    return one_line(f"SMTP {code} {_text(text)} (recipient {addr}{more} refused{tail})")


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


# --- the message ----------------------------------------------------------------------------------


def subject(alerts: Sequence[AlertMessage]) -> str:
    """One alert: its subject. Several: "[policy-monitor] 3 alerts: Anthropic retention P30D -> P5Y; ..."."""
    if len(alerts) == 1:
        return alerts[0].subject()
    parts = "; ".join(f"{a.vendor_name} {a.headline()}" for a in alerts)
    return one_line(f"{PREFIX} {len(alerts)} alerts: {parts}", 200)


def message_id(alerts: Sequence[AlertMessage], sender: str) -> str:
    """Stable for the same alert(s): made from ids and creation times, so a resend is the same message."""
    domain = sender.rsplit("@", 1)[-1].strip("<> ") or "policy-monitor.invalid"
    if len(alerts) == 1:
        a = alerts[0]
        return f"<policy-monitor.alert-{a.id}.{a.created_at.strftime('%Y%m%d%H%M%S')}@{domain}>"
    key = ",".join(f"{a.id}@{iso_z(a.created_at)}" for a in alerts)
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return f"<policy-monitor.digest-{alerts[0].id}-{alerts[-1].id}.{digest}@{domain}>"


def build_message(channel: EmailChannel, alerts: Sequence[AlertMessage]) -> EmailMessage:
    """The mail for one alert, or a digest of several: text and HTML alternatives."""
    msg = EmailMessage()
    msg["Subject"] = subject(alerts)
    msg["From"] = channel.from_
    msg["To"] = ", ".join(channel.to)
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = message_id(alerts, channel.from_)
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Monitor-Delivery"] = ", ".join(str(a.id) for a in alerts)
    if len({a.kind for a in alerts}) == 1:
        msg["X-Monitor-Event"] = alerts[0].kind
    msg.set_content(text_body(alerts))
    msg.add_alternative(html_body(alerts), subtype="html")
    return msg


def text_body(alerts: Sequence[AlertMessage]) -> str:
    if len(alerts) == 1:
        return alerts[0].text() + "\n"
    head = [f"{len(alerts)} alerts from policy-monitor:", ""]
    head += [f"  {i}. {a.vendor_name}: {a.headline()}" for i, a in enumerate(alerts, 1)]
    rule = "\n\n" + "-" * 72 + "\n\n"
    return "\n".join(head) + rule + rule.join(a.text() for a in alerts) + "\n"


_STYLE_LINE = "display:block;white-space:pre-wrap;"
_DIFF_STYLES = (
    ("+++", "color:#57606a;font-weight:bold;"),
    ("---", "color:#57606a;font-weight:bold;"),
    ("@@", "color:#0550ae;background:#ddf4ff;"),
    ("+", "color:#116329;background:#e6ffec;"),
    ("-", "color:#82071e;background:#ffebe9;"),
)


def html_diff(diff: str) -> str:
    """A unified diff as HTML: escaped, one block per line, additions green and removals red."""
    lines = []
    for line in diff.splitlines():
        style = next((s for prefix, s in _DIFF_STYLES if line.startswith(prefix)), "")
        lines.append(f'<span style="{_STYLE_LINE}{style}">{html.escape(line) or "&nbsp;"}</span>')
    return (
        '<pre style="font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;'
        'border:1px solid #d0d7de;padding:8px;margin:0">' + "".join(lines) + "</pre>"
    )


def _html_alert(alert: AlertMessage) -> str:
    e = html.escape
    rows = "".join(
        f'<tr><th style="text-align:left;padding:2px 12px 2px 0;vertical-align:top">{e(label)}</th>'
        f"<td>{e(value)}</td></tr>"
        for label, value in alert.facts()
    )
    parts = [
        f'<h2 style="font-size:16px">{e(alert.vendor_name)}: {e(alert.headline())}</h2>',
        f"<table>{rows}</table>",
    ]
    quote = 'style="border-left:3px solid #d0d7de;margin:4px 0;padding:0 8px;color:#24292f"'
    if alert.evidence:
        label = "Failure" if alert.is_failure else "The page now says"
        parts.append(f"<p><b>{label}:</b></p><blockquote {quote}>{e(alert.evidence)}</blockquote>")
    if alert.old_evidence:
        parts.append(f"<p><b>It said before:</b></p><blockquote {quote}>{e(alert.old_evidence)}</blockquote>")
    excerpt, _ = alert.diff_excerpt(200, 20000)
    if excerpt:
        parts.append("<p><b>Diff:</b></p>" + html_diff(excerpt))
    parts.append(
        f'<p style="color:#57606a;font-size:12px">Alert {alert.id}, raised {e(iso_z(alert.created_at))}. '
        f"Acknowledge with: <code>monitor ack {alert.id}</code></p>"
    )
    return "\n".join(parts)


def html_body(alerts: Sequence[AlertMessage]) -> str:
    sections = "\n<hr>\n".join(_html_alert(a) for a in alerts)
    intro = ""
    if len(alerts) > 1:
        items = "".join(f"<li>{html.escape(a.vendor_name)}: {html.escape(a.headline())}</li>" for a in alerts)
        intro = f"<p>{len(alerts)} alerts from policy-monitor:</p><ol>{items}</ol><hr>\n"
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head>'
        '<body style="font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;font-size:14px">\n'
        f"{intro}{sections}\n</body></html>\n"
    )
