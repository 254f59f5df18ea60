"""The webhook channel: one signed HTTP POST per alert (docs/webhook.md).

The body is the alert's JSON (`AlertMessage.payload()`, compact UTF-8) or, with `format: slack`, a Slack
message. Either way the request carries `X-Monitor-Delivery: <alert id>` so a receiver can drop repeats,
and, when the channel has a secret, `X-Monitor-Signature: sha256=<hex HMAC-SHA256 of the raw body>`.
A 2xx answer means accepted; anything else, a redirect included, is a failure with a one-line reason.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from typing import Any

import httpx

from .. import __version__
from ..registry import WebhookChannel
from .message import (
    PREFIX,
    AlertMessage,
    SendResult,
    describe_error,
    iso_z,
    one_line,
    redacted_logs,
    scrub,
)

USER_AGENT = f"policy-monitor/{__version__}"
_SLACK_TEXT = 2900  # Slack rejects section text over 3000 characters


def body(channel: WebhookChannel, alert: AlertMessage) -> bytes:
    """The exact bytes POSTed for `alert` (and signed)."""
    data = slack_message(alert) if channel.format == "slack" else alert.payload()
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def signature(secret: str, raw_body: bytes) -> str:
    """The `X-Monitor-Signature` value: `sha256=` and the hex HMAC-SHA256 of the body."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), raw_body, hashlib.sha256).hexdigest()


def headers(channel: WebhookChannel, alert: AlertMessage, raw_body: bytes) -> dict[str, str]:
    out = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Monitor-Delivery": str(alert.id),
        "X-Monitor-Event": alert.kind,
    }
    if channel.secret is not None:
        out["X-Monitor-Signature"] = signature(channel.secret.get_secret_value(), raw_body)
    return out


def send_webhook(
    channel: WebhookChannel,
    alerts: Sequence[AlertMessage],
    *,
    transport: httpx.BaseTransport | None = None,
) -> list[SendResult]:
    """POST each alert; one result per alert, in order. Delivery problems become failed results."""
    secrets = _secrets(channel)
    results: list[SendResult] = []
    with (
        redacted_logs(secrets, "httpx"),
        httpx.Client(
            timeout=httpx.Timeout(channel.timeout),
            follow_redirects=False,
            transport=transport,
        ) as client,
    ):
        for alert in alerts:
            raw = body(channel, alert)
            try:
                response = client.post(channel.url, content=raw, headers=headers(channel, alert, raw))
            except Exception as e:  # noqa: BLE001 - every failure to deliver is a result, not a crash
                results.append(
                    SendResult(alert.id, False, scrub(_describe_error(e, channel.timeout), secrets))
                )
                continue
            if response.is_success:
                results.append(SendResult(alert.id, True, None))
            else:
                results.append(SendResult(alert.id, False, scrub(_describe_response(response), secrets)))
    return results


def _secrets(channel: WebhookChannel) -> list[str]:
    # The URL's path and query often hold a token (Slack, Teams, Discord hooks): keep them out of reasons too.
    parts = httpx.URL(channel.url)
    found = [parts.path, parts.query.decode("ascii", "replace"), parts.userinfo.decode("ascii", "replace")]
    if channel.secret is not None:
        found.append(channel.secret.get_secret_value())
    return [s for s in found if len(s) > 1]


def _describe_response(response: httpx.Response) -> str:
    reason = f"HTTP {response.status_code} {response.reason_phrase}".rstrip()
    if response.is_redirect:
        return f"{reason} (redirects are not followed: configure the final URL)"
    text = one_line(response.text, 160) if _is_text(response) else ""
    return f"{reason}: {text}" if text else reason


def _is_text(response: httpx.Response) -> bool:
    kind = str(response.headers.get("content-type", "text/plain")).split(";")[0].strip().lower()
    return kind.startswith("text/") or kind.endswith("json")


def _describe_error(error: BaseException, timeout: float) -> str:
    if isinstance(error, httpx.TimeoutException):
        return f"timed out after {timeout:g} s"
    return describe_error(error, timeout)


# --- format: slack ---------------------------------------------------------------------------------


def slack_message(alert: AlertMessage) -> dict[str, Any]:
    """A Slack incoming-webhook message: `text` (the notification line) and Block Kit `blocks`."""
    title = alert.subject().removeprefix(PREFIX + " ")
    fields = [{"type": "mrkdwn", "text": f"*{_esc(label)}*\n{_esc(value)}"} for label, value in alert.facts()]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": one_line(title, 150)}},
        {"type": "section", "fields": fields[:10]},
    ]
    if alert.evidence:
        label = "Failure" if alert.is_failure else "The page now says"
        blocks.append(_section(f"*{label}:*\n>{_esc(one_line(alert.evidence, 1500))}"))
    if alert.old_evidence:
        blocks.append(_section(f"*It said before:*\n>{_esc(one_line(alert.old_evidence, 1500))}"))
    excerpt, _ = alert.diff_excerpt(max_chars=_SLACK_TEXT - 10)
    if excerpt:
        blocks.append(_section(f"```{_esc(excerpt)}```"[:_SLACK_TEXT]))
    blocks.append(
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"Alert {alert.id} · {iso_z(alert.created_at)} · `monitor ack {alert.id}`",
                }
            ],
        }
    )
    return {"text": alert.subject(), "blocks": blocks}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _esc(text: str) -> str:
    """Slack's mrkdwn escaping: only &, < and > are special."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
