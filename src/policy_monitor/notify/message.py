"""What an alert says, whichever channel carries it.

`AlertMessage` is the channel-neutral form of a stored alert: the outbox builds one per alert and hands a
batch to `notify.send`. It knows how to say itself as a subject line a person can act on, as the versioned
webhook JSON body (`payload()`, documented in docs/webhook.md) and as plain text. `SendResult` is what a
channel answers for each alert: accepted or not, and why not in one line free of secrets.
"""

from __future__ import annotations

import logging
import socket
import ssl
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

SCHEMA = "policy-monitor.alert/1"
PREFIX = "[policy-monitor]"

# How much of a page diff a message carries. The whole diff is in the database (`monitor diff`).
DIFF_LINES = 40
DIFF_CHARS = 4000

_FIELD_WORDS = {
    "retention": "retention",
    "flagged_retention": "flagged-content retention",
    "training": "training",
    "zdr_available": "zero data retention available",
    "stores": "stores data",
    "scope": "stored data",
}


@dataclass(frozen=True)
class AlertMessage:
    """One alert as the channels see it. Times are aware UTC datetimes."""

    id: int
    kind: str  # page_changed | fact_changed | registry_mismatch | source_failing | source_gone
    vendor: str
    vendor_name: str
    url: str | None
    field: str | None
    old: str | None
    new: str | None
    evidence: str | None
    old_evidence: str | None
    diff: str | None
    created_at: datetime

    @property
    def is_failure(self) -> bool:
        """True for alerts about a source that cannot be read (evidence is then the failure reason)."""
        return self.kind in ("source_failing", "source_gone")

    def headline(self) -> str:
        """What happened, in a few words, after the vendor's name (no prefix)."""
        field = _FIELD_WORDS.get(self.field or "", self.field or "a fact")
        where = f" ({short_url(self.url)})" if self.url else ""
        if self.kind == "fact_changed":
            if self.old is None:
                return f"{field} now stated: {self.new}"
            if self.new is None:
                return f"{field} no longer stated (was {self.old})"
            return f"{field} {self.old} -> {self.new}"
        if self.kind == "registry_mismatch":
            observed = f"page says {self.new}" if self.new is not None else "no page states it"
            return f"registry says {field} {self.old}, {observed}"
        if self.kind == "page_changed":
            return f"policy page changed{where}"
        if self.kind == "source_failing":
            reason = f": {_first_line(self.evidence, 80)}" if self.evidence else ""
            return f"source failing{where}{reason}"
        if self.kind == "source_gone":
            reason = f": {_first_line(self.evidence, 80)}" if self.evidence else ""
            return f"source gone{where}{reason}"
        return f"{self.kind.replace('_', ' ')}{where}"

    def subject(self) -> str:
        """A one-line subject, e.g. "[policy-monitor] Anthropic: retention P30D -> P5Y"."""
        return one_line(f"{PREFIX} {self.vendor_name}: {self.headline()}", 200)

    def diff_excerpt(
        self, max_lines: int = DIFF_LINES, max_chars: int = DIFF_CHARS
    ) -> tuple[str | None, bool]:
        """The start of the diff and whether it was cut; a cut excerpt ends with a line saying so."""
        if not self.diff:
            return None, False
        lines = self.diff.splitlines()
        kept: list[str] = []
        size = 0
        for line in lines[:max_lines]:
            if size + len(line) + 1 > max_chars:
                break
            kept.append(line)
            size += len(line) + 1
        if len(kept) == len(lines):
            return "\n".join(kept), False
        more = len(lines) - len(kept)
        kept.append(f"[... {more} more line{'s' if more != 1 else ''}: monitor diff shows the whole change]")
        return "\n".join(kept), True

    def payload(self) -> dict[str, Any]:
        """The webhook JSON body, schema `policy-monitor.alert/1` (docs/webhook.md)."""
        excerpt, cut = self.diff_excerpt()
        return {
            "schema": SCHEMA,
            "id": self.id,
            "kind": self.kind,
            "vendor": {"id": self.vendor, "name": self.vendor_name},
            "url": self.url,
            "field": self.field,
            "old": self.old,
            "new": self.new,
            "evidence": self.evidence,
            "old_evidence": self.old_evidence,
            "diff_excerpt": excerpt,
            "diff_truncated": cut,
            "created_at": iso_z(self.created_at),
            "subject": self.subject(),
        }

    def text(self, max_diff_lines: int = 200, max_diff_chars: int = 20000) -> str:
        """A plain-text account of the alert: what changed, the page's words, the diff."""
        out = [self.subject().removeprefix(PREFIX + " "), ""]
        for label, value in self.facts():
            out.append(f"{label}: {value}")
        if self.evidence:
            out += [
                "",
                "Failure:" if self.is_failure else "The page now says:",
                f"  {self.evidence}",
            ]
        if self.old_evidence:
            out += ["", "It said before:", f"  {self.old_evidence}"]
        excerpt, _ = self.diff_excerpt(max_diff_lines, max_diff_chars)
        if excerpt:
            out += ["", "Diff:", excerpt]
        out += [
            "",
            f"Alert {self.id}, raised {iso_z(self.created_at)}. Acknowledge with: monitor ack {self.id}",
        ]
        return "\n".join(out)

    def facts(self) -> list[tuple[str, str]]:
        """Labelled values shown by the text, HTML and Slack forms."""
        rows = [("Vendor", f"{self.vendor_name} ({self.vendor})"), ("Alert", self.kind)]
        if self.url:
            rows.append(("Page", self.url))
        if self.field:
            rows.append(("Field", self.field))
        before, after = ("Registry says", "Page says") if self.kind == "registry_mismatch" else ("Was", "Now")
        if self.field or self.old is not None:
            rows.append((before, self.old if self.old is not None else "(not stated)"))
        if self.field or self.new is not None:
            rows.append((after, self.new if self.new is not None else "(not stated)"))
        return rows


@dataclass(frozen=True)
class SendResult:
    """A channel's answer for one alert. `reason` is one line, set when not ok, and never holds secrets."""

    alert_id: int
    ok: bool
    reason: str | None = None


def iso_z(when: datetime) -> str:
    """ISO-8601 in UTC with a Z, to the second. A naive datetime is taken to be UTC already."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def short_url(url: str) -> str:
    """`https://www.anthropic.com/legal/privacy/` -> `anthropic.com/legal/privacy`."""
    parts = urlsplit(url)
    host = (parts.hostname or "").removeprefix("www.")
    return (host + parts.path.rstrip("/")) or url


def one_line(text: str, limit: int = 300) -> str:
    """Collapse whitespace (no CR/LF can reach a header) and cut to `limit` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3].rstrip() + "..."


def _first_line(text: str | None, limit: int) -> str:
    return one_line((text or "").strip().split("\n", 1)[0], limit)


def scrub(text: str, secrets: Iterable[str | None]) -> str:
    """Replace every secret (as written and percent-encoded) in `text` by `***`."""
    for secret in secrets:
        if not secret or len(secret) < 3:
            continue
        for form in {secret, quote(secret, safe=""), quote(secret)}:
            text = text.replace(form, "***")
    return text


class _Redact(logging.Filter):
    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = scrub(str(record.msg), self.secrets)
        if isinstance(record.args, tuple):
            record.args = tuple(
                a if isinstance(a, int | float) else scrub(str(a), self.secrets) for a in record.args
            )
        return True


@contextmanager
def redacted_logs(secrets: list[str], *loggers: str) -> Iterator[None]:
    """While sending, scrub secrets from what the transport libraries log (e.g. httpx logs each URL)."""
    redact = _Redact(secrets)
    for name in loggers:
        logging.getLogger(name).addFilter(redact)
    try:
        yield
    finally:
        for name in loggers:
            logging.getLogger(name).removeFilter(redact)


def failed(alerts: Iterable[AlertMessage], reason: str) -> list[SendResult]:
    """The same failure for every alert."""
    return [SendResult(a.id, False, reason) for a in alerts]


def describe_error(error: BaseException, timeout: float) -> str:
    """One line for a transport failure: "connection refused", "timed out after 10 s", ..."""
    if isinstance(error, TimeoutError):  # socket.timeout is TimeoutError
        return f"timed out after {timeout:g} s"
    chain = _chain(error)
    for e in chain:
        if isinstance(e, ConnectionRefusedError):
            return "connection refused"
        if isinstance(e, socket.gaierror):
            return "host name not found"
        if isinstance(e, ssl.SSLCertVerificationError):
            return f"TLS certificate not accepted: {e.verify_message or e.reason}"
        if isinstance(e, ssl.SSLError):
            return f"TLS error: {e.reason or e}"
    text = str(error)
    if "refused" in text.lower():
        return "connection refused"
    if "name or service not known" in text.lower() or "nodename nor servname" in text.lower():
        return "host name not found"
    return one_line(f"{type(error).__name__}: {text}" if text else type(error).__name__, 300)


def _chain(error: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    e: BaseException | None = error
    while e is not None and e not in out:
        out.append(e)
        e = e.__cause__ or e.__context__
    return out
