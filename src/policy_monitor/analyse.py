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
    extractor_version: str  # of the extractor that read the facts ("" when none were read)
    facts_read: bool = True  # False when the text is the current snapshot's: nothing new to read
    raw: bytes | None = None  # the body zlib-compressed, as stored (`analyse_fetched` of new text)
    # the current snapshot's text, served as a real page (the guard accepts it): the check is unchanged, and
    # the page comes back from `analyse_fetched` without its text, which nobody needs
    holds_current: bool = False


@dataclass(frozen=True)
class PageRules:
    """The per-source normalisation rules of sources.yaml."""

    select: str | None = None
    remove: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()


@dataclass(frozen=True)
class FetchedPage:
    """A fetched body on its way to be read (in a worker process, or a thread)."""

    body: bytes
    charset: str | None  # as the fetch decoded it
    content_type: str | None
    status: int = 200

    def text(self) -> str:
        return text_of(self.body, self.content_type, self.charset) or ""


def analyse_fetched(page: FetchedPage, rules: PageRules, current_key: str | None = None) -> Analysis:
    """`analyse()` of a fetched body, with what the fetching process would otherwise do itself: a page
    holding new text comes back with its body compressed as it is stored (`Analysis.raw`); a page holding
    the current text is judged by the guard, and if it passes comes back without its text
    (`Analysis.holds_current`), so that most unchanged checks cost the fetching process next to nothing."""
    analysis = analyse(page.text(), page.content_type, rules, current_key)
    if analysis.facts_read:
        return replace(analysis, raw=zlib.compress(page.body, 1))
    from .guard import judge

    if judge(analysis.page, status=page.status, previous_chars=len(analysis.page.text)) is not None:
        return analysis  # recorded as a failed check, with the guard's reason and the page's text
    return replace(analysis, page=replace(analysis.page, text="", markdown=""), holds_current=True)


def analyse(text: str, content_type: str | None, rules: PageRules, current_key: str | None = None) -> Analysis:
    """Normalise the page; read its facts unless its canonical text is the current snapshot's (`current_key`):
    most pages change bytes on every load (nonces, tokens) but not their policy. The extractor is imported
    only to read facts: a pass whose pages all hold their current text never loads it."""
    from .normalize import normalize

    page = normalize(text, content_type, select=rules.select, remove=rules.remove, ignore=rules.ignore)
    page = replace(page, canonical="")  # compared through `key`; not shipped back from a worker process
    unread = Analysis(page, {}, {}, [], "", facts_read=False)
    if current_key is not None and page.key == current_key:
        return unread
    return with_facts(unread)


def with_facts(analysis: Analysis) -> Analysis:
    """The analysis with the facts of its text read."""
    from .facts import EXTRACTOR_VERSION

    return replace(analysis, facts_read=True, extractor_version=EXTRACTOR_VERSION, **facts_of(analysis.page.text))


def facts_of(text: str) -> dict[str, Any]:
    """The summary, evidence and facts of a policy text, as plain data for storage."""
    from .facts import extract

    ex = extract(text)
    return {
        "summary": ex.summary.to_dict(),
        "evidence": dict(ex.evidence),
        "facts": [f.to_dict() for f in ex.facts],
    }
