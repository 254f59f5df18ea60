"""Views of a loaded registry for people: the vendor table and where the published tables disagree.

`render_table(reg)` is what `monitor registry` prints. `find_conflicts(reg)` compares the claims of the
published tables field by field and returns one `Conflict` per vendor and field on which the tables
disagree with each other; `render_conflicts(conflicts)` prints them grouped by vendor
(`monitor registry --conflicts`). Nothing here reads files or the network.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .registry import Claim, Registry, Vendor

# A claim's value for one field: a vocabulary word (retention, training, stores), a bool
# (zdr_available) or a tuple of words (scope).
FieldValue = str | bool | tuple[str, ...]

# The claim fields compared between tables, in display order. `models` is not compared: two tables
# listing different models of a vendor do not disagree.
COMPARED_FIELDS: tuple[str, ...] = (
    "stores",
    "scope",
    "retention",
    "flagged_retention",
    "training",
    "zdr_available",
)


@dataclass(frozen=True)
class Conflict:
    """Published tables that state different values for one field of one vendor.

    `values` maps each table (registry id) that states the field to the distinct values it states, in
    the order of its claims: usually one, several when the table gives the vendor different values in
    different rows.
    """

    vendor_id: str
    vendor_name: str
    field: str
    values: dict[str, tuple[FieldValue, ...]]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form: `{vendor, name, field, values: {registry: [value, ...]}}`."""
        return {
            "vendor": self.vendor_id,
            "name": self.vendor_name,
            "field": self.field,
            "values": {reg: [_jsonable(v) for v in vals] for reg, vals in self.values.items()},
        }


def find_conflicts(reg: Registry) -> list[Conflict]:
    """Every vendor field on which two or more published tables state different values.

    A field counts only when at least two tables state it; a table that is silent on a field does not
    disagree. Vendors come in registry order, fields in `COMPARED_FIELDS` order, tables in the order
    of `registries:`.
    """
    order = _table_order(reg)
    conflicts: list[Conflict] = []
    for vendor in reg.vendors:
        for field in COMPARED_FIELDS:
            per_table = _values_by_table(vendor.claims, field)
            if len(per_table) < 2:
                continue
            distinct = {v for values in per_table.values() for v in values}
            if len(distinct) < 2:
                continue
            ordered = dict(sorted(per_table.items(), key=lambda item: order.get(item[0], len(order))))
            conflicts.append(Conflict(vendor.id, vendor.name, field, ordered))
    return conflicts


def render_conflicts(conflicts: Sequence[Conflict]) -> str:
    """The conflicts as plain text, one block per vendor, one line per field."""
    if not conflicts:
        return "The published tables agree on every vendor they share.\n"
    lines: list[str] = []
    vendors: list[str] = []
    for c in conflicts:
        if c.vendor_id not in vendors:
            if vendors:
                lines.append("")
            vendors.append(c.vendor_id)
            lines.append(f"{c.vendor_name} ({c.vendor_id})")
        stated = "; ".join(
            f"{reg} says {' / '.join(_fmt(v) for v in vals)}" for reg, vals in c.values.items()
        )
        lines.append(f"  {c.field}: {stated}")
    lines.append("")
    lines.append(f"{_count(len(conflicts), 'conflict')} in {_count(len(vendors), 'vendor')}.")
    return "\n".join(lines) + "\n"


def render_table(reg: Registry) -> str:
    """The registry as a plain-text table: one row per vendor, with what `expected` says."""
    header = ("ID", "NAME", "RETENTION", "TRAINING", "SOURCES", "TABLES")
    rows = [header]
    order = _table_order(reg)
    for v in reg.vendors:
        rows.append(
            (
                v.id,
                v.name,
                _retention_cell(v),
                v.expected.training or "-",
                str(len(v.sources)),
                ", ".join(_tables_of(v, order)) or "-",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    out = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[-1]
        for row in rows
    ]
    out = [line.rstrip() for line in out]
    n_sources = sum(len(v.sources) for v in reg.vendors)
    n_vendors = len(reg.vendors)
    n_tables = len(reg.registries)
    out.append("")
    out.append(
        f"{_count(n_vendors, 'vendor')}, {_count(n_sources, 'source')}, "
        f"{_count(n_tables, 'published table')}. "
        "RETENTION and TRAINING are the expected values; '-' is not checked."
    )
    return "\n".join(out) + "\n"


# --- helpers ----------------------------------------------------------------------------------------


def _table_order(reg: Registry) -> dict[str, int]:
    return {t.id: i for i, t in enumerate(reg.registries)}


def _tables_of(vendor: Vendor, order: dict[str, int]) -> list[str]:
    seen: list[str] = []
    for c in vendor.claims:
        if c.registry not in seen:
            seen.append(c.registry)
    return sorted(seen, key=lambda r: order.get(r, len(order)))


def _values_by_table(claims: Iterable[Claim], field: str) -> dict[str, tuple[FieldValue, ...]]:
    found: dict[str, list[FieldValue]] = {}
    for claim in claims:
        raw = getattr(claim, field)
        if raw is None:
            continue
        value: FieldValue = tuple(raw) if isinstance(raw, list) else raw
        values = found.setdefault(claim.registry, [])
        if value not in values:
            values.append(value)
    return {reg: tuple(values) for reg, values in found.items()}


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _retention_cell(v: Vendor) -> str:
    e = v.expected
    if e.retention is None and e.flagged_retention is None:
        return "-"
    text = e.retention or "-"
    if e.flagged_retention:
        text += f" (flagged {e.flagged_retention})"
    return text


def _fmt(value: FieldValue) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _jsonable(value: FieldValue) -> Any:
    return list(value) if isinstance(value, tuple) else value
