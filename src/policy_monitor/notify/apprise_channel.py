"""The apprise channel: alerts through any service apprise knows (chat, push, SMS, ...).

apprise is an optional extra (`pip install 'policy-monitor[apprise]'`), imported only when this channel is
used. Its URLs hold tokens, so they are secrets: they never appear in reasons or messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType
from typing import Any

from ..errors import ChannelUnavailable, ConfigError
from ..registry import AppriseChannel
from .message import AlertMessage, SendResult, failed, one_line, scrub

MISSING = "the apprise channel needs the optional extra: pip install 'policy-monitor[apprise]'"


def _apprise() -> ModuleType | None:
    try:
        import apprise
    except ImportError:
        return None
    return apprise


def check_available(channel: AppriseChannel) -> None:
    """Raise ChannelUnavailable when apprise is not installed, ConfigError when it rejects a URL."""
    apprise = _apprise()
    if apprise is None:
        raise ChannelUnavailable(MISSING)
    _build(apprise, channel)


def _build(apprise: ModuleType, channel: AppriseChannel) -> Any:
    client = apprise.Apprise()
    for i, url in enumerate(channel.urls):
        value = url.get_secret_value()
        if not client.add(value):
            scheme = value.split("://", 1)[0] if "://" in value else ""
            what = f"(scheme {scheme!r}) " if scheme and len(scheme) < 20 else ""
            raise ConfigError(
                f"notify: {channel.key()}: apprise URL #{i + 1} {what}is not one apprise can use. "
                "Check it against the apprise documentation."
            )
    return client


def send_apprise(channel: AppriseChannel, alerts: Sequence[AlertMessage]) -> list[SendResult]:
    """Notify every URL of the channel once per alert; an alert is accepted when all of them accepted it."""
    if not alerts:
        return []
    apprise = _apprise()
    if apprise is None:
        return failed(alerts, MISSING)
    secrets = [u.get_secret_value() for u in channel.urls]
    try:
        client = _build(apprise, channel)
    except ConfigError as e:
        return failed(alerts, scrub(str(e), secrets))
    results: list[SendResult] = []
    for alert in alerts:
        try:
            outcome = client.notify(
                title=alert.subject(), body=alert.text(), body_format=apprise.NotifyFormat.TEXT
            )
        except Exception as e:  # noqa: BLE001 - a failure to deliver is a result, not a crash
            reason = one_line(f"apprise: {type(e).__name__}: {e}")
            results.append(SendResult(alert.id, False, scrub(reason, secrets)))
            continue
        if outcome:
            results.append(SendResult(alert.id, True, None))
        else:
            results.append(SendResult(alert.id, False, _reason(outcome, len(channel.urls))))
    return results


def _reason(outcome: object, total: int) -> str:
    failures = getattr(outcome, "failed_count", None)  # apprise >= 2 returns an AppriseResult
    if isinstance(failures, int) and failures:
        services = f"{total} service{'s' if total > 1 else ''}"
        return f"apprise: {failures} of {services} did not accept the notification"
    return "apprise: the notification was not accepted (apprise's log says why)"
