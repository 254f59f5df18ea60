"""sources.yaml -> a validated `Registry` (SPEC §1).

`load_registry(path)` reads the file, replaces `${NAME}` from the environment, validates it with pydantic
(`extra="forbid"`) and raises `ConfigError` with one message naming the file and the line (YAML errors)
or the field path and its line (schema errors). Nothing else in the program reads sources.yaml.
"""

from __future__ import annotations

import hashlib
import os
import re
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from .errors import ConfigError
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
        raise ValueError(f"{value!r} is not an http(s) URL. Use an https:// URL")
    return value


def _check_cron(value: str) -> str:
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(value)
    except ValueError as e:
        raise ValueError(f"{value!r} is not a cron expression ({e}). Use e.g. '0 */6 * * *'") from None
    return value


def _check_retention(value: object) -> object:
    if value is None:
        return None
    if not isinstance(value, str) or not is_retention(value):
        raise ValueError(f"{value!r} is not an ISO-8601 duration, 'zero' or 'unknown'")
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
        for pattern in v:
            try:
                re.compile(pattern)
            except re.error as e:
                raise ValueError(f"{pattern!r} is not a regular expression ({e})") from None
        return v

    @field_validator("select")
    @classmethod
    def _select(cls, v: str | None) -> str | None:
        if v is not None and not v.strip():
            raise ValueError("an empty CSS selector selects nothing; remove `select` or give one")
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
            raise ValueError(f"{v!r} is not a vendor id: use lower-case letters, digits and '-'")
        return v

    @model_validator(mode="after")
    def _unique_urls(self) -> Vendor:
        seen: set[str] = set()
        for s in self.sources:
            if s.url in seen:
                raise ValueError(f"source {s.url!r} is listed twice")
            seen.add(s.url)
        return self


class Defaults(Model):
    schedule: str = DEFAULT_SCHEDULE
    timeout: float = Field(default=30.0, gt=0, le=300)
    concurrency: int = Field(default=32, ge=1, le=1000)
    per_host: int = Field(default=2, ge=1, le=16)
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
            raise ValueError(f"{v!r} is not an smtp:// or smtps:// URL. Use e.g. smtp://mail.example:587?starttls=1")
        try:
            parts.port  # noqa: B018 - raises on a bad port
        except ValueError:
            raise ValueError(f"{v!r} has an invalid port") from None
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
                raise ValueError(f"{a!r} is not an email address")
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
        tables = {t.id for t in self.registries}
        for i, v in enumerate(self.vendors):
            for j, c in enumerate(v.claims):
                if tables and c.registry not in tables:
                    raise _PathError(
                        ("vendors", i, "claims", j, "registry"),
                        f"{c.registry!r} is not one of the registries ({', '.join(sorted(tables))})",
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
    """A validation error found after parsing, that knows the path of the offending field."""

    def __init__(self, path: tuple[str | int, ...], message: str):
        super().__init__(message)
        self.path = path
        self.message = message


# --- loading ------------------------------------------------------------------------------------------


def load_registry(path: str | os.PathLike[str], environ: dict[str, str] | None = None) -> Registry:
    """Read and validate a sources file. Raises ConfigError with a message naming file and line/field."""
    p = Path(path)
    env = os.environ if environ is None else environ
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such file. Pass --sources PATH or set MONITOR_SOURCES.") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{p}: cannot be read ({e}).") from None
    try:
        try:
            data = yaml.load(text, Loader=_Loader)
        except yaml.YAMLError:
            data = yaml.load(text, Loader=yaml.SafeLoader)  # the pure-Python parser words errors better
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f":{mark.line + 1}" if mark else ""
        problem = e.problem or e.context or "invalid YAML"
        raise ConfigError(f"{p}{where}: YAML syntax error: {problem}. Fix the YAML at that line.") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{p}: YAML syntax error: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: expected a mapping with a `vendors:` list at the top.")
    root = _LazyNodes(text)
    data = _interpolate(p, root, data, (), env)
    _check_duplicate_ids(p, root, data)
    try:
        return Registry.model_validate(data)
    except ValidationError as e:
        raise ConfigError(_validation_message(p, root, e)) from None


_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _LazyNodes:
    """The YAML node tree (with line numbers), composed only when an error message needs a line."""

    def __init__(self, text: str):
        self.text = text
        self._node: yaml.Node | None = None

    def get(self) -> yaml.Node | None:
        if self._node is None:
            self._node = yaml.compose(self.text, Loader=_Loader)
        return self._node


def _interpolate(p: Path, root: _LazyNodes, value: Any, path: tuple[str | int, ...], env: Any) -> Any:
    if isinstance(value, dict):
        return {k: _interpolate(p, root, v, (*path, k), env) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(p, root, v, (*path, i), env) for i, v in enumerate(value)]
    if isinstance(value, str) and "${" in value:

        def sub(m: re.Match[str]) -> str:
            name = m.group(1)
            if name not in env:
                raise ConfigError(
                    f"{_where(p, root, path)}: {_dotted(path)}: environment variable {name} is not set. "
                    f"Export {name} or remove ${{{name}}}."
                )
            return str(env[name])

        return _ENV.sub(sub, value)
    return value


def _check_duplicate_ids(p: Path, root: _LazyNodes, data: dict[str, Any]) -> None:
    vendors = data.get("vendors")
    if not isinstance(vendors, list):
        return
    first: dict[str, int] = {}
    for i, v in enumerate(vendors):
        if isinstance(v, dict) and isinstance(v.get("id"), str):
            vid = v["id"]
            if vid in first:
                path = ("vendors", i, "id")
                raise ConfigError(
                    f"{_where(p, root, path)}: {_dotted(path)}: duplicate vendor id {vid!r} "
                    f"(first used by vendors[{first[vid]}]). Give each vendor its own id."
                )
            first[vid] = i


def _validation_message(p: Path, root: _LazyNodes, e: ValidationError) -> str:
    err = e.errors()[0]
    path = tuple(x for x in err["loc"] if not _is_union_tag(x))
    ctx_error = (err.get("ctx") or {}).get("error")
    if isinstance(ctx_error, _PathError):
        path, msg = ctx_error.path, ctx_error.message
    else:
        msg = _describe(err)
    more = len(e.errors()) - 1
    tail = f" ({more} more problem{'s' if more > 1 else ''} after this one)" if more else ""
    return f"{_where(p, root, path)}: {_dotted(path)}: {msg}{tail}"


def _is_union_tag(x: object) -> bool:
    return isinstance(x, str) and x in ("webhook", "email", "apprise", "str", "bool", "function-after")


def _describe(err: Any) -> str:
    kind = err["type"]
    value = err.get("input")
    msg = str(err["msg"])
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not a known field. Check the spelling against SPEC §1"
    if kind == "value_error":
        return msg.removeprefix("Value error, ")
    if kind == "literal_error":
        expected = msg.removeprefix("Input should be ")
        return f"{value!r} is not one of {expected}"
    if kind == "union_tag_invalid":
        return f"{(err.get('ctx') or {}).get('tag')!r} is not a channel type: use webhook, email or apprise"
    if kind == "union_tag_not_found":
        return "needs a `type` (webhook, email or apprise)"
    return f"{value!r}: {msg[0].lower() + msg[1:]}" if value is not None and not isinstance(value, dict) else msg


def _dotted(path: tuple[str | int, ...]) -> str:
    out = ""
    for x in path:
        if isinstance(x, int):
            out += f"[{x}]"
        else:
            out += ("." if out else "") + ("from" if x == "from_" else str(x))
    return out or "(top level)"


def _where(p: Path, root: _LazyNodes, path: tuple[str | int, ...]) -> str:
    line = _line_of(root.get(), path)
    return f"{p}:{line}" if line else str(p)


def _line_of(node: yaml.Node | None, path: tuple[str | int, ...]) -> int | None:
    """The 1-based line of the YAML node at `path`, or of its nearest existing parent."""
    best = node.start_mark.line + 1 if node is not None else None
    for key in path:
        if isinstance(node, yaml.MappingNode) and isinstance(key, str):
            key = "from" if key == "from_" else key
            match = next(((k, v) for k, v in node.value if getattr(k, "value", None) == key), None)
            if match is None:
                return best
            node = match[1]
            best = match[0].start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            best = node.start_mark.line + 1
        else:
            return best
    return best
