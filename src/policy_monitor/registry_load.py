"""Reading sources.yaml: YAML (line numbers kept for messages), `${NAME}` from the environment, duplicate
keys and ids, then the models of `registry`; every problem becomes one `ConfigError` naming the file and
the line or field path, with a remedy. `registry.load_registry` is the public entry point."""

from __future__ import annotations

import difflib
import os
import re
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

import yaml
from pydantic import (
    BaseModel,
    ValidationError,
)

from .errors import ConfigError
from .registry import (
    _ENV,
    AppriseChannel,
    Claim,
    EmailChannel,
    PublishedTable,
    Registry,
    Source,
    Vendor,
    WebhookChannel,
    _did_you_mean,
    _PathError,
)

# --- loading ------------------------------------------------------------------------------------------


def load(path: str | os.PathLike[str], environ: dict[str, str] | None = None) -> Registry:
    """Read and validate a sources file. Raises ConfigError with a message naming file and line/field."""
    p = Path(path)
    env = os.environ if environ is None else environ
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such file. Pass --sources PATH or set MONITOR_SOURCES.") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{p}: not UTF-8 text ({e.reason} at byte {e.start}). Save the file as UTF-8.") from None
    except OSError as e:
        raise ConfigError(f"{p}: cannot be read ({e.strerror or e}). Check the path and its permissions.") from None
    try:
        try:
            data = yaml.load(text, Loader=_Loader)
        except yaml.YAMLError:
            data = yaml.load(text, Loader=_PyLoader)  # the pure-Python parser words errors better
    except _DuplicateKey as e:
        keys = _path_of_key(yaml.compose(text, Loader=_Loader), e.line)
        raise ConfigError(
            f"{p}:{e.line}: {_dotted(keys[:-1]) + ': ' if keys[:-1] else ''}`{e.key}` is given twice "
            f"(first at line {e.first}). Keep one of them, or merge them."
        ) from None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f":{mark.line + 1}" if mark else ""
        problem = e.problem or e.context or "invalid YAML"
        remedy = "Indent with spaces: YAML does not allow tabs." if "'\\t'" in problem else "Fix the YAML at that line."
        raise ConfigError(f"{p}{where}: YAML syntax error: {problem}. {remedy}") from None
    except yaml.YAMLError as e:
        raise ConfigError(_sentence(f"{p}: YAML syntax error: {e}".replace("\n", " "))) from None
    if data is None:
        raise ConfigError(f"{p}: the file is empty. List the vendors to watch under `vendors:`.")
    if not isinstance(data, dict):
        raise ConfigError(
            f"{p}: the file is not a mapping of fields. Start it with `vendors:` and list the vendors under it."
        )
    root = _LazyNodes(text)
    data = _interpolate(p, root, data, (), env)
    _check_duplicate_ids(p, root, data)
    try:
        return Registry.model_validate(data)
    except ValidationError as e:
        raise ConfigError(_validation_message(p, root, e)) from None


class _DuplicateKey(Exception):
    def __init__(self, key: str, first: int, line: int):
        super().__init__(key)
        self.key, self.first, self.line = key, first, line


class _UniqueKeys(yaml.constructor.SafeConstructor):
    """Refuses a mapping that gives a key twice (YAML loaders keep the last one without a word)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[str, int] = {}
        for key, _ in node.value:
            if isinstance(key, yaml.ScalarNode) and key.tag == "tag:yaml.org,2002:str":
                line = key.start_mark.line + 1
                if key.value in seen:
                    raise _DuplicateKey(key.value, seen[key.value], line)
                seen[key.value] = line
        return super().construct_mapping(node, deep=deep)


_CLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_CLoader, _UniqueKeys):  # type: ignore[misc]
    pass


class _PyLoader(yaml.SafeLoader, _UniqueKeys):
    pass


def _path_of_key(node: yaml.Node | None, line: int) -> tuple[str | int, ...]:
    """The path of the mapping key on `line` (the last one there), () if none."""
    found: tuple[str | int, ...] = ()
    stack: list[tuple[yaml.Node, tuple[str | int, ...]]] = [(node, ())] if node is not None else []
    while stack:
        n, path = stack.pop()
        if isinstance(n, yaml.MappingNode):
            for k, v in n.value:
                here = (*path, str(k.value))
                if k.start_mark.line + 1 == line:
                    found = here
                stack.append((v, here))
        elif isinstance(n, yaml.SequenceNode):
            stack.extend((v, (*path, i)) for i, v in enumerate(n.value))
    return found


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
                    f"{_where(p, root, path)}: {_dotted(path)}: duplicate vendor id {vid!r} (first used by "
                    f"vendors[{first[vid]}], line {_line_of(root.get(), ('vendors', first[vid], 'id'))}). "
                    "Give each vendor its own id."
                )
            first[vid] = i


# --- error messages -----------------------------------------------------------------------------------

# What to write when a required field is missing, by (model, field as written in the file).
_REQUIRED: dict[tuple[type[BaseModel], str], str] = {
    (Registry, "vendors"): "List the vendors to watch under it, e.g. vendors: [{id: acme, name: Acme AI, "
    "sources: [{url: https://acme.example/privacy}]}].",
    (Vendor, "id"): "Give the vendor a unique id of lower-case letters, digits and '-', e.g. id: acme.",
    (Vendor, "name"): "Give the vendor's name as people write it, e.g. name: Acme AI.",
    (Source, "url"): "Give the page's address, e.g. url: https://vendor.example/privacy.",
    (Claim, "registry"): "Name the published table the claim comes from: an id declared under `registries:`.",
    (PublishedTable, "id"): "Give the table a short id, e.g. id: aihubmix.",
    (WebhookChannel, "url"): "Give the address alerts are posted to, e.g. url: https://hooks.example/policy.",
    (EmailChannel, "smtp"): "Give the mail server, e.g. smtp: smtp://mail.example:587?starttls=1.",
    (EmailChannel, "from"): "Give the sender's address, e.g. from: monitor@example.org.",
    (EmailChannel, "to"): "Give the recipients, e.g. to: [privacy@example.org].",
    (AppriseChannel, "urls"): "Give one or more Apprise URLs, e.g. urls: [${APPRISE_URL}].",
}
_UNION_TAGS = frozenset({"webhook", "email", "apprise", "str", "bool", "function-after"})
_BOUNDS = {"gt": "greater than", "ge": "of at least", "lt": "less than", "le": "of at most"}


@dataclass
class _Problem:
    line: int | None
    unknown_field: bool  # a misspelt key usually explains the other problems of its mapping: shown first
    text: str  # "path: problem. Remedy."


def _validation_message(p: Path, root: _LazyNodes, e: ValidationError) -> str:
    errors = e.errors()
    node = root.get()
    # A missing field next to an unknown key that is a close match of it is the same typo: report it once.
    missing = {tuple(err["loc"]) for err in errors if err["type"] == "missing"}
    explained = set()
    for err in errors:
        loc = tuple(err["loc"])
        if err["type"] == "extra_forbidden" and isinstance(loc[-1], str):
            guess = _close_field(loc[:-1], loc[-1])
            if guess and (*loc[:-1], guess) in missing:
                explained.add((*loc[:-1], guess))
    problems = [_problem(node, err) for err in errors if tuple(err["loc"]) not in explained]
    problems.sort(key=lambda pb: (pb.line or 0, not pb.unknown_field))
    first, more = problems[0], len(problems) - 1
    where = f"{p}:{first.line}" if first.line else str(p)
    tail = f" The file has {more} more problem{'s' if more > 1 else ''}." if more else ""
    return f"{where}: {first.text}{tail}".replace("\n", " ")


def _problem(node: yaml.Node | None, err: Any) -> _Problem:
    loc = tuple(err["loc"])
    path = tuple(x for x in loc if not _is_union_tag(x))
    ctx_error = (err.get("ctx") or {}).get("error")
    kind = err["type"]
    if isinstance(ctx_error, _PathError):
        path = (*path, *ctx_error.path)
        text = _unsubstituted(node, path, err.get("input"), _sentence(ctx_error.message))
        return _Problem(_line_of(node, path), False, f"{_dotted(path)}: {text}")
    if kind in ("missing", "extra_forbidden", "union_tag_not_found") or _is_empty(err):
        field = path[-1] if kind != "union_tag_not_found" else "type"
        parent = path[:-1] if kind != "union_tag_not_found" else path
        text = _field_problem(kind, loc, field)
        line = _line_of(node, path if kind == "extra_forbidden" or _is_empty(err) else parent)
        prefix = f"{_dotted(parent)}: " if parent else ""
        return _Problem(line, kind == "extra_forbidden", prefix + text)
    if kind == "union_tag_invalid":
        path = (*path, "type")
    shown = _shown(node, loc, path, err.get("input"))
    text = _unsubstituted(node, path, err.get("input"), _value_problem(node, kind, path, shown, err))
    return _Problem(_line_of(node, path), False, f"{_dotted(path)}: {text}")


def _unsubstituted(node: yaml.Node | None, path: tuple[str | int, ...], value: object, text: str) -> str:
    """A message that quotes a value written with `${NAME}` quotes it as written: the environment's value
    may be a secret."""
    written = _written(node, path)
    if isinstance(value, str) and written is not None and "${" in written:
        text = text.replace(repr(value), repr(written)).replace(value, written)
    return text


def _written(node: yaml.Node | None, path: tuple[str | int, ...]) -> str | None:
    """The scalar at `path` as written in the file (YAML quotes removed), if there is one."""
    target = _node_at(node, path)
    return target.value if isinstance(target, yaml.ScalarNode) else None


def _is_empty(err: Any) -> bool:
    """`key:` with nothing after it (YAML null) where a value is needed."""
    return err.get("input", "") is None and err["type"] not in ("missing", "value_error")


def _field_problem(kind: str, loc: tuple[Any, ...], field: Any) -> str:
    """Problems whose subject is a field: unknown, missing or empty."""
    name = "from" if field == "from_" else str(field)
    if kind == "extra_forbidden":
        model = _model_at(loc[:-1])
        hint = _did_you_mean(name, _fields_of(model)) if model else ""
        if not hint and model:
            home = _field_home(model, name)
            hint = f" Did you mean to put it under `{home}:`?" if home else ""
        if not hint and model:
            hint = f" Known fields here: {', '.join(_fields_of(model))}."
        return f"`{name}` is not a known field.{hint}"
    if kind == "union_tag_not_found":
        return "`type` is required. Add type: webhook, type: email or type: apprise."
    model = _model_at(loc[:-1])
    remedy = _REQUIRED.get((model, name)) if model else None
    if kind == "missing":
        return f"`{name}` is required. {remedy or 'Add it.'}"
    if isinstance(field, int):
        return f"entry {field} is empty. Give a value or remove the `-` line."
    return f"`{name}` is empty. {remedy or 'Give a value or remove the line.'}"


def _value_problem(node: yaml.Node | None, kind: str, path: tuple[str | int, ...], shown: str, err: Any) -> str:
    """Problems whose subject is the value written in the file."""
    value = err.get("input")
    ctx = err.get("ctx") or {}
    key = next((x for x in reversed(path) if isinstance(x, str)), "value")
    if kind == "value_error":
        return _sentence(str(err["msg"]).removeprefix("Value error, "))
    if kind == "literal_error":
        expected = str(err["msg"]).removeprefix("Input should be ")
        options = re.findall(r"'([^']*)'", expected)
        if path == ("version",):
            return f"{shown} is not a version this program reads. Write version: 1."
        hint = _did_you_mean(value, options, quote=repr) if isinstance(value, str) else ""
        return f"{shown} is not one of {expected}.{hint or ' Use one of these.'}"
    if kind == "union_tag_invalid":
        return f"{ctx.get('tag')!r} is not a channel type. Use webhook, email or apprise."
    if kind in ("bool_type", "bool_parsing"):
        return f"{shown} is not true or false. Write true or false."
    if kind in ("int_type", "int_parsing", "float_type", "float_parsing"):
        return f"{shown} is not a number. Write a number, e.g. {key}: 30."
    if kind == "int_from_float":
        return f"{shown} is not a whole number. Write a whole number, e.g. {key}: 3."
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        op = next(k for k in _BOUNDS if k in ctx)
        return f"{shown} is out of range. Use a number {_BOUNDS[op]} {ctx[op]:g}."
    if kind == "string_type":
        if isinstance(value, bool | int | float):
            what = "true or false" if isinstance(value, bool) else "a number"
            quoted = "Put it in quotes." if _is_secret(err["loc"]) else f'Put it in quotes: {key}: "{shown}".'
            return f"{shown} is read as {what}, not text. {quoted}"
        return f"{_kind_of(value)} is given where text is expected. Write a single value."
    if kind == "list_type":
        if isinstance(value, dict):
            return f"a mapping is given where a list is expected. Put `- ` before each entry of {key}."
        item = _written(node, path) or shown
        return f"{shown} is not a list. Write it as a list, e.g. {key}: [{item}]."
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return (
            f"{_kind_of(value)} is given where a mapping of fields is expected. "
            "Write its fields under it, one `name: value` per line."
        )
    if kind == "too_short":
        return f"the list is empty. Give at least {ctx.get('min_length', 1)} entry."
    if kind == "invalid_key":
        return f"{shown} is not a field name. Field names are words, e.g. name."
    if kind.startswith("date_"):
        return f"{shown} is not a date. Write YYYY-MM-DD, e.g. {key}: 2026-06-01."
    msg = str(err["msg"])
    return _sentence(f"{shown}: {msg[0].lower()}{msg[1:]}")


def _sentence(text: str) -> str:
    return text if text.endswith((".", "?")) else text + "."


def _kind_of(value: object) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return f"the number {value}"
    return repr(value)


def _shown(node: yaml.Node | None, loc: tuple[Any, ...], path: tuple[str | int, ...], value: object) -> str:
    """The value as the message shows it: a string quoted, anything else as written in the file; a secret
    never, and a `${NAME}` reference rather than what it was replaced by."""
    if _is_secret(loc):
        return "the value"
    written = _written(node, path)
    if isinstance(written, str) and "${" in written:
        return repr(written)
    if isinstance(value, str):
        return repr(value)
    if isinstance(written, str):
        return written
    return _kind_of(value)


def _is_secret(loc: tuple[Any, ...]) -> bool:
    for cut in (1, 2):  # the field itself, or an entry of a list field
        if len(loc) > cut and isinstance(loc[-cut], str):
            model = _model_at(loc[:-cut])
            field = model.model_fields.get(loc[-cut]) if model else None
            return field is not None and "SecretStr" in str(field.annotation)
    return False


def _is_union_tag(x: object) -> bool:
    return isinstance(x, str) and (x in _UNION_TAGS or x.startswith("function-"))


# --- the models behind a path, for field names in messages -------------------------------------------


def _strip(t: Any) -> Any:
    """X from Annotated[X, ...], X | None."""
    while True:
        if get_origin(t) is Annotated:
            t = get_args(t)[0]
        elif get_origin(t) in (Union, types.UnionType) and type(None) in get_args(t):
            rest = [a for a in get_args(t) if a is not type(None)]
            t = rest[0] if len(rest) == 1 else Union[tuple(rest)]  # noqa: UP007
        else:
            return t


def _is_model(t: Any) -> bool:
    return isinstance(t, type) and issubclass(t, BaseModel)


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model that validates the mapping at `loc` (an error location, union tags included)."""
    t: Any = Registry
    for x in loc:
        t = _strip(t)
        if isinstance(x, int):
            if get_origin(t) is not list:
                return None
            t = get_args(t)[0]
        elif _is_model(t):
            field = next((f for n, f in t.model_fields.items() if x in (n, f.alias)), None)
            if field is None:
                if _is_union_tag(x):
                    continue
                return None
            t = field.annotation
        elif get_origin(t) in (Union, types.UnionType):
            t = next((m for m in get_args(t) if _is_model(m) and _tag(m) == x), None)
            if t is None:
                return None
    t = _strip(t)
    return t if _is_model(t) else None


def _tag(model: type[BaseModel]) -> str | None:
    field = model.model_fields.get("type")
    args = get_args(field.annotation) if field else ()
    return str(args[0]) if args else None


def _fields_of(model: type[BaseModel]) -> list[str]:
    return [f.alias or n for n, f in model.model_fields.items()]


def _field_home(model: type[BaseModel], name: str) -> str | None:
    """The field of `model` whose own fields include `name` (`retention` lives under `expected`)."""
    for n, f in model.model_fields.items():
        t = _strip(f.annotation)
        if get_origin(t) is list:
            t = _strip(get_args(t)[0])
        if _is_model(t) and name in _fields_of(t):
            return f.alias or n
    return None


def _close_field(loc: tuple[Any, ...], name: str) -> str | None:
    model = _model_at(loc)
    match = difflib.get_close_matches(name, _fields_of(model), n=1, cutoff=0.75) if model else []
    return match[0] if match else None


# --- lines --------------------------------------------------------------------------------------------


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


def _walk(node: yaml.Node | None, path: tuple[str | int, ...]) -> tuple[yaml.Node | None, int | None, bool]:
    """(the node at `path` or its nearest existing parent, the 1-based line of it (of its key, for a
    mapping value), whether the whole path exists)."""
    best = node.start_mark.line + 1 if node is not None else None
    for key in path:
        if isinstance(node, yaml.MappingNode) and isinstance(key, str):
            key = "from" if key == "from_" else key
            match = next(((k, v) for k, v in node.value if getattr(k, "value", None) == key), None)
            if match is None:
                return node, best, False
            node = match[1]
            best = match[0].start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            best = node.start_mark.line + 1
        else:
            return node, best, False
    return node, best, True


def _line_of(node: yaml.Node | None, path: tuple[str | int, ...]) -> int | None:
    """The 1-based line of the YAML node at `path`, or of its nearest existing parent."""
    return _walk(node, path)[1]


def _node_at(node: yaml.Node | None, path: tuple[str | int, ...]) -> yaml.Node | None:
    found, _, exact = _walk(node, path)
    return found if exact else None
