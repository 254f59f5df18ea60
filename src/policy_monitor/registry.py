"""sources.yaml -> a validated `Registry` (SPEC §1).

`load_registry(path)` reads the file, replaces `${NAME}` from the environment, validates it with pydantic
(`extra="forbid"`) and raises `ConfigError` with one message naming the file and the line (YAML errors)
or the field path and its line (schema errors). Nothing else in the program reads sources.yaml.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
from collections.abc import Callable, Iterable
from datetime import date
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from .vocabulary import (
    ScopeItem,
    Stores,
    Training,
    is_retention,
    yaml_bool_word,
)

DEFAULT_SCHEDULE = "0 */6 * * *"
_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{value!r} is not an http(s) URL. Use an https:// URL.")
    return value


def _check_cron(value: str) -> str:
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(value)
    except ValueError as e:
        raise ValueError(f"{value!r} is not a cron expression ({e}). Use e.g. '0 */6 * * *'.") from None
    return value


def _check_retention(value: object) -> object:
    if value is None:
        return None
    if not isinstance(value, str) or not is_retention(value):
        raise ValueError(
            f"{value!r} is not an ISO-8601 duration, 'zero' or 'unknown'. Write e.g. P30D, PT24H, P2Y, zero or unknown."
        )
    return value


class Facts(Model):
    """Facts about how a vendor handles API data, in the SPEC vocabulary. Every field optional."""

    stores: Stores | None = None
    scope: list[ScopeItem] | None = None
    retention: str | None = None
    flagged_retention: str | None = None
    training: Training | None = None
    zdr_available: bool | None = None

    @field_validator("training", mode="before")
    @classmethod
    def _training_bool(cls, v: object) -> object:
        return yaml_bool_word(v, "yes", "no")

    @field_validator("stores", mode="before")
    @classmethod
    def _stores_bool(cls, v: object) -> object:
        return yaml_bool_word(v, "yes", "no")

    @field_validator("retention", "flagged_retention", mode="before")
    @classmethod
    def _retention(cls, v: object) -> object:
        return _check_retention(v)

    def stated(self) -> dict[str, Any]:
        """The fields that have a value."""
        return {k: v for k, v in self.model_dump().items() if v is not None}


class Claim(Facts):
    """What one published table says about a vendor."""

    registry: str
    models: list[str] = Field(default_factory=list)
    says: str | None = None  # the table's own words, verbatim


class PublishedTable(Model):
    id: str
    title: str | None = None
    url: str | None = None
    updated: date | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        return None if v is None else _check_http_url(v)


class Source(Model):
    url: str
    kind: str = "privacy-policy"
    select: str | None = None
    remove: list[str] = Field(default_factory=list)
    ignore: list[str] = Field(default_factory=list)
    schedule: str | None = None
    timeout: float | None = Field(default=None, gt=0, le=300)
    render: Literal["http", "browser"] = "http"
    robots: bool | None = None  # None: follow defaults.robots
    note: str | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        return _check_http_url(v)

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, v: str | None) -> str | None:
        return None if v is None else _check_cron(v)

    @field_validator("ignore")
    @classmethod
    def _ignore(cls, v: list[str]) -> list[str]:
        for i, pattern in enumerate(v):
            try:
                re.compile(pattern)
            except re.error as e:
                raise _PathError(
                    (i,),
                    f"`{pattern}` is not a regular expression ({e}). "
                    "Put a backslash before ( ) [ ] { } . * + ? | ^ $ to match them literally.",
                ) from None
        return v

    @field_validator("select")
    @classmethod
    def _select(cls, v: str | None) -> str | None:
        if v is not None and not v.strip():
            raise ValueError('an empty CSS selector selects nothing. Remove `select` or give one, e.g. "main article".')
        return v


class Vendor(Model):
    id: str
    name: str
    aliases: list[str] = Field(default_factory=list)
    expected: Facts = Field(default_factory=Facts)
    claims: list[Claim] = Field(default_factory=list)
    sources: list[Source] = Field(default_factory=list)
    note: str | None = None

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not _ID.match(v):
            slug = re.sub(r"[^a-z0-9]+", "-", v.lower()).strip("-") or "acme"
            raise ValueError(f"{v!r} is not a vendor id. Use lower-case letters, digits and '-', e.g. {slug}.")
        return v

    @model_validator(mode="after")
    def _unique_urls(self) -> Vendor:
        first: dict[str, int] = {}
        for j, s in enumerate(self.sources):
            if s.url in first:
                raise _PathError(
                    ("sources", j, "url"),
                    f"{s.url!r} is listed twice (first as sources[{first[s.url]}]). Remove one of them.",
                )
            first[s.url] = j
        return self


class Defaults(Model):
    schedule: str = DEFAULT_SCHEDULE
    timeout: float = Field(default=30.0, gt=0, le=300)
    concurrency: int = Field(default=64, ge=1, le=1000)
    per_host: int = Field(default=1, ge=1, le=16)
    max_bytes: int = Field(default=10 * 2**20, ge=1024)
    retries: int = Field(default=3, ge=0, le=10)
    failing_after: int = Field(default=3, ge=1)
    robots: bool = True
    jitter: float = Field(default=60.0, ge=0)  # seconds of random delay the daemon adds to each schedule

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, v: str) -> str:
        return _check_cron(v)


AlertKind = Literal["page_changed", "fact_changed", "registry_mismatch", "source_failing", "source_gone"]


class ChannelBase(Model):
    name: str | None = None
    kinds: list[AlertKind] | None = None  # None: every kind
    vendors: list[str] | None = None  # None: every vendor

    def key(self) -> str:
        """A stable name for this channel, free of secrets: deliveries are recorded against it."""
        raise NotImplementedError

    def wants(self, kind: str, vendor: str | None) -> bool:
        return (self.kinds is None or kind in self.kinds) and (
            self.vendors is None or vendor is None or vendor in self.vendors
        )


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:10]


class WebhookChannel(ChannelBase):
    type: Literal["webhook"]
    url: str
    secret: SecretStr | None = None
    format: Literal["json", "slack"] = "json"
    timeout: float = Field(default=10.0, gt=0, le=120)

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        return _check_http_url(v)

    def key(self) -> str:
        return self.name or f"webhook-{_digest(self.url)}"


class EmailChannel(ChannelBase):
    type: Literal["email"]
    smtp: str
    from_: str = Field(alias="from")
    to: list[str] = Field(min_length=1)
    user: str | None = None
    password: SecretStr | None = None
    mode: Literal["per-alert", "digest"] = "per-alert"
    timeout: float = Field(default=30.0, gt=0, le=300)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("smtp")
    @classmethod
    def _smtp(cls, v: str) -> str:
        parts = urlsplit(v)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError(f"{v!r} is not an smtp:// or smtps:// URL. Use e.g. smtp://mail.example:587?starttls=1.")
        try:
            parts.port  # noqa: B018 - raises on a bad port
        except ValueError:
            raise ValueError(f"{v!r} has an invalid port. Use a port from 1 to 65535, e.g. 587.") from None
        return v

    @field_validator("to", mode="before")
    @classmethod
    def _to_list(cls, v: object) -> object:
        return [v] if isinstance(v, str) else v

    @field_validator("from_", "to")
    @classmethod
    def _addresses(cls, v: Any) -> Any:
        for a in [v] if isinstance(v, str) else v:
            if "@" not in a:
                raise ValueError(f"{a!r} is not an email address. Write e.g. privacy@example.org.")
        return v

    def key(self) -> str:
        return self.name or f"email-{_digest(self.smtp, *self.to)}"


class AppriseChannel(ChannelBase):
    type: Literal["apprise"]
    urls: list[SecretStr] = Field(min_length=1)

    @field_validator("urls", mode="before")
    @classmethod
    def _urls_list(cls, v: object) -> object:
        return [v] if isinstance(v, str) else v

    def key(self) -> str:
        return self.name or f"apprise-{_digest(*(u.get_secret_value() for u in self.urls))}"


Channel = Annotated[WebhookChannel | EmailChannel | AppriseChannel, Field(discriminator="type")]


class Registry(Model):
    version: Literal[1] = 1
    defaults: Defaults = Field(default_factory=Defaults)
    registries: list[PublishedTable] = Field(default_factory=list)
    vendors: list[Vendor]
    notify: list[Channel] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references(self) -> Registry:
        tables: dict[str, int] = {}
        for k, t in enumerate(self.registries):
            if t.id in tables:
                raise _PathError(
                    ("registries", k, "id"),
                    f"duplicate registry id {t.id!r} (first used by registries[{tables[t.id]}]). "
                    "Give each published table its own id.",
                )
            tables[t.id] = k
        for i, v in enumerate(self.vendors):
            for j, c in enumerate(v.claims):
                if c.registry not in tables:
                    raise _PathError(("vendors", i, "claims", j, "registry"), _unknown_table(c.registry, list(tables)))
        vendor_ids = [v.id for v in self.vendors]
        for i, ch in enumerate(self.notify):
            for k, vid in enumerate(ch.vendors or []):
                if vid not in vendor_ids:
                    raise _PathError(
                        ("notify", i, "vendors", k),
                        f"{vid!r} is not the id of a vendor in this file.{_did_you_mean(vid, vendor_ids, quote=repr)} "
                        "`monitor registry` lists the ids.",
                    )
        return self

    def vendor(self, vendor_id: str) -> Vendor | None:
        return next((v for v in self.vendors if v.id == vendor_id), None)

    def schedule_of(self, source: Source) -> str:
        return source.schedule or self.defaults.schedule

    def timeout_of(self, source: Source) -> float:
        return source.timeout or self.defaults.timeout

    def robots_of(self, source: Source) -> bool:
        return self.defaults.robots if source.robots is None else source.robots

    def public_dict(self) -> dict[str, Any]:
        """The normalised registry of `monitor registry --json` (SPEC §2). Secrets are never included."""
        return {
            "version": self.version,
            "defaults": self.defaults.model_dump(mode="json"),
            "registries": [t.model_dump(mode="json", exclude_none=True) for t in self.registries],
            "vendors": [
                {
                    "id": v.id,
                    "name": v.name,
                    "aliases": v.aliases,
                    "expected": v.expected.stated(),
                    "claims": [c.model_dump(mode="json", exclude_none=True) for c in v.claims],
                    "sources": [s.model_dump(mode="json", exclude_none=True) for s in v.sources],
                }
                for v in self.vendors
            ],
            "notify": [{"type": c.type, "name": c.key()} for c in self.notify],
        }


class _PathError(ValueError):
    """A problem found by a validator that knows where it lies below the value it checks: `path` is relative
    to the field pydantic reports (for the registry's own checks, the top of the file)."""

    def __init__(self, path: tuple[str | int, ...], message: str):
        super().__init__(message)
        self.path = path
        self.message = message


def _did_you_mean(word: str, choices: Iterable[str], quote: Callable[[str], str] = lambda s: f"`{s}`") -> str:
    """' Did you mean `x`?' for the closest of `choices`, or ''."""
    match = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.75)
    return f" Did you mean {quote(match[0])}?" if match else ""


def _unknown_table(name: str, tables: list[str]) -> str:
    if not tables:
        return f"{name!r} is not one of the registries (none declared). Declare it under `registries:`."
    hint = _did_you_mean(name, tables, quote=repr) or " Declare it under `registries:` or use one of those."
    return f"{name!r} is not one of the registries ({', '.join(sorted(tables))}).{hint}"


# --- loading (registry_load.py) -----------------------------------------------------------------------


def load_registry(path: str | os.PathLike[str], environ: dict[str, str] | None = None) -> Registry:
    """Read and validate a sources file. Raises ConfigError with a message naming file and line/field."""
    from .registry_load import load

    return load(path, environ)
