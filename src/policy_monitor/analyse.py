"""Fetched body -> policy text and facts: normalise, then extract. Pure and picklable, so a run can do it
in worker processes while the fetches go on."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from .decoding import text_of

if TYPE_CHECKING:
    from .normalize import Page

# The reading code (selectolax, the facts rules) is imported where a page is read: in the worker processes,
# which preload it (`READERS`), not in the process that fetches and stores.
READERS = ("policy_monitor.normalize", "policy_monitor.facts")


@dataclass(frozen=True)
class Analysis:
    page: Page
    summary: dict[str, Any]
    evidence: dict[str, str]
    facts: list[dict[str, str]]
    extractor_version: str
    facts_read: bool = True  # False when the text is the current snapshot's: nothing new to read


@dataclass(frozen=True)
class PageRules:
    """The per-source normalisation rules of sources.yaml."""

    select: str | None = None
    remove: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()


@dataclass(frozen=True)
class PackedPage:
    """A fetched page on its way to be read: its body zlib-compressed (a fifth of the bytes, and the form it
    is stored in), so the pages waiting for a worker in a large run hold little memory."""

    raw: bytes
    charset: str | None  # as the fetch decoded it
    content_type: str | None

    @classmethod
    def of(cls, body: bytes, charset: str | None, content_type: str | None) -> PackedPage:
        return cls(zlib.compress(body, 1), charset, content_type)

    def text(self) -> str:
        return text_of(zlib.decompress(self.raw), self.content_type, self.charset) or ""


def analyse_packed(page: PackedPage, rules: PageRules, current_key: str | None = None) -> Analysis:
    return analyse(page.text(), page.content_type, rules, current_key)


def analyse(text: str, content_type: str | None, rules: PageRules, current_key: str | None = None) -> Analysis:
    """Normalise the page; read its facts unless its canonical text is the current snapshot's (`current_key`):
    most pages change bytes on every load (nonces, tokens) but not their policy."""
    from .facts import EXTRACTOR_VERSION
    from .normalize import normalize

    page = normalize(text, content_type, select=rules.select, remove=rules.remove, ignore=rules.ignore)
    page = replace(page, canonical="")  # compared through `key`; not shipped back from a worker process
    if current_key is not None and page.key == current_key:
        return Analysis(page, {}, {}, [], EXTRACTOR_VERSION, facts_read=False)
    return Analysis(page=page, extractor_version=EXTRACTOR_VERSION, **facts_of(page.text))


def facts_of(text: str) -> dict[str, Any]:
    """The summary, evidence and facts of a policy text, as plain data for storage."""
    from .facts import extract

    ex = extract(text)
    return {
        "summary": ex.summary.to_dict(),
        "evidence": dict(ex.evidence),
        "facts": [f.to_dict() for f in ex.facts],
    }
