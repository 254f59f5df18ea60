"""Loopback web sites for the benchmarks: realistic policy pages served from 127.0.0.1.

`Sites` writes one HTML file per page into a directory and serves them from M `ThreadingHTTPServer`s, each
on its own port, in a separate process (so the servers do not compete with the measured client for the
interpreter lock). Every request waits `latency` seconds before it is answered. Pages are read from disk on
every request, so a page is changed by rewriting its file (`Sites.set_version`).

Two kinds of site:

* dynamic (default): each response carries a fresh nonce (a CSRF token and a script nonce) and no
  validators, as many policy pages served by web applications do: the body differs on every request, so
  the monitor must normalise and read every page on every run;
* static (`static=True`): byte-identical bodies with an `ETag` and `Last-Modified`, answering
  conditional requests with 304, as a CDN serving a static page does.

    with Sites(root, pages=400, hosts=40, latency=0.1, size_kb=40) as sites:
        sites.urls()           # http://127.0.0.1:PORT/legal/privacy-N.html, page N on host N % hosts
        sites.set_version(i, 1)  # page i now states a different retention period
"""

from __future__ import annotations

import hashlib
import http.server
import multiprocessing
import os
import random
import secrets
import time
from email.utils import formatdate
from pathlib import Path

NONCE = "__NONCE__"

# Policy prose: generic clauses that say nothing about retention or training periods (so the only facts are
# the sentences placed on purpose). Each is reworded for each place it is used (`_reword`): real policies
# rarely repeat a sentence, within a page or from one vendor to the next, and pages built from a few
# sentences repeated hundreds of times would flatter anything that remembers sentences it has read.
CLAUSES = [
    "We collect information you provide directly to us, such as when you create an account, contact our "
    "support team, subscribe to a newsletter or take part in a survey.",
    "This information may include your name, email address, postal address, telephone number, company name, "
    "job title and any other information you choose to provide.",
    "We use the information we collect to provide, maintain and improve our services, to process "
    "transactions and send related information, including confirmations and invoices.",
    "We may share information with vendors, consultants and other service providers who need access to such "
    "information to carry out work on our behalf, subject to confidentiality obligations.",
    "We take reasonable measures to help protect information about you from loss, theft, misuse and "
    "unauthorised access, disclosure, alteration and destruction.",
    "You may update, correct or delete information about you at any time by logging into your account or "
    "by contacting us at the address given at the end of this policy.",
    "Our services are not directed to children under the age of thirteen, and we do not knowingly collect "
    "personal information from children.",
    "If we make material changes to this policy, we will notify you by email or by means of a notice on our "
    "website before the change becomes effective.",
    "Where the law of your country requires a legal basis for processing, we rely on the performance of a "
    "contract, our legitimate interests, your consent or compliance with legal obligations.",
    "We transfer information to countries other than the one in which you live, and we apply appropriate "
    "safeguards such as standard contractual clauses approved by the European Commission.",
    "Cookies are small data files stored on your hard drive or in device memory that help us improve our "
    "services and your experience, see which areas and features are popular and count visits.",
    "You can usually choose to set your browser to remove or reject browser cookies, although doing so may "
    "affect the availability and functionality of our services.",
    "Residents of certain jurisdictions have the right to request access to the personal information we "
    "hold about them and to receive it in a portable format.",
    "We do not sell personal information, and we do not share it for cross-context behavioural advertising "
    "as those terms are defined by applicable law.",
    "Our enterprise customers act as controllers of the content they submit, and we process that content as "
    "their processor under the terms of our data processing addendum.",
    "Access to customer content by our personnel is restricted to a small number of authorised employees "
    "and is logged and reviewed on a regular basis.",
]
# Words of the clauses and what each may be replaced with (chosen per sentence).
WORDING = {
    "information": ("information", "data", "details", "records", "personal information"),
    "services": ("services", "products", "platform", "websites and apps", "offerings"),
    "provide": ("provide", "deliver", "operate", "offer", "run"),
    "may": ("may", "might", "can", "could"),
    "improve": ("improve", "develop", "enhance", "refine"),
    "vendors": ("vendors", "suppliers", "contractors", "partners"),
    "reasonable": ("reasonable", "appropriate", "industry-standard", "proportionate"),
    "contact": ("contact", "reach", "write to", "get in touch with"),
    "policy": ("policy", "notice", "statement", "privacy policy"),
    "customers": ("customers", "clients", "business users", "organisations"),
    "regular": ("regular", "periodic", "routine", "scheduled"),
    "country": ("country", "region", "jurisdiction", "state"),
}
QUALIFIERS = (
    " where the law allows {name} to", " in line with the law that applies to {name}", " as this {policy} describes",
    " unless you tell {name} otherwise", " at {name}", " for the {section} work of {name}", " in most cases",
    " where it is practical for {name}", " as {name} customers would expect", " across the {section} teams of {name}",
    " within {name} and its affiliates", " for {name} {section} purposes",
)  # fmt: skip
SECTIONS = ("billing", "support", "research", "security", "marketing", "sales", "product", "legal", "operations")
HEADINGS = [
    "Information we collect",
    "How we use information",
    "Sharing of information",
    "Security",
    "Your choices",
    "Children",
    "Changes to this policy",
    "International transfers",
    "Cookies and similar technologies",
    "Your rights",
]
RETENTION = [
    "We retain API inputs and outputs for up to 30 days, after which they are deleted from our systems.",
    "We retain API inputs and outputs for up to 45 days, after which they are deleted from our systems.",
]
TRAINING = "We do not train our models on API inputs or outputs."
FLAGGED = "Inputs and outputs flagged for abuse may be retained for up to 2 years."


def page_html(index: int, version: int, size_kb: float) -> str:
    """A vendor's privacy page: head with styles and scripts, navigation, cookie banner, a main article of
    about `size_kb` KB of policy paragraphs (with one retention, one flagged-content and one training
    sentence), footer. `version` 0 and 1 differ only in the retention period."""
    rnd = random.Random(index)
    name = f"Vendor {_letters(index)}"  # no digits: a title with "404" or "503" in it reads as an error page
    target = int(size_kb * 1024)
    sections: list[str] = []
    length = 0
    section = 0
    while length < target or section < 3:
        heading = HEADINGS[(index + section) % len(HEADINGS)]
        paras = []
        for _ in range(3):
            sents = [_reword(c, rnd, name) for c in rnd.sample(CLAUSES, 4)]
            paras.append("<p>" + " ".join(sents) + "</p>")
        if section == 1:
            paras.insert(1, f"<p>{RETENTION[version]} {FLAGGED}</p>")
        if section == 2:
            paras.insert(0, f"<p>{TRAINING}</p>")
        block = f'<section id="s{section}"><h2>{heading}</h2>\n' + "\n".join(paras) + "</section>"
        sections.append(block)
        length += len(block)
        section += 1
    article = "\n".join(sections)
    nav = "".join(f'<li><a href="/{p}">{p.title()}</a></li>' for p in ("product", "pricing", "docs", "blog", "careers"))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Privacy Policy | {name}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="csrf-token" content="{NONCE}">
<link rel="stylesheet" href="/static/app.{index:04x}.css">
<style>body{{font-family:sans-serif;margin:0}}.banner{{position:fixed;bottom:0}}nav ul{{display:flex}}</style>
<script nonce="{NONCE}">window.__BUILD__={{"id":"{NONCE}","page":{index}}};</script>
<script async src="/static/analytics.js"></script>
</head><body>
<header><a href="/" class="logo">{name}</a><nav><ul>{nav}</ul></nav>
<form action="/search"><input name="q" placeholder="Search"></form></header>
<div class="banner" id="cookie-banner" role="dialog"><p>We use cookies to improve your experience.
<a href="/cookies">Learn more</a></p><button>Accept all</button><button>Reject</button></div>
<main><article>
<h1>Privacy Policy</h1>
<p class="updated">Last updated: March 3, 2026</p>
{article}
<h2>Contact us</h2><p>Questions about this policy can be sent to privacy@vendor{index}.example.</p>
</article></main>
<footer><p>&copy; 2026 {name}, Inc.</p><ul><li><a href="/terms">Terms</a></li>
<li><a href="/privacy">Privacy</a></li><li><a href="/status">Status</a></li></ul></footer>
<script>document.querySelectorAll('.banner button').forEach(b=>b.onclick=()=>b.parentNode.remove());</script>
</body></html>
"""


def _reword(clause: str, rnd: random.Random, name: str) -> str:
    """The clause with some of its words replaced and a qualifier added, as `rnd` chooses."""
    words = clause[:-1].split(" ")
    for i, word in enumerate(words):
        bare = word.rstrip(",")
        if bare in WORDING:
            words[i] = rnd.choice(WORDING[bare]) + word[len(bare) :]
    qualifier = rnd.choice(QUALIFIERS).format(
        name=name, section=rnd.choice(SECTIONS), policy=rnd.choice(WORDING["policy"])
    )
    return " ".join(words) + qualifier + "."


def _letters(n: int) -> str:
    out = ""
    while True:
        n, r = divmod(n, 26)
        out = chr(ord("A") + r) + out
        if n == 0:
            return out
        n -= 1


def _make_handler(root: Path, latency: float, static: bool) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real servers
        disable_nagle_algorithm = True  # headers and body are separate writes: no 40 ms delayed-ACK stalls

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

        def do_GET(self) -> None:  # noqa: N802
            if latency:
                time.sleep(latency)
            if self.path == "/robots.txt":
                self._send(200, b"User-agent: *\nDisallow: /private/\n", "text/plain")
                return
            path = root / self.path.lstrip("/").replace("/", "_")
            try:
                body = path.read_bytes()
            except OSError:
                self._send(404, b"<html><body><h1>Not found</h1></body></html>", "text/html")
                return
            if static:
                etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self._send(200, body, "text/html; charset=utf-8", [("ETag", etag)])
            else:
                body = body.replace(NONCE.encode(), secrets.token_hex(16).encode())
                self._send(200, body, "text/html; charset=utf-8", [("Cache-Control", "no-store")])

        def _send(self, status: int, body: bytes, ctype: str, extra: list[tuple[str, str]] = ()) -> None:  # type: ignore[assignment]
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Date", formatdate(usegmt=True))
            for k, v in extra:
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

    return Handler


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def handle_error(self, request: object, client_address: object) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):  # clients closing keep-alive connections
            super().handle_error(request, client_address)  # type: ignore[arg-type]


def _serve(root: str, hosts: int, latency: float, static: bool, conn: multiprocessing.connection.Connection) -> None:
    import threading

    handler = _make_handler(Path(root), latency, static)
    servers = [_Server(("127.0.0.1", 0), handler) for _ in range(hosts)]
    for s in servers:
        threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.5}, daemon=True).start()
    conn.send([s.server_address[1] for s in servers])
    conn.recv()  # block until told to stop (or the parent goes away)


class Sites:
    """`pages` policy pages on `hosts` loopback servers (in a child process); see the module docstring."""

    def __init__(
        self,
        root: Path,
        *,
        pages: int,
        hosts: int,
        latency: float,
        size_kb: float,
        static: bool = False,
    ):
        self.root = Path(root)
        self.pages, self.hosts, self.latency, self.size_kb, self.static = pages, hosts, latency, size_kb, static
        self.ports: list[int] = []
        self._proc: multiprocessing.Process | None = None
        self._conn: multiprocessing.connection.Connection | None = None

    def __enter__(self) -> Sites:
        self.root.mkdir(parents=True, exist_ok=True)
        for i in range(self.pages):
            self.set_version(i, 0)
        parent, child = multiprocessing.Pipe()
        ctx = multiprocessing.get_context("spawn")
        self._proc = ctx.Process(
            target=_serve, args=(str(self.root), self.hosts, self.latency, self.static, child), daemon=True
        )
        self._proc.start()
        self.ports = parent.recv()
        self._conn = parent
        return self

    def __exit__(self, *exc: object) -> None:
        if self._conn is not None:
            try:
                self._conn.send("stop")
            except OSError:
                pass
        if self._proc is not None:
            self._proc.join(timeout=5)
            if self._proc.is_alive():
                self._proc.kill()

    @property
    def server_pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def url(self, i: int) -> str:
        return f"http://127.0.0.1:{self.ports[i % self.hosts]}/legal/privacy-{i}.html"

    def urls(self) -> list[str]:
        return [self.url(i) for i in range(self.pages)]

    def set_version(self, i: int, version: int) -> None:
        path = self.root / f"legal_privacy-{i}.html"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(page_html(i, version, self.size_kb), encoding="utf-8")
        os.replace(tmp, path)

    def sources_yaml(self, defaults: dict[str, object]) -> str:
        """A sources.yaml with one vendor per host (that host's pages as its sources)."""
        lines = ["version: 1"]
        if defaults:
            lines.append("defaults:")
            lines += [f"  {k}: {v}" for k, v in defaults.items()]
        lines.append("vendors:")
        for h in range(self.hosts):
            mine = range(h, self.pages, self.hosts)
            if not mine:
                continue
            lines += [
                f"  - id: vendor-{h}",
                f"    name: Vendor {h}",
                '    expected: {retention: P30D, training: "no"}',
                "    sources:",
            ]
            lines += [f"      - url: {self.url(i)}" for i in mine]
        return "\n".join(lines) + "\n"


def monitor_command() -> str:
    """The installed `monitor` command next to this interpreter."""
    import sys

    exe = Path(sys.executable).parent / "monitor"
    if not exe.exists():
        raise SystemExit(f"{exe} not found: install the project (pip install -e .) in this environment")
    return str(exe)
