"""The apprise channel: alerts through any service apprise knows (chat, push, SMS, ...).

apprise is an optional extra (`pip install 'policy-monitor[apprise]'`), imported only when this channel is
used. Its URLs hold tokens, so they are secrets: they never appear in reasons or messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ..errors import ChannelUnavailable, ConfigError
from ..registry import AppriseChannel
from .message import AlertMessage, SendResult, failed, one_line, redacted_logs, scrub

_LOGGERS = ("apprise", "urllib3.connectionpool")  # they log service URLs, tokens included
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
    with redacted_logs(url_secrets(channel), *_LOGGERS):
        _build(apprise, channel)


def _build(apprise: ModuleType, channel: AppriseChannel) -> Any:
    client = apprise.Apprise()
    for i, url in enumerate(channel.urls):
        value = url.get_secret_value()
        if not client.add(value):
            scheme = value.split("://", 1)[0] if "://" in value else ""
            what = f"this {scheme}:// URL" if scheme.isalnum() and len(scheme) < 20 else "this URL"
            raise ConfigError(
                f"urls[{i}]: apprise cannot use {what} (an unknown service, or parts of it missing). "
                "See https://github.com/caronc/apprise/wiki for the URL of each service."
            )
    return client


def send_apprise(channel: AppriseChannel, alerts: Sequence[AlertMessage]) -> list[SendResult]:
    """Notify every URL of the channel once per alert; an alert is accepted when all of them accepted it."""
    if not alerts:
        return []
    apprise = _apprise()
    if apprise is None:
        return failed(alerts, MISSING)
    secrets = url_secrets(channel)
    with redacted_logs(secrets, *_LOGGERS):
        try:
            client = _build(apprise, channel)
        except ConfigError as e:
            return failed(alerts, scrub(str(e), secrets))
        return _notify(apprise, client, alerts, secrets, len(channel.urls))


def url_secrets(channel: AppriseChannel) -> list[str]:
    """Every part of the channel's URLs that may be a token: apprise services keep them in the host,
    the user-info, the path or the query, depending on the service."""
    found: list[str] = []
    for url in channel.urls:
        value = url.get_secret_value()
        parts = urlsplit(value)
        found += [value, value.split("://", 1)[-1], parts.netloc]
        found += [parts.hostname or "", parts.username or "", parts.password or ""]
        found += [s for s in parts.path.split("/") if s]
        found += [v for values in parse_qs(parts.query).values() for v in values]
    # the longest first, so a part never leaves the rest of a longer secret behind
    return sorted({s for s in found if len(s) >= 4}, key=len, reverse=True)


def _notify(
    apprise: ModuleType, client: Any, alerts: Sequence[AlertMessage], secrets: list[str], total: int
) -> list[SendResult]:
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
            results.append(SendResult(alert.id, False, _reason(outcome, total)))
    return results


def _reason(outcome: object, total: int) -> str:
    failures = getattr(outcome, "failed_count", None)  # apprise >= 2 returns an AppriseResult
    if isinstance(failures, int) and failures:
        services = f"{total} service{'s' if total > 1 else ''}"
        return f"apprise: {failures} of {services} did not accept the notification"
    return "apprise: the notification was not accepted (apprise's log says why)"
