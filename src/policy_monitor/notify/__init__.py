"""Alert channels (SPEC §4): a batch of alerts in, one `SendResult` per alert out.

    send(channel, alerts)          webhook (signed HTTP POST), email (SMTP) or apprise
    check_available(channel)       raises ChannelUnavailable when a channel's optional extra is missing

Channels never raise for delivery problems: a refused connection, a timeout, a 500 or an SMTP 550 is a
failed result with a one-line reason, and the outbox (notify.outbox) retries it on a later run. Secrets
(webhook secret, SMTP password, apprise URLs) never appear in reasons, payloads or log messages.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from ..registry import AppriseChannel, EmailChannel, WebhookChannel
from .message import AlertMessage, SendResult, failed, one_line, scrub

__all__ = ["AlertMessage", "SendResult", "check_available", "send"]

log = logging.getLogger(__name__)

AnyChannel = WebhookChannel | EmailChannel | AppriseChannel


def send(channel: AnyChannel, alerts: Sequence[AlertMessage]) -> list[SendResult]:
    """Send alerts to one channel; one result per alert, in order. Never raises for delivery problems."""
    if not alerts:
        return []
    try:
        if isinstance(channel, WebhookChannel):
            from .webhook import send_webhook

            results = send_webhook(channel, alerts)
        elif isinstance(channel, EmailChannel):
            from .email import send_email

            results = send_email(channel, alerts)
        else:
            from .apprise_channel import send_apprise

            results = send_apprise(channel, alerts)
    except Exception as e:  # noqa: BLE001 - one broken channel must not stop the others
        reason = one_line(f"internal error: {type(e).__name__}: {scrub(str(e), _secrets(channel))}")
        log.error("%s: %s", channel.key(), reason)
        return failed(alerts, reason)
    for r in results:
        if not r.ok:
            log.debug("%s: alert %s not delivered: %s", channel.key(), r.alert_id, r.reason)
    return results


def check_available(channel: AnyChannel) -> None:
    """Raise `ChannelUnavailable` if the channel cannot work on this installation (checked on load)."""
    if isinstance(channel, AppriseChannel):
        from .apprise_channel import check_available as check_apprise

        check_apprise(channel)


def _secrets(channel: AnyChannel) -> list[str]:
    if isinstance(channel, WebhookChannel):
        return [channel.secret.get_secret_value()] if channel.secret else []
    if isinstance(channel, EmailChannel):
        return [channel.password.get_secret_value()] if channel.password else []
    return [u.get_secret_value() for u in channel.urls]
