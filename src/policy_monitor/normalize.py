"""Fetched page -> the policy text, a Markdown rendering for people, and a canonical comparison form.

A page is reduced in three steps:

1. **Cleaning** (HTML only): the source's `remove` selectors are dropped, then the source's `select`
   (or, by default, `main` / `[role=main]` / `article`, else `body`) is taken, without the parts of a
   page that are not policy text: scripts, styles, navigation, headers and footers, asides, forms and
   buttons, small hidden elements, cookie/consent banners.
2. **Text**: one block (paragraph, heading, list item, table row) per line, whitespace collapsed,
   invisible characters removed, inline tags merged so sentences stay whole, link targets left out.
   Characters are otherwise kept as on the page, so a sentence taken from it is verbatim evidence.
3. **Canonical form**: what two loads are compared on. Folds what varies between loads of an unchanged
   policy: Unicode compatibility forms, typographic quotes and dashes, relative times ("Updated 3 days
   ago"), the same date written another way, list markers, interface labels ("Expand all"), and the
   source's `ignore` patterns (`canonical.py`). `Page.key` is its SHA-256.

The Markdown for people is written from the same blocks in the same walk over the tree. (markdownify,
run on the cleaned tree, took about 12 ms on a 40 KB page: three times everything else here together,
paid on every page a cold run reads; the blocks already know what is a heading, a list item or a row.)
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from selectolax.lexbor import LexborHTMLParser, LexborNode

from policy_monitor.canonical import canonical_form, canonicalize
from policy_monitor.characters import clean_line, collapse

__all__ = ["Page", "normalize", "canonicalize"]


@dataclass(frozen=True)
class Page:
    """A normalised page. `text` is stored, diffed and read for facts; `key` decides "same policy"."""

    text: str
    markdown: str
    canonical: str
    key: str
    title: str | None


def normalize(
    body: str,
    content_type: str | None,
    *,
    select: str | None = None,
    remove: Sequence[str] = (),
    ignore: Sequence[str] = (),
) -> Page:
    """Normalise a fetched body (HTML, Markdown or plain text; sniffed when `content_type` is None)."""
    kind = _kind(body, content_type)
    # Whether every line is already collapsed (`collapse(line) == line`), so that the canonical form
    # need not collapse its lines again: true of the HTML walk's lines but for a table row with an
    # empty cell, not checked for Markdown and plain text.
    collapsed = False
    if kind == "html":
        lines, markdown, title, collapsed = _from_html(body, select=select, remove=remove)
    elif kind == "markdown":
        lines, title = _from_markdown(body), None
        markdown = body.strip()
    else:
        lines, title = _from_plain(body), None
        markdown = "\n\n".join(lines)
    lines = [line for line in lines if not _is_counter_line(line)]
    text = "\n".join(lines)
    canonical = canonical_form(text, ignore, lines if collapsed else None)
    return Page(
        text=text,
        markdown=markdown,
        canonical=canonical,
        key=hashlib.sha256(canonical.encode()).hexdigest(),
        title=title,
    )


# --------------------------------------------------------------------------------------------------
# Content type


def _kind(body: str, content_type: str | None) -> str:
    ct = (content_type or "").split(";")[0].strip().lower()
    head = body.lstrip()[:512].lower()
    looks_html = head.startswith(("<!doctype html", "<html", "<?xml")) or bool(
        re.search(r"<(html|head|body|main|article|div|p|h[1-6]|ul|table)\b", head)
    )
    if ct in ("text/html", "application/xhtml+xml") or (ct.endswith("+xml") and looks_html):
        return "html"
    if ct in ("text/markdown", "text/x-markdown"):
        return "markdown"
    if ct == "text/plain" or ct.startswith("text/"):
        return "html" if head.startswith(("<!doctype html", "<html")) else "plain"
    # No (or an unhelpful) content type: sniff.
    if looks_html:
        return "html"
    if re.search(r"(?m)^(#{1,6}\s|\s*[-*+]\s+\S|\|.*\|\s*$)|\]\([^)]*\)|\*\*\S", body[:4096]):
        return "markdown"
    return "plain"


# --------------------------------------------------------------------------------------------------
# HTML

_SKIP_TAGS = frozenset(
    "head title meta link script style template noscript iframe frame frameset object embed svg math "
    "canvas img picture video audio source track map area nav header footer aside button input select "
    "option optgroup textarea datalist dialog".split()
)
_BLOCK_TAGS = frozenset(
    "address article blockquote body caption center dd details div dl dt fieldset figcaption figure "
    "h1 h2 h3 h4 h5 h6 hgroup hr html legend li main menu ol p pre section summary table tbody tfoot "
    "thead tr td th ul form".split()
)
# Removed from the chosen content before the text is read (besides the tags in _SKIP_TAGS, which the
# text walk never enters). Hidden elements and banners are removed only when small: a long hidden
# element is collapsed content (an accordion answer), a long "consent" section is policy text.
_CHROME_SELECTORS = (
    "[role=navigation], [role=banner], [role=contentinfo], [role=complementary], [role=search], "
    "[role=dialog], [role=alertdialog]"
)
_HIDDEN_SELECTORS = (
    "[hidden], [aria-hidden=true], [style*='display:none' i], [style*='display: none' i], "
    "[style*='visibility:hidden' i], [style*='visibility: hidden' i]"
)
_BANNER_SELECTORS = ", ".join(
    f"[{attr}*={word} i]"
    for attr in ("id", "class")
    for word in ("cookie", "consent", "onetrust", "gdpr", "cookiebot", "didomi", "usercentrics", "banner")
)
# A consent manager's own names are enough; "cookie", "consent", "gdpr" or "banner" alone also name
# policy sections ("consent-section"), so they count only with a banner-like word or a button.
_CMP_NAMES = re.compile(
    r"(?i)onetrust|cookiebot|didomi|usercentrics|truste|(?:^|\s)(?:ot|cc|cmp|qc-cmp2?)[-_]"
)
_CONSENT_NAMES = re.compile(r"(?i)cookie|consent|gdpr|banner")
_BANNER_WORDS = re.compile(
    r"(?i)banner|[-_](?:bar|notice|popup|pop-up|modal|dialog|overlay|sdk|prompt|toast|alert|wall)(?:[-_\s]|$)"
)
_SMALL_HIDDEN = 280  # characters: hidden elements up to this size are interface text, not content
_SMALL_BANNER = 1500
_SMALL_FORM = 1000


def _from_html(body: str, *, select: str | None, remove: Sequence[str]) -> tuple[list[str], str, str | None, bool]:
    tree = LexborHTMLParser(body)
    title_node = tree.css_first("title")
    title = clean_line(title_node.text(deep=True)) if title_node is not None else None
    _decompose([node for selector in remove for node in tree.css(selector)])
    roots = _roots(tree, select)
    for root in roots:
        _strip_chrome(root)
    out = _Lines()
    for root in roots:
        _walk(root, out)
        out.newline()
    if not title:
        h1 = tree.css_first("h1")
        title = clean_line(h1.text(deep=True)) if h1 is not None else None
    return out.lines, _render_markdown(out.md), title or None, not out.ragged


def _roots(tree: LexborHTMLParser, select: str | None) -> list[LexborNode]:
    if select:
        return _outermost(tree.css(select))
    for selector in ("main", "[role=main]", "article"):
        found = _outermost(tree.css(selector))
        if found:
            return found
    body = tree.body or tree.root
    return [body] if body is not None else []


def _outermost(nodes: list[LexborNode]) -> list[LexborNode]:
    """Matches that are not inside another match (nested `main`s or `article`s are read once)."""
    kept: list[LexborNode] = []
    for node in nodes:
        parent = node.parent
        inside = False
        while parent is not None:
            if any(parent.mem_id == k.mem_id for k in kept):
                inside = True
                break
            parent = parent.parent
        if not inside:
            kept.append(node)
    return kept


def _strip_chrome(root: LexborNode) -> None:
    doomed: list[LexborNode] = []
    # Every chrome selector needs a role attribute: one selector finds whether any element has one in a
    # third of the time of the seven (and most content has none).
    if root.css_first("[role]") is not None:
        doomed += [n for n in root.css(_CHROME_SELECTORS) if n.mem_id != root.mem_id]
    for node in root.css(_HIDDEN_SELECTORS):
        if node.mem_id != root.mem_id and len(node.text(deep=True)) <= _SMALL_HIDDEN:
            doomed.append(node)
    for node in root.css(_BANNER_SELECTORS):
        if node.mem_id == root.mem_id:
            continue
        names = f"{node.attributes.get('id') or ''} {node.attributes.get('class') or ''}"
        size = len(node.text(deep=True))
        if size > _SMALL_BANNER:
            continue
        if (
            _CMP_NAMES.search(names)
            or (_CONSENT_NAMES.search(names) and _BANNER_WORDS.search(names))
            or (_CONSENT_NAMES.search(names) and size <= 600 and node.css_first("button") is not None)
        ):
            doomed.append(node)
    for node in root.css("form"):
        if node.mem_id != root.mem_id and len(node.text(deep=True)) <= _SMALL_FORM:
            doomed.append(node)
    _decompose(doomed)


def _decompose(nodes: list[LexborNode]) -> None:
    """Remove nodes, outermost only: a node inside a removed one is freed with it and must not be
    touched again, so what to remove is decided before anything is removed."""
    ids = {n.mem_id for n in nodes}
    outermost: dict[int, LexborNode] = {}
    for node in nodes:
        parent = node.parent
        while parent is not None and parent.mem_id not in ids:
            parent = parent.parent
        if parent is None:
            outermost[node.mem_id] = node
    for node in outermost.values():
        node.decompose()


class _Lines:
    """Accumulates inline text into lines; a block boundary ends the current line.

    The Markdown rendering is built alongside (`md`, a list of (kind, markdown) blocks), in the same
    walk: converting the cleaned HTML separately would cost several times the whole normalisation.
    """

    __slots__ = ("lines", "md", "buf", "mbuf", "prefix", "mprefix", "kind", "ragged")

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.md: list[tuple[str, str]] = []
        self.buf: list[str] = []
        self.mbuf: list[str] = []
        self.prefix = ""
        self.mprefix = ""
        self.kind = "p"
        # Whether a line is not collapsed: a table row with an empty cell (" | b"). Every other line
        # is a collapsed line, after "- " for a list item.
        self.ragged = False

    def add(self, s: str) -> None:
        self.buf.append(s)
        self.mbuf.append(s)

    def newline(self) -> None:
        buf = self.buf
        if buf:
            self.buf = []
            text = "".join(buf)
            # isspace() stops at the first other character, where cleaning looks at the whole text.
            line = "" if text.isspace() else clean_line(text)
            if line:
                # The Markdown differs from the text only where a link or emphasis was marked up.
                self._append(line, clean_line("".join(self.mbuf)) if self.mbuf != buf else line)
        self.mbuf = []

    def whole_line(self, text: str) -> None:
        """`add(text)` then `newline()`, on an empty line: a block that is one text node."""
        line = "" if text.isspace() else clean_line(text)
        if line:
            self._append(line, line)

    def _append(self, line: str, mline: str) -> None:
        self.lines.append(self.prefix + line)
        self.md.append((self.kind, self.mprefix + mline))
        self.prefix = self.mprefix = ""
        self.kind = "p"


_MD_WRAP = {"strong": "**", "b": "**", "em": "*", "i": "*"}
_HEADING_MARKS = {f"h{level}": "#" * level + " " for level in range(1, 7)}


# Block tags but for table rows and list items, the block tags _walk tests for first (the tag sets and
# single tags _walk tests for are disjoint, so the order of the tests does not matter).
_PARAGRAPH_TAGS = _BLOCK_TAGS - {"tr", "li"}
# Tags whose element starts by ending the current line (out.newline()).
_LINE_ENDING_TAGS = _BLOCK_TAGS | {"br"}


def _ends_line(node: LexborNode | None) -> bool:
    """Whether walking `node` starts by ending the line: whitespace before it, most text nodes of a
    page (between blocks), would be at the end of a line, which cleaning drops, so it is not added."""
    return node is not None and node.tag in _LINE_ENDING_TAGS


def _walk(node: LexborNode, out: _Lines, depth: int = 0) -> None:
    child = node.child
    while child is not None:
        tag = child.tag
        if tag == "-text":
            text = child.text_content or ""
            if not (text.isspace() and _ends_line(child.next)):
                out.add(text)
        elif tag in _PARAGRAPH_TAGS:
            out.newline()
            if tag in _HEADING_MARKS:
                out.mprefix, out.kind = _HEADING_MARKS[tag], tag
            elif tag == "blockquote":
                out.mprefix = "> "
            inner = child.child
            if inner is not None and inner.next is None and inner.tag == "-text":
                out.whole_line(inner.text_content or "")  # one text node, the common paragraph
            else:
                _walk(child, out, depth)
                out.newline()
        elif tag is None or tag.startswith("-") or tag in _SKIP_TAGS:
            pass
        elif tag == "br":
            out.newline()
        elif tag == "tr":
            out.newline()
            cells = []
            for cell in child.iter():
                if cell.tag in ("td", "th"):
                    sub = _Lines()
                    _walk(cell, sub, depth)
                    sub.newline()
                    cells.append(" ".join(sub.lines))
            if any(cells):
                row = " | ".join(cells)
                out.ragged = out.ragged or collapse(row) != row
                out.lines.append(row)
                out.md.append(("tr", "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"))
        elif tag == "li":
            out.newline()
            out.prefix, out.mprefix, out.kind = "- ", "  " * depth + "- ", "li"
            _walk(child, out, depth + 1)
            out.newline()
            out.prefix = out.mprefix = ""
        elif tag == "a" or tag in _MD_WRAP:
            mark = len(out.mbuf)
            _walk(child, out, depth)
            if "".join(out.mbuf[mark:]).strip():
                if tag == "a":
                    href = child.attributes.get("href") or ""
                    if href and not href.startswith(("#", "javascript:")):
                        out.mbuf.insert(mark, "[")
                        out.mbuf.append(f"]({href})")
                else:
                    out.mbuf.insert(mark, _MD_WRAP[tag])
                    out.mbuf.append(_MD_WRAP[tag])
        else:
            _walk(child, out, depth)
        child = child.next


def _render_markdown(blocks: list[tuple[str, str]]) -> str:
    parts: list[str] = []
    previous = ""
    for kind, md in blocks:
        if kind == "tr" and previous != "tr":
            cols = md.count(" | ") + 1
            parts += ("\n\n", md, "\n|", " --- |" * cols)
        elif kind in ("tr", "li") and previous == kind:
            parts += ("\n", md)
        else:
            parts += ("\n\n", md)  # not "\n\n" + md: a copy of every block
        previous = kind
    return "".join(parts).strip()


# --------------------------------------------------------------------------------------------------
# Markdown and plain text

_MD_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)|!\[[^\]]*\]\[[^\]]*\]")
_MD_LINK = re.compile(r"\[([^\]]*)\]\((?:[^()\s]|\([^)]*\))*(?:\s+\"[^\"]*\")?\)|\[([^\]]+)\]\[[^\]]*\]")
_MD_AUTOLINK = re.compile(r"<((?:https?|mailto):[^>\s]+)>")
_MD_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>")
_MD_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_MD_EM_STAR = re.compile(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])")
_MD_EM_UNDER = re.compile(r"(?<![\w_])_(?=\S)(.+?)(?<=\S)_(?![\w_])")
_MD_CODE = re.compile(r"`+([^`]*)`+")
_MD_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|>~])")
_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)(?:\s+#+\s*)?$")
_MD_SETEXT = re.compile(r"^\s{0,3}(=+|-+)\s*$")
_MD_RULE = re.compile(r"^\s{0,3}([-*_])(\s*\1){2,}\s*$")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+\u2022\u25e6]|\d{1,3}[.)])\s+(.*)$")
_TABLE_SEP = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_LINK_DEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s+\S+")


def _md_inline(s: str) -> str:
    # Each rewrite is tried only on text holding the character every match of it starts with:
    # testing for one character is a memchr, where the regex engine tries every position of the
    # text, and most paragraphs have no markup at all.
    if "!" in s:
        s = _MD_IMAGE.sub("", s)
    if "[" in s:
        s = _MD_LINK.sub(lambda m: m.group(1) if m.group(1) is not None else m.group(2), s)
    if "<" in s:
        s = _MD_AUTOLINK.sub(r"\1", s)
        s = _MD_TAG.sub("", s)
    if "`" in s:
        s = _MD_CODE.sub(r"\1", s)
    for _ in range(2):  # nested emphasis (***x***)
        if "*" in s or "_" in s:
            s = _MD_STRONG.sub(r"\2", s)
        if "*" in s:
            s = _MD_EM_STAR.sub(r"\1", s)
        if "_" in s:
            s = _MD_EM_UNDER.sub(r"\1", s)
    return _MD_ESCAPE.sub(r"\1", s) if "\\" in s else s


def _from_markdown(body: str) -> list[str]:
    blocks: list[str] = []
    para: list[str] = []
    fence: str | None = None

    def flush() -> None:
        if para:
            line = clean_line(_md_inline(" ".join(para)))
            if line:
                blocks.append(line)
            para.clear()

    for raw in body.splitlines():
        stripped = raw.strip()
        if fence is not None:
            if stripped.startswith(fence):
                fence = None
            elif stripped:
                blocks.append(clean_line(raw))
            continue
        if stripped.startswith(("```", "~~~")):
            flush()
            fence = stripped[:3]
            continue
        if not clean_line(stripped) or _LINK_DEF.match(raw):
            flush()
            continue
        if para and _MD_SETEXT.match(raw) and not _LIST_ITEM.match(para[0]):
            flush()  # the paragraph was a heading
            continue
        if _MD_RULE.match(raw):
            flush()
            continue
        heading = _MD_HEADING.match(raw)
        if heading:
            flush()
            para.append(heading.group(1))
            flush()
            continue
        if stripped.startswith("|") or (stripped.endswith("|") and "|" in stripped[:-1]):
            flush()
            if not _TABLE_SEP.match(stripped):
                cells = [clean_line(_md_inline(c)) for c in stripped.strip("|").split("|")]
                if any(cells):
                    blocks.append(" | ".join(cells))
            continue
        item = _LIST_ITEM.match(raw)
        if item:
            flush()
            para.append("- " + item.group(1))
            continue
        if stripped.startswith(">"):
            stripped = stripped.lstrip("> ")
        para.append(stripped)
    flush()
    return blocks


def _from_plain(body: str) -> list[str]:
    blocks: list[str] = []
    para: list[str] = []
    for raw in body.splitlines():
        line = clean_line(raw)
        if not line:
            if para:
                blocks.append(" ".join(para))
                para = []
            continue
        item = _LIST_ITEM.match(line)
        if item and para:
            blocks.append(" ".join(para))
            para = []
        para.append(("- " + item.group(1)) if item else line)
    if para:
        blocks.append(" ".join(para))
    return blocks


# --------------------------------------------------------------------------------------------------
# Lines that are per-load chrome even inside the content: "Page generated ... · Build 1234 · 5678 views"

_COUNTER_SEGMENT = re.compile(
    r"(?ix)^(?:"
    r"(?:page\s+|last\s+)?(?:generated|rendered|served|cached|built|fetched|retrieved|loaded|printed)"
    r"(?:\s+(?:at|on|in))?\s*:?\s*[\dTZ:.+\-/ ]+(?:\s*(?:utc|gmt|ms|s|seconds?))?"
    r"|build(?:\s+(?:id|number|no\.?))?\s*[:#]?\s*[\w.\-]*\d[\w.\-]*"
    r"|(?:request|trace|session|correlation|render)\s+id\s*:?\s*\S+"
    r"|[\d.,]+\s*[km]?\s+(?:views|page\s*views|visits|visitors|reads|readers)"
    r"|(?:views|visits|visitors)\s*:?\s*[\d.,]+\s*[km]?"
    r"|\d[\d,]*\s+(?:of\s+\d[\d,]*\s+)?(?:people|users|readers)\s+found\s+this\s+(?:article\s+)?helpful"
    r"|(?:\u00a9|\(c\)|copyright)\s*\d{4}(?:\s*[-\u2013]\s*\d{4})?[^.]{0,80}"
    r")[.!]?$"
)
_COUNTER_HINTS = (
    "generated", "rendered", "served", "cached", "built", "fetched", "retrieved", "loaded", "printed",
    "build", "views", "visit", "helpful", " id", "\u00a9", "(c)", "copyright",
)  # fmt: skip
# One regex over the line finds any of them in half the time of one `in` for each.
_COUNTER_HINT = re.compile("|".join(re.escape(hint) for hint in _COUNTER_HINTS))
_SEGMENT_SPLIT = re.compile(r"\s*[\u00b7\u2022|]\s*|(?<=[.!])\s+")


def _is_counter_line(line: str) -> bool:
    """A short line made only of per-load counters, build ids and generation timestamps."""
    if len(line) > 240:
        return False
    low = line.lower()
    if not _COUNTER_HINT.search(low):
        return False
    segments = [s for s in _SEGMENT_SPLIT.split(line) if s]
    return bool(segments) and all(_COUNTER_SEGMENT.match(s) for s in segments)
