"""`monitor extract PAGE`: the facts of one file or URL, without the database."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from .analyse import PageRules, analyse, facts_of
from .errors import ConfigError
from .fetch import Fetcher, FetchRequest, FetchSettings

_TYPES = {
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".txt": "text/plain",
    ".html": "text/html",
    ".htm": "text/html",
}


def extract_page(page: str, select: str | None = None) -> dict[str, Any]:
    """Summary and facts of a page: Markdown and text files are read as they are (evidence verbatim from
    the file), HTML files and URLs are normalised to their policy text first."""
    if page.startswith(("http://", "https://")):
        result = asyncio.run(_fetch(page))
        if result.outcome != "ok" or result.text is None:
            raise ConfigError(f"{page}: could not be fetched: {result.reason or 'no text in the response'}.")
        return _analysed(result.text, result.content_type, select)
    path = Path(page)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        raise ConfigError(f"{page}: cannot be read ({e.strerror}). Give a file path or an http(s) URL.") from None
    kind = _TYPES.get(path.suffix.lower())
    if kind is None:
        kind = "text/html" if "<html" in text[:2000].lower() or "<body" in text[:5000].lower() else "text/plain"
    if kind in ("text/markdown", "text/plain") and select is None:
        return facts_of(text)
    return _analysed(text, kind, select)


def _analysed(text: str, content_type: str | None, select: str | None) -> dict[str, Any]:
    a = analyse(text, content_type, PageRules(select=select))
    return {"summary": a.summary, "facts": a.facts, "evidence": a.evidence}


async def _fetch(url: str) -> Any:
    async with Fetcher(FetchSettings()) as f:
        return await f.fetch(FetchRequest(url=url))
