#!/usr/bin/env python3
"""Replay archived version histories of real policy pages through `monitor run` and score the alerts.

Each history is a directory of consecutive archived versions (Markdown, `NN__date__commit.md`) with a
`transitions.jsonl` that classifies every consecutive pair: `cosmetic`, `structural`, `substantive` or
`error_page`, plus the expected `fact_change`. For each history this script

1. serves the versions one after another on a loopback HTTP server, each as a web page would be: the
   policy inside <main>, site chrome around it (header, navigation, footer; and where the history has
   a `layout.json`, the part of the document after `main_to`, outside <main>);
2. runs the real command line against it: `monitor --sources F --db sqlite:///F run` after each version,
   then `monitor ... alerts --json --all`, with a fresh SQLite file and a one-vendor sources.yaml;
3. attributes the alerts raised by each run to the transition that run saw.

Target: every substantive transition raises `page_changed`, no cosmetic or structural one does, an
error page raises nothing, and `fact_changed` fires exactly where `fact_change` is not empty.

The result (a table per class and every wrong transition) replaces the section of docs/accuracy.md
between `<!-- histories:start -->` and `<!-- histories:end -->`; the rest of that file is left alone.

    python bench/replay_histories.py [--corpus DIR] [--doc docs/accuracy.md] [--no-write]
"""

from __future__ import annotations

import argparse
import html
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus" / "histories"
DEFAULT_DOC = ROOT / "docs" / "accuracy.md"
START, END = "<!-- histories:start -->", "<!-- histories:end -->"
CLASSES = ("cosmetic", "structural", "substantive", "error_page")


# --------------------------------------------------------------------------------------------------
# Markdown -> a vendor's web page


def _inline(s: str) -> str:
    s = html.escape(s, quote=False)
    s = re.sub(r"!\[([^\]]*)\]\(([^)\s]*)[^)]*\)", lambda m: f'<img alt="{m[1]}" src="{m[2]}">', s)
    s = re.sub(r"\[([^\]]*)\]\(([^)\s]*)[^)]*\)", lambda m: f'<a href="{m[2]}">{m[1]}</a>', s)
    s = re.sub(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1", r"<strong>\2</strong>", s)
    s = re.sub(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])", r"<em>\1</em>", s)
    s = re.sub(r"(?<![\w_])_(?=\S)(.+?)(?<=\S)_(?![\w_])", r"<em>\1</em>", s)
    return s


def markdown_to_html(md: str) -> str:
    """Headings (ATX and setext), lists (nested by indentation), tables, rules, links, images,
    emphasis and paragraphs: enough to serve an archived Markdown version as a web page."""
    out: list[str] = []
    para: list[str] = []
    items: list[tuple[int, str, str]] = []  # (indent, list tag, text)
    rows: list[str] = []

    def flush() -> None:
        if para:
            out.append(f"<p>{_inline(' '.join(para))}</p>")
            para.clear()
        if items:
            stack: list[tuple[int, str]] = []
            for indent, tag, text in items:
                while stack and stack[-1][0] > indent:
                    out.append(f"</li></{stack.pop()[1]}>")
                if stack and stack[-1][0] == indent:
                    out.append("</li>")
                else:
                    out.append(f"<{tag}>")
                    stack.append((indent, tag))
                out.append(f"<li>{_inline(text)}")
            while stack:
                out.append(f"</li></{stack.pop()[1]}>")
            items.clear()
        if rows:
            cells = [
                [c.strip() for c in r.strip().strip("|").split("|")]
                for r in rows
                if not re.fullmatch(r"\|?[\s:|-]+\|?", r.strip())
            ]
            body = "".join(
                "<tr>"
                + "".join(
                    f"<{'th' if i == 0 else 'td'}>{_inline(c)}</{'th' if i == 0 else 'td'}>" for c in row
                )
                + "</tr>"
                for i, row in enumerate(cells)
            )
            out.append(f"<table>{body}</table>")
            rows.clear()

    for line in md.splitlines():
        stripped = line.strip()
        if not stripped:
            flush()
            continue
        heading = re.match(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$", line)
        if heading:
            flush()
            level = len(heading[1])
            out.append(f"<h{level}>{_inline(heading[2])}</h{level}>")
            continue
        if para and not items and re.fullmatch(r"=+|-+", stripped):
            text = " ".join(para)
            para.clear()
            flush()
            level = 1 if stripped[0] == "=" else 2
            out.append(f"<h{level}>{_inline(text)}</h{level}>")
            continue
        if re.fullmatch(r"([-*_])(\s*\1){2,}", stripped):
            flush()
            out.append("<hr>")
            continue
        if stripped.startswith("|"):
            if para or items:
                flush()
            rows.append(stripped)
            continue
        item = re.match(r"^(\s*)([-*+]|\d+[.)])\s+(.*)$", line)
        if item:
            if para or rows:
                flush()
            indent = len(item[1].expandtabs(4))
            items.append((indent, "ol" if item[2][0].isdigit() else "ul", item[3]))
            continue
        if items and line[:1].isspace():
            indent, tag, text = items[-1]
            items[-1] = (indent, tag, f"{text} {stripped}")
            continue
        if rows or items:
            flush()
        para.append(stripped)
    flush()
    return "\n".join(out)


NAV = "".join(f'<li><a href="/section/{i}?ref=nav">Section {i}</a></li>' for i in range(12))


def web_page(md: str, title: str, layout: dict[str, str] | None) -> str:
    """The version as its vendor would serve it: policy in <main>, chrome around it."""
    chrome = ""
    if layout:
        cut = md.index(layout["main_to"])
        md, chrome = md[:cut], md[cut:]
    related = f'<div class="related">{markdown_to_html(chrome)}</div>' if chrome else ""
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        '<script src="/static/app.js"></script><style>main{max-width:50em}</style></head><body>'
        f'<header><a href="/">Home</a><nav><ul>{NAV}</ul></nav></header>'
        f"<main>{markdown_to_html(md)}</main>{related}"
        "<footer><p>&copy; 2026 Example. All rights reserved.</p></footer></body></html>"
    )


# --------------------------------------------------------------------------------------------------
# Loopback site


class Site:
    """One page at a time on 127.0.0.1, replaced between runs."""

    def __init__(self) -> None:
        self.body = b""
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 (the http.server API)
                if self.path.split("?")[0] != "/privacy":
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(site.body)))
                self.end_headers()
                self.wfile.write(site.body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/privacy"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --------------------------------------------------------------------------------------------------
# Replay


@dataclass
class Transition:
    history: str
    source: str
    target: str
    cls: str
    what: str
    fact_change: dict[str, list[str | None]]
    kinds: Counter[str] = field(default_factory=Counter)
    alerts: list[dict[str, object]] = field(default_factory=list)
    run_exit: int = 0

    @property
    def page_changed(self) -> bool:
        return self.kinds["page_changed"] > 0

    @property
    def fact_changed(self) -> bool:
        return self.kinds["fact_changed"] > 0

    def wrong(self) -> str | None:
        if self.cls == "substantive" and not self.page_changed:
            return "substantive change without page_changed"
        if self.cls != "substantive" and self.page_changed:
            return f"{self.cls} transition raised page_changed"
        if self.fact_change and not self.fact_changed:
            return f"fact change {self.fact_change} without fact_changed"
        if not self.fact_change and self.fact_changed:
            return "fact_changed where no fact changed"
        return None


def monitor_command() -> list[str]:
    exe = Path(sys.executable).with_name("monitor")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("monitor")
    if found:
        return [found]
    sys.exit("no `monitor` command: install the project (pip install -e .) in this Python's environment")


def replay(history: Path, monitor: list[str]) -> tuple[list[Transition], Counter[str], float]:
    lines = (history / "transitions.jsonl").read_text(encoding="utf-8").splitlines()
    transitions = [
        Transition(
            history.name, t["from"], t["to"], t["class"], t.get("what", ""), t.get("fact_change") or {}
        )
        for t in map(json.loads, filter(None, lines))
    ]
    layout_file = history / "layout.json"
    layout = json.loads(layout_file.read_text(encoding="utf-8")) if layout_file.exists() else None
    versions = [transitions[0].source] + [t.target for t in transitions]
    site = Site()
    started = time.monotonic()
    initial: Counter[str] = Counter()
    try:
        with tempfile.TemporaryDirectory(prefix="replay-") as tmp:
            sources = Path(tmp) / "sources.yaml"
            vendor = re.sub(r"[^a-z0-9-]+", "-", history.name.lower()).strip("-")
            registry = (
                f"vendors:\n  - id: {vendor}\n    name: {history.name}\n"
                f"    sources:\n      - url: {site.url}\n"
            )
            sources.write_text(registry, encoding="utf-8")
            base = [*monitor, "--sources", str(sources), "--db", f"sqlite:///{tmp}/monitor.db"]
            env = {k: v for k, v in os.environ.items() if k not in ("MONITOR_DB", "MONITOR_SOURCES")}
            seen: set[object] = set()
            for i, name in enumerate(versions):
                md = (history / name).read_text(encoding="utf-8")
                site.body = web_page(md, history.name, layout).encode()
                run = subprocess.run(
                    [*base, "run"], cwd=tmp, env=env, capture_output=True, text=True, timeout=300
                )
                listed = subprocess.run(
                    [*base, "alerts", "--json", "--all"],
                    cwd=tmp,
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=120,
                )
                try:
                    alerts = json.loads(listed.stdout)
                except json.JSONDecodeError:
                    output = (listed.stdout + listed.stderr)[-300:]
                    sys.exit(f"`monitor alerts --json --all` gave no JSON: {output}")
                fresh = [a for a in alerts if a["id"] not in seen]
                new = Counter(a["kind"] for a in fresh)
                seen |= {a["id"] for a in alerts}
                if run.returncode not in (0, 3):
                    sys.exit(
                        f"`monitor run` exited {run.returncode} on {history.name}/{name}: {run.stderr[-300:]}"
                    )
                if i == 0:
                    initial = new
                else:
                    transitions[i - 1].kinds = new
                    transitions[i - 1].alerts = fresh
                    transitions[i - 1].run_exit = run.returncode
    finally:
        site.close()
    return transitions, initial, time.monotonic() - started


# --------------------------------------------------------------------------------------------------
# Report


def report(results: list[tuple[Path, list[Transition], Counter[str], float]]) -> str:
    every = [t for _, ts, _, _ in results for t in ts]
    out = [
        "## Replayed version histories",
        "",
        "Written by `bench/replay_histories.py`: each archived version served on a loopback server inside "
        "site chrome, `monitor run` after each one, alerts read with `monitor alerts --json --all`. "
        "Target: `page_changed` on every substantive transition and on no other; `fact_changed` exactly "
        "where a fact changed.",
        "",
        "| class | transitions | raised page_changed | raised fact_changed | wrong |",
        "|---|---|---|---|---|",
    ]
    for cls in CLASSES:
        ts = [t for t in every if t.cls == cls]
        out.append(
            f"| {cls} | {len(ts)} | {sum(t.page_changed for t in ts)} | {sum(t.fact_changed for t in ts)} "
            f"| {sum(t.wrong() is not None for t in ts)} |"
        )
    out.append(
        f"| all | {len(every)} | {sum(t.page_changed for t in every)} | {sum(t.fact_changed for t in every)} "
        f"| {sum(t.wrong() is not None for t in every)} |"
    )
    out += [
        "",
        "| history | versions | transitions | wrong | first run raised | seconds |",
        "|---|---|---|---|---|---|",
    ]
    for history, ts, initial, seconds in results:
        first = ", ".join(f"{k} x{n}" for k, n in sorted(initial.items())) or "nothing"
        wrong = sum(t.wrong() is not None for t in ts)
        out.append(f"| `{history.name}` | {len(ts) + 1} | {len(ts)} | {wrong} | {first} | {seconds:.0f} |")
    wrong_ts = [t for t in every if t.wrong()]
    out += ["", "Wrong transitions:" if wrong_ts else "No wrong transition.", ""]
    for t in wrong_ts:
        kinds = ", ".join(f"{k} x{n}" for k, n in sorted(t.kinds.items())) or "no alert"
        pair = f"{t.source[:2]} -> {t.target[:2]}"
        facts = "; ".join(
            f"{a.get('field')}: {a.get('old')!r} -> {a.get('new')!r} (evidence: {_short(a.get('evidence'))})"
            for a in t.alerts
            if a.get("kind") == "fact_changed"
        )
        detail = f" fact_changed {facts}." if facts else ""
        out.append(
            f"- `{t.history}` {pair} ({t.cls}): {t.wrong()}; raised {kinds}.{detail} Transition: {t.what}"
        )
    return "\n".join(out).rstrip() + "\n"


def _short(value: object, limit: int = 160) -> str:
    text = " ".join(str(value or "").split())
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def write_section(doc: Path, section: str) -> None:
    block = f"{START}\n{section}{END}"
    text = doc.read_text(encoding="utf-8") if doc.exists() else "# Accuracy\n"
    if START in text and END in text:
        head, rest = text.split(START, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="directory of histories")
    parser.add_argument(
        "--doc", type=Path, default=DEFAULT_DOC, help="Markdown file whose section is rewritten"
    )
    parser.add_argument("--no-write", action="store_true", help="print the section, do not write it")
    parser.add_argument("--only", action="append", default=[], help="replay only this history (repeatable)")
    args = parser.parse_args()
    histories = sorted(p for p in args.corpus.iterdir() if (p / "transitions.jsonl").exists())
    if args.only:
        histories = [h for h in histories if h.name in args.only]
    if not histories:
        sys.exit(f"no histories (directories with transitions.jsonl) in {args.corpus}")
    monitor = monitor_command()
    results = []
    for history in histories:
        transitions, initial, seconds = replay(history, monitor)
        results.append((history, transitions, initial, seconds))
        wrong = sum(t.wrong() is not None for t in transitions)
        print(
            f"{history.name}: {len(transitions)} transitions, {wrong} wrong ({seconds:.0f} s)",
            file=sys.stderr,
        )
    section = report(results)
    print(section)
    if not args.no_write:
        write_section(args.doc, section)
        print(f"wrote {args.doc}", file=sys.stderr)


if __name__ == "__main__":
    main()
