"""The extractor: page text -> facts with evidence -> summary.

Most sentences of a policy page are about other things (accounts, cookies, contact...). A sentence
without a topic word, or without any word the rules need to find something, states no fact, so a line
without one is left pending (`sentences.lines`) and split into sentences only if something asks for
them: the window of sentences read for the document's scope, or a sentence that continues the one
before. The rules, too, try a pattern only when the sentence holds a word it cannot match without.
Each shortcut skips only work whose outcome is known: the facts are those of reading every sentence
with every pattern.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from . import retention, scope, training
from .model import Extraction, Fact
from .sentences import LIST_MARKER, Pending, Unit, has_joiners, lines
from .summary import summarize

# a sentence without any of these words states no retention, training or ZDR fact: skip it cheaply
_TOPIC = (
    "train", "retain", "retention", "kept", "keep", "stor", "delet", "remov", "purg", "destr", "eras", "log",
    "persist", "saved", "zero", "zdr", "model", "improv", "develop", "opt", "object", "day", "hour", "week",
    "month", "year",
)  # fmt: skip
_TOPIC_WORD = re.compile("|".join(_TOPIC))
# "we only use your prompts to provide the service" holds none of them: a sentence holding one of these
# weak topic words states a fact only if it also holds a word for the customer's content
_WEAK_TOPIC = re.compile("only|sole|exclusiv|purpose")
_CONTENT_TOPIC = re.compile("input|output|prompt|content|conversation|chat|message|completion|quer|data")
# nor does a sentence in which the rules find nothing to read: one without any word that `retention.read`
# or `training.read` needs ("n't" may be written with a typographic apostrophe, which cleaning replaces);
# a word holding "ı" or "ſ" (or "İ", lower-cased to "i" and a combining dot) may hide one, since the
# rules' case-insensitive patterns take them for "i" and "s"
_READ_WORD = re.compile(
    "|".join(re.escape(w) for w in dict.fromkeys(retention.NEEDS + training.NEEDS + ("n\u2019t", "n\u2018t")))
    + "|[\u0131\u017f\u0307]"
)
# the sentences that say what the document applies to are looked for among its first ones
_SCOPE_SENTENCES = 400
# what a text holds, as bits: a topic word, a weak topic word, a content word, a word the rules read
_TOPICAL, _WEAK, _CONTENT, _READ = 1, 2, 4, 8
_ENOUGH = _TOPICAL | _READ  # a text holding both states a fact whatever else it holds
# the bits of each word (whitespace-separated token, lower-cased) and of each sentence (raw text) met:
# pages share most of their vocabulary, and a sentence is asked about again after its line, so each is
# looked at once per process (the tables are emptied when they grow large)
_WORD_BITS: dict[str, int] = {}
_TEXT_BITS: dict[str, int] = {}
_KNOWN_WORDS = 50_000
# a sentence met again is mostly one tested after its line, on the same page: a few thousand pieces cover
# that; more remember boilerplate across pages, which real pages share little of (400 varied benchmark
# pages: no faster with 20,000, and 3 MB more per process)
_KNOWN_TEXTS = 2_000
_LONGEST_KNOWN_TEXT = 1_000  # a longer piece (a line without ". ") is not remembered: it seldom comes back


def _may_state_fact(text: str) -> bool:
    """Whether a sentence or a line (raw text) holds a topic word and a word the rules need to find anything.

    Such a word holds no whitespace, so it is inside one whitespace-separated token of the text, unless
    cleaning joins letters (`has_joiners`). A line holds every token of its sentences: when this is false
    of a line, it is false of each of its sentences.

    The text is read in pieces cut after each ". " (where most sentences end): the tokens of the pieces
    are those of the text (a cut is at whitespace: no token is cut), and lower-casing is done character
    by character (but for the final sigma, which no topic or rule word holds), so the bits of the text
    are those of its pieces together. A piece is mostly a sentence that the same line's `Unit` (or
    another page's boilerplate) asks about again: its bits are remembered.
    """
    bits = 0
    for piece in text.replace(". ", ".\n").split("\n"):
        bits |= _text_bits(piece)
        if bits & _ENOUGH == _ENOUGH:
            return True
    return _has_topic(bits) and (bits & _READ != 0 or has_joiners(text))


def _has_topic(bits: int) -> bool:
    """A topic word, or a weak topic word and a content word (see `_TOPIC`)."""
    return bits & _TOPICAL != 0 or bits & (_WEAK | _CONTENT) == _WEAK | _CONTENT


def _text_bits(text: str) -> int:
    """The bits of the tokens of `text` together (remembered), or of enough of them to hold `_ENOUGH`.

    Left out bits do not matter: a text (or a line holding it) with `_ENOUGH` states a fact.
    """
    bits = _TEXT_BITS.get(text)
    if bits is None:
        bits = 0
        for token in text.lower().split():
            found = _WORD_BITS.get(token)
            bits |= found if found is not None else _word_bits(token)
            if bits & _ENOUGH == _ENOUGH:
                break
        if len(text) <= _LONGEST_KNOWN_TEXT:
            if len(_TEXT_BITS) >= _KNOWN_TEXTS:
                _TEXT_BITS.clear()
            _TEXT_BITS[text] = bits
    return bits


def _word_bits(token: str) -> int:
    """The bits of one lower-cased token (remembered)."""
    bits = 0
    if _TOPIC_WORD.search(token):
        bits |= _TOPICAL
    if _WEAK_TOPIC.search(token):
        bits |= _WEAK
    if _CONTENT_TOPIC.search(token):
        bits |= _CONTENT
    if _READ_WORD.search(token):
        bits |= _READ
    if len(_WORD_BITS) >= _KNOWN_WORDS:
        _WORD_BITS.clear()
    _WORD_BITS[token] = bits
    return bits


def _mentions_coverage(unit: Unit) -> bool:
    """Whether a sentence says what the document applies to or covers (read by `document_scope`).

    Of those, `document_scope` reads only the ones that say what it does not apply to: a sentence
    holding none of the words its patterns need ("applicable law") is left out here.
    """
    if not _may_mention_coverage(unit.raw):
        return False
    return ("appl" in unit.clean or "cover" in unit.clean) and unit.could_contain(*scope.EXCLUSION_NEEDS)


def _may_mention_coverage(raw: str) -> bool:
    """False when no sentence of `raw` (a sentence, a line or the page) is one `_mentions_coverage` accepts.

    Without joiners (`has_joiners`), cleaning changes the words of a text only by collapsing runs of
    whitespace and tags into one space, and `folded` is its lower case unless it holds "ı", "ſ" or "İ"
    (then `could_contain` cannot tell). So "t apply" in `folded` is, in the raw text lower-cased, an
    "apply" with a "t" before it once the whitespace and tags between them are passed over; going back
    over whitespace ends on that "t", or on the ">" of a tag (or further back than is looked at).
    """
    if has_joiners(raw):
        return True  # cleaning may join letters: only the cleaned text can tell
    if "appl" not in raw and "cover" not in raw:
        return False  # `may_contain(raw, "appl", "cover")` without joiners
    low = raw.lower()
    if not raw.isascii() and ("\u0131" in low or "\u017f" in low or "\u0307" in low):
        return True
    for verb in scope.EXCLUSION_VERBS:
        at = low.find(verb)
        while at >= 0:
            before = low[max(0, at - 40) : at].rstrip()
            if not before or before[-1] in "t>":
                return True
            at = low.find(verb, at + 1)
    return False


def _scope_sentences(text: str, items: list[Unit | Pending]) -> Iterator[str]:
    """The cleaned sentences among the first `_SCOPE_SENTENCES` that mention applying or covering
    and could say what the document does not apply to.

    A pending line mentioning neither is counted by bounds (at least one sentence, at most `most`),
    and split only when a later candidate's position cannot be told otherwise.
    """
    if not _may_mention_coverage(text):
        return
    low = high = 0  # bounds on the number of sentences before the current one
    uncounted: list[Pending] = []
    for item in items:
        if isinstance(item, Pending):
            if not _may_mention_coverage(item.body):
                uncounted.append(item)
                low, high = low + 1, high + item.most
                if low >= _SCOPE_SENTENCES:
                    return
                continue
            units: list[Unit] | tuple[Unit] = item.units
        else:
            units = (item,)
        for u in units:
            if low >= _SCOPE_SENTENCES:
                return
            if _mentions_coverage(u):
                if high >= _SCOPE_SENTENCES:
                    low = high = low + sum(len(p.units) - 1 for p in uncounted)
                    uncounted.clear()
                    if low >= _SCOPE_SENTENCES:
                        return
                yield u.clean
            low, high = low + 1, high + 1


def _block_end(text: str, unit: Unit) -> int:
    """Where the list introduced by `unit` (a sentence ending with ":") ends in `text`.

    The list is the lines after the sentence's line that are indented deeper than it, or, below a
    line of prose, the list items that follow it; blank lines do not end it.
    """
    line_start = text.rfind("\n", 0, unit.start) + 1
    line = text[line_start : unit.start]
    indent = len(line) - len(line.lstrip())
    in_item = LIST_MARKER.match(text, line_start) is not None
    end = text.find("\n", unit.end)
    if end < 0:
        return len(text)
    pos = end + 1
    while pos < len(text):
        nl = text.find("\n", pos)
        row_end = len(text) if nl < 0 else nl
        row = text[pos:row_end]
        if row.strip():
            deeper = len(row) - len(row.lstrip()) > indent
            if not deeper and (in_item or not LIST_MARKER.match(row)):
                return pos
            end = row_end
        pos = row_end + 1
    return len(text)


def _facts(text: str) -> tuple[tuple[Fact, ...], dict[Fact, int]]:
    # a line without any topic word, or without a word the rules need, states no fact: it is split into
    # sentences only if needed
    items = lines(text, defer=lambda start, end: not _may_state_fact(text[start:end]))
    default = scope.document_scope(_scope_sentences(text, items))
    facts: list[Fact] = []
    strengths: dict[Fact, int] = {}
    seen: set[Fact] = set()

    def add(kind: str, value: str, scopes: list[str], condition: str, evidence: str, strength: int) -> None:
        for s in scopes:
            cond = condition
            f = Fact(kind, value, s, cond, evidence)
            if f in seen:
                continue
            seen.add(f)
            facts.append(f)
            strengths[f] = strength

    # "we only use your prompts:" followed by a list: (end of the list, the service-only facts it gave)
    lead_ins: list[tuple[int, list[Fact]]] = []
    dropped: set[Fact] = set()
    previous: Unit | Pending | None = None
    for u in items:
        if isinstance(u, Pending):
            previous = u
            continue
        if u.heading:
            continue
        before, previous = previous, u
        if not _may_state_fact(u.raw):
            continue
        evidence = text[u.start : u.end]
        found_r = retention.read(u)
        if isinstance(before, Pending):
            before = before.units[-1]
        found_t = training.read(u, before.clean if before is not None else "")
        if not found_r and not found_t:
            continue
        scopes = scope.sentence_scopes(u.clean, u.context, default)
        t = scope.tier(u.clean)
        if scopes == ["all"] and found_t and all(strength == 1 for _, _, strength in found_t):
            # a list of purposes that names no offering describes the vendor's own (consumer) services
            found_t_scopes = ["consumer"]
        else:
            found_t_scopes = scopes
        for kind, value, condition in found_r:
            add(kind, value, scopes, condition, evidence, 2)
        if lead_ins and any(v in ("yes", "opt-out") for v, _, _ in found_t):
            # an item of the list after "we only use your prompts:" says they are trained on
            for end, lead in lead_ins:
                if u.start < end:
                    dropped.update(lead)
        n = len(facts)
        for value, condition, strength in found_t:
            for s in found_t_scopes:
                cond = condition
                if cond == "default" and t == "free" and s != "consumer":
                    cond = "free"
                add("training", value, [s], cond, evidence, strength)
        if u.clean.endswith(":") and any(c == "service-only" for _, c, _ in found_t):
            lead_ins.append((_block_end(text, u), [f for f in facts[n:] if f.condition == "service-only"]))
    if dropped:
        facts = [f for f in facts if f not in dropped]
    return tuple(facts), strengths


# the facts of the last page read: `extract()` and `extract_consumer()` of the same text read it once
_last: tuple[str, tuple[tuple[Fact, ...], dict[Fact, int]]] | None = None


def _cached_facts(text: str) -> tuple[tuple[Fact, ...], dict[Fact, int]]:
    global _last
    if _last is not None and _last[0] == text:
        return _last[1]
    found = _facts(text)
    _last = (text, found)
    return found


def extract(text: str) -> Extraction:
    """Read the retention and training statements of a page (canonical text or Markdown)."""
    facts, strengths = _cached_facts(text)
    summary, evidence = summarize(facts, strengths, "api")
    return Extraction(summary=summary, facts=facts, evidence=evidence)


def extract_consumer(text: str) -> Extraction:
    """The same facts, summarised for the vendor's consumer apps instead of API/business use."""
    facts, strengths = _cached_facts(text)
    summary, evidence = summarize(facts, strengths, "consumer")
    return Extraction(summary=summary, facts=facts, evidence=evidence)
