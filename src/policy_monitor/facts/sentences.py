"""Split a page's text into sentences that keep their place in the original text.

The input is either canonical page text (one block per line) or Markdown. Each sentence is returned
as a `Unit`: the exact span of the original text (used as evidence), a cleaned copy (markup removed,
whitespace collapsed) that the rules read, and its context: the headings above it and the list items
it is nested in (a list item "User data:" gives the subject of its sub-items).

`lines()` gives the same sentences but may leave a line of prose `Pending` when its caller has no use
for its sentences (the extractor: a line without any topic word); they are split on demand.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# Words after which a period does not end a sentence.
_ABBREVIATIONS = frozenset(
    """e.g i.e etc vs cf al approx inc ltd llc co corp no nos sec secs art arts para paras fig figs
    mr mrs ms dr st jr sr u.s u.k e.u u.s.a p.m a.m incl esp resp viz ca dept est""".split()
)

_LINK = re.compile(r"!?\[([^\]]*)\]\((?:[^()\s]|\([^()]*\))*(?:\s+\"[^\"]*\")?\)")
_REF_LINK = re.compile(r"\[([^\]]+)\]\[[^\]]*\]")
_EMPHASIS = re.compile(r"(\*{1,3}|_{1,3}|~~)(?=\S)(.+?)(?<=\S)\1")
_HTML_TAG = re.compile(r"<br\s*/?>|</?[a-zA-Z][^>]*>")
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|>])")
_INVISIBLE = re.compile(r"[\u200b-\u200f\u2060\u00ad\ufeff]")
LIST_MARKER = re.compile(r"^(\s*)(?:[*+\-\u2022\u25cf\u25aa]|\d{1,3}[.)]|[a-zA-Z][.)]|\([a-zA-Z0-9]{1,4}\))\s+")
_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_SETEXT = re.compile(r"^\s{0,3}(=+|-+)\s*$")
_TABLE_SEP = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_CELL = re.compile(r"(?:(?!\||<br\s*/?>).)+", re.IGNORECASE)
# a full stop (and closing quotes, brackets, emphasis) before whitespace and the start of a next sentence
_BOUNDARY = re.compile(r"[.!?](?:[\"”’')\]*_]*)(?=\s+[\"“‘(\[*_]*[A-Z0-9\u4e00-\u9fff])")
_CJK_END = re.compile(r"[。！？]")
_WORD_BEFORE = re.compile(r"([A-Za-z.]+)$")
_WORD_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz.")
_SECTION_NUMBER = re.compile(r"(?:^|\s)\d+(?:\.\d+)*$")
_WORD_CHAR = re.compile(r"\w")
_FINAL_PUNCTUATION = re.compile(r"[.;,]$")
# how far before a period `_ends_sentence` looks for the word or number it ends, and its answers,
# remembered by those characters
_WINDOW = 12
_PERIOD_ENDS: dict[str, bool] = {}
_KNOWN_WINDOWS = 5_000


class Unit:
    """One sentence (or table cell, or heading) of the page.

    A plain class with slots, not a dataclass with cached properties: a page has hundreds of units, and
    a first read of a `functools.cached_property` takes a lock. Most units are never cleaned; `clean`
    is computed on first use, and `folded` with it.
    """

    __slots__ = ("start", "end", "raw", "context", "heading", "_clean", "_folded")

    def __init__(self, start: int, end: int, raw: str, context: tuple[str, ...], heading: bool = False) -> None:
        self.start = start
        self.end = end
        self.raw = raw  # the sentence as it stands in the text
        self.context = context  # enclosing headings and parent list items, outermost first
        self.heading = heading
        self._clean: str | None = None
        self._folded: str | None = None

    def __repr__(self) -> str:
        return f"Unit({self.start}, {self.end}, {self.raw!r}, {self.context!r}, heading={self.heading})"

    @property
    def clean(self) -> str:
        """The sentence with markup removed and whitespace collapsed (what the rules read)."""
        return self._clean if self._clean is not None else self._cleaned()

    @property
    def folded(self) -> str | None:
        """`clean` lower-cased, to test cheaply which words a case-insensitive pattern could find in it.

        None when it holds a character that such a pattern takes for an ASCII letter other than its
        lower case ("İ", "ı" and "ſ" match i, i and s): then only the pattern can tell.
        """
        if self._clean is None:
            self._cleaned()
        return self._folded

    def _cleaned(self) -> str:
        text = self._clean = clean(self.raw)
        self._folded = fold(text)
        return text

    def could_contain(self, *words: str) -> bool:
        """False when a case-insensitive pattern needing one of `words` (lower case) cannot match `clean`."""
        return _may_hold(self.folded, words)


def fold(text: str) -> str | None:
    """`text` lower-cased, or None when it holds "İ", "ı" or "ſ" (see `Unit.folded`)."""
    if text.isascii() or ("\u0130" not in text and "\u0131" not in text and "\u017f" not in text):
        return text.lower()
    return None


def could_hold(text: str, words: tuple[str, ...]) -> bool:
    """False when a case-insensitive pattern each of whose matches holds one of `words` (lower case)
    cannot match `text`: `Unit.could_contain` for any text."""
    return _may_hold(fold(text), words)


class Gated:
    """A case-insensitive pattern with the words (lower case) one of which each of its matches holds: a text
    holding none of them is not searched (`could_hold`), as the pattern would find nothing in it."""

    __slots__ = ("needs", "pattern")

    def __init__(self, pattern: re.Pattern[str], needs: tuple[str, ...]) -> None:
        self.pattern = pattern
        self.needs = needs

    def search(self, text: str) -> re.Match[str] | None:
        return self.pattern.search(text) if could_hold(text, self.needs) else None


def _may_hold(folded: str | None, words: tuple[str, ...]) -> bool:
    """Whether a text folded by `fold` (None: it cannot tell) may hold one of `words`."""
    if folded is None:
        return True
    for w in words:  # a loop, not any() over a generator: this runs for most sentences of a page
        if w in folded:
            return True
    return False


def clean(text: str) -> str:
    """Text as a reader sees it: Markdown links, emphasis, escapes and tags removed."""
    ascii_only = text.isascii()  # then there is nothing invisible, typographic or non-breaking to fold
    if not ascii_only:
        text = _INVISIBLE.sub("", text)
    # each pattern is tried only when the text holds what it cannot match without
    if "](" in text:
        text = _LINK.sub(_group1, text)
    if "][" in text:
        text = _REF_LINK.sub(_group1, text)
    if "<" in text:
        text = _HTML_TAG.sub(" ", text)
    for _ in range(2):  # nested emphasis; a pass that changes nothing ends it
        if text.count("*") < 2 and text.count("_") < 2 and "~~" not in text:
            break  # no pair of marks (left): the pattern cannot match
        text, changed = _EMPHASIS.subn(_group2, text)
        if not changed:
            break
    if "\\" in text:
        text = _ESCAPE.sub(_group1, text)
    if "*" in text or "_" in text:
        text = text.replace("**", "").replace("__", "")
    if not ascii_only:
        text = text.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"')
        text = text.replace("\u00a0", " ")
    # str.split() and the regex class \s agree on what whitespace is; the ends are stripped below anyway
    return " ".join(text.split()).strip(" \t|")


def _group1(m: re.Match[str]) -> str:
    return m.group(1)  # as the template r"\1" (the group always takes part), without parsing it per match


def _group2(m: re.Match[str]) -> str:
    return m.group(2)


def may_contain(raw: str, *words: str) -> bool:
    """False when `clean(raw)` cannot contain any of `words` (letters only): a test before cleaning.

    Cleaning joins letters only where it removes a link bracket, an emphasis mark, an escape or an
    invisible character; anywhere else a word of the cleaned text is a word of the raw text.
    """
    return any(w in raw for w in words) or has_joiners(raw)


def has_joiners(raw: str) -> bool:
    """Whether `raw` holds a character whose removal by `clean()` can join two letters."""
    return (
        "[" in raw
        or "]" in raw
        or "*" in raw
        or "_" in raw
        or "~" in raw
        or "\\" in raw
        or (not raw.isascii() and _INVISIBLE.search(raw) is not None)
    )


def _ends_sentence(line: str, dot: int) -> bool:
    """Whether the period at index `dot` of `line` ends a sentence (not an abbreviation or number).

    That is told by the characters before the period that `_period_ends` reads: the answer for a
    window of them is remembered (pages end many sentences with the same words).
    """
    if line[dot] != ".":
        return True
    window = line[max(0, dot - _WINDOW) : dot]
    ends = _PERIOD_ENDS.get(window)
    if ends is None:
        ends = _period_ends(window)
        if len(_PERIOD_ENDS) >= _KNOWN_WINDOWS:
            _PERIOD_ENDS.clear()
        _PERIOD_ENDS[window] = ends
    return ends


def _period_ends(window: str) -> bool:
    """Whether a period after `window` (the `_WINDOW` characters before it, or all the line before it)
    ends a sentence."""
    before = window[-1:]
    if before and before in _WORD_CHARS:  # else no word ends at the period
        m = _WORD_BEFORE.search(window)
        if m:
            word = m.group(1).lower().strip(".")
            if word in _ABBREVIATIONS:
                return False
            if len(word) == 1:  # an initial or a list letter: "J. Smith", "(a)."
                return False
    if not before.isdecimal():  # else no number ends at the period
        return True
    # a section number such as "4.2." or "Section 3. "
    return not _SECTION_NUMBER.search(window[-10:])


def _split_line(line: str) -> list[tuple[int, int]]:
    """Sentence spans inside one line."""
    ascii_only = line.isascii()  # then it holds no CJK full stop
    if "." not in line and "!" not in line and "?" not in line and (ascii_only or not _CJK_END.search(line)):
        a, b = len(line) - len(line.lstrip()), len(line.rstrip())
        return [(a, b)] if b > a else []
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _BOUNDARY.finditer(line):
        end = m.end()
        if not _ends_sentence(line, m.start()):
            continue
        spans.append((start, end))
        start = end
    if not ascii_only:
        for m in _CJK_END.finditer(line, start):
            spans.append((start, m.end()))
            start = m.end()
    spans.append((start, len(line)))
    out = []
    for a, b in spans:
        piece = line[a:b]
        a, b = a + len(piece) - len(piece.lstrip()), b - len(piece) + len(piece.rstrip())
        if b > a:
            out.append((a, b))
    return out


class Pending:
    """A line of prose whose sentences are split only when asked for (`units`).

    `lines()` leaves a line pending when its caller says none of its sentences can matter; the line
    cannot change the structure either (it is no list item, and it ends like a sentence, so it is no
    heading). Splitting it later gives exactly the units `split()` gives for it. A plain class with
    slots, as `Unit` (a page has dozens).
    """

    __slots__ = ("start", "body", "context", "_units")

    def __init__(self, start: int, body: str, context: tuple[str, ...]) -> None:
        self.start = start
        self.body = body  # the line after its indentation
        self.context = context
        self._units: list[Unit] | None = None

    @property
    def units(self) -> list[Unit]:
        if self._units is None:
            start, body, context = self.start, self.body, self.context
            self._units = [Unit(start + a, start + b, body[a:b], context) for a, b in _split_line(body)]
        return self._units

    @property
    def most(self) -> int:
        """An upper bound on the number of its sentences (each ends at a full stop, plus the last)."""
        b = self.body
        return 1 + b.count(".") + b.count("!") + b.count("?") + b.count("。") + b.count("！") + b.count("？")


def split(text: str) -> list[Unit]:
    """Every sentence of `text`, in order, with its span and context."""
    return [u for item in lines(text) for u in (item.units if isinstance(item, Pending) else (item,))]


def lines(text: str, defer: Callable[[int, int], bool] | None = None) -> list[Unit | Pending]:
    """The sentences of `text` in order, as `split()`, except that a line of prose whose body span
    `defer(start, end)` accepts may be left `Pending` (at least one sentence, at most `most`)."""
    units: list[Unit | Pending] = []
    headings: list[tuple[int, str]] = []  # (level, text)
    items: list[tuple[int, str]] = []  # (indent, text) of open list items
    rows = text.splitlines(keepends=True)
    bare = [row.rstrip("\r\n") for row in rows]
    bare.append("")
    skip = -1  # the underline of a setext heading
    base = 0
    ctx: tuple[str, ...] | None = None  # the context while headings and items do not change
    for i, row in enumerate(rows):
        offset, base = base, base + len(row)
        line = bare[i]
        if i == skip or not line or line.isspace():
            continue
        nxt = bare[i + 1]
        if "|" in line and _TABLE_SEP.match(line):
            continue
        hm = _HEADING.match(line)
        setext = bool(_SETEXT.match(nxt)) and not LIST_MARKER.match(line) and not _SETEXT.match(line)
        if setext:
            skip = i + 1
        if hm or setext:
            level = len(hm.group(1)) if hm else (1 if nxt.strip().startswith("=") else 2)
            body_start = hm.start(2) if hm else len(line) - len(line.lstrip())
            text_clean = clean(hm.group(2) if hm else line)
            while headings and headings[-1][0] >= level:
                headings.pop()
            items.clear()
            end = len(line.rstrip())
            ctx = None
            if text_clean:
                units.append(Unit(offset + body_start, offset + end, line[body_start:end], _ctx(headings, items), True))
                headings.append((level, text_clean))
            continue
        unindented = line.lstrip()
        indent = len(line) - len(unindented)
        if unindented.startswith("|"):
            # a table row: each cell (and each <br>-separated piece of a cell) is split into sentences;
            # the row's first cell (what the row is about) is context for the others
            pieces = [(m.start(), m.end()) for m in _CELL.finditer(line)]
            row_ctx = _ctx(headings, items)
            first = ""
            for a, b in pieces:
                for x, y in _split_line(line[a:b]):
                    raw = line[a + x : a + y]
                    if not _WORD_CHAR.search(raw):
                        continue
                    unit = Unit(offset + a + x, offset + a + y, raw, row_ctx + ((first,) if first else ()))
                    units.append(unit)
                    if not first:
                        first = unit.clean[:200]
            continue
        lm = LIST_MARKER.match(line)
        body = lm.end() if lm else indent
        if lm:
            while items and items[-1][0] >= indent:
                items.pop()
                ctx = None
        elif indent == 0 and items:
            items.clear()
            ctx = None
        if ctx is None:
            ctx = _ctx(headings, items)
        if lm is None and defer is not None and line.rstrip()[-1] in ".;," and defer(offset + body, offset + len(line)):
            units.append(Pending(offset + body, line[body:], ctx))
            continue
        sentences = _split_line(line[body:])
        first_clean = ""
        # the first sentence's clean text names a list item; a lone sentence may be a heading, which
        # needs no cleaning to rule out when it ends like a sentence (cleaning keeps the last character)
        needs_first = lm is not None or (len(sentences) == 1 and line[body + sentences[0][1] - 1] not in ".;,")
        for a, b in sentences:
            unit = Unit(offset + body + a, offset + body + b, line[body + a : body + b], ctx)
            units.append(unit)
            if needs_first and not first_clean:
                first_clean = unit.clean
        if lm and first_clean:
            items.append((indent, first_clean[:200]))
            ctx = None
        elif (
            not lm
            and first_clean
            and len(sentences) == 1
            and len(first_clean) < 90
            and not _FINAL_PUNCTUATION.search(first_clean)
        ):
            # a short line without final punctuation: a heading in canonical page text
            while headings and headings[-1][0] >= 7:
                headings.pop()
            headings.append((7, first_clean))
            ctx = None
    return units


def _ctx(headings: list[tuple[int, str]], items: list[tuple[int, str]]) -> tuple[str, ...]:
    return tuple([h for _, h in headings[-3:]] + [t for _, t in items])
