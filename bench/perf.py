#!/usr/bin/env python3
"""How fast is `monitor run` against a bare HTTP client, and how much memory and disk does it use?

Serves N realistic policy pages (see `_loopback.py`) from M loopback HTTP servers, each adding `--latency`
to every request, writes a sources.yaml for them, and times with the wall clock, in the same run:

a. the floor: a bare `httpx.AsyncClient` fetching the same pages, one at a time per host, all hosts at once,
   no parsing, no storage (`bare_client.py`), timed inside this already started process; and the same
   bare client run as a program of its own, timed from outside as the monitor runs are (a'), for reference;
b. a cold `monitor run` (new SQLite database), run as a user runs it: the installed `monitor` command in a
   subprocess, so interpreter start-up, imports and the schema migration count;
c. an unchanged run (nothing changed on the pages);
d. a run after 10% of the pages changed their retention sentence.

For each monitor run it records the wall time, the ratio to the floor, its peak RSS (`/usr/bin/time -f %M`,
or `getrusage(RUSAGE_CHILDREN)` where that is missing), and what the run reported (it must report N new,
N unchanged, then N/10 changed: a fast wrong run is no result). It also records the bytes the unchanged run
adds to the database (`.db` + `-wal`) per source.

The sources.yaml sets `concurrency` to the number of hosts and `per_host: 1`, so the monitor is allowed the
same requests in flight as the floor (`--tool-limits` keeps the tool's defaults instead: 32 overall, 2 per
host). robots.txt is on, as a user runs it: one request per host more than the floor makes.

Every configuration runs `--repeat` times (fresh servers and database each time); the medians go to the
section of docs/benchmarks.md between `<!-- perf:start -->` and `<!-- perf:end -->`.

    python bench/perf.py [--pages 400] [--hosts 40] [--latency 0.1] [--size 40] [--repeat 3] [--static]
                         [--large] [--no-write] [--profile out.prof]

`--large` also runs the 10,000-source variant (100 hosts, no latency, 4 KB pages, once).
`--profile F` runs one more cold run under cProfile and prints the top cumulative entries of policy_monitor
(`--profile-only`: that run alone).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _loopback import Sites, monitor_command  # noqa: E402
from bare_client import fetch_all  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- perf:start -->", "<!-- perf:end -->"
GNU_TIME = "/usr/bin/time"


@dataclass
class Config:
    pages: int
    hosts: int
    latency: float
    size_kb: float
    static: bool = False
    tool_limits: bool = False

    def label(self) -> str:
        kind = "static (ETag, 304)" if self.static else "dynamic (per-request nonce, no ETag)"
        return (
            f"{self.pages} pages, {self.hosts} hosts, {self.latency * 1000:g} ms latency, "
            f"~{self.size_kb:g} KB pages, {kind}" + (", tool's default limits" if self.tool_limits else "")
        )


@dataclass
class RunResult:
    seconds: float
    peak_rss_mb: float  # the monitor process alone (GNU time %M, or getrusage)
    summary: str
    exit_code: int
    cpu_seconds: float = 0.0  # user + system of the run and the children it waited for
    tree_pss_mb: float = 0.0  # sampled peak of the summed PSS of the process and its worker processes
    tree_rss_mb: float = 0.0  # the same with RSS (counts shared pages once per process)
    load: float = 0.0  # 1-minute load average when the run started


@dataclass
class Trial:
    floor: float
    floor_bytes: int
    floor_cpu: float
    floor_program: float
    cold: RunResult
    unchanged: RunResult
    changed: RunResult
    unchanged_db_bytes_per_source: float
    unchanged_used_bytes_per_source: float
    db_bytes_after_cold: int
    fixed_cold: float
    fixed_unchanged: float
    problems: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------------------------
# the floor


def floor(sites: Sites) -> tuple[float, int, float]:
    """Wall seconds, bytes fetched and CPU seconds of the bare client, in this process."""
    before = resource.getrusage(resource.RUSAGE_SELF)
    seconds, nbytes = fetch_all(sites.urls())
    after = resource.getrusage(resource.RUSAGE_SELF)
    return seconds, nbytes, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def floor_program(sites: Sites, work: Path) -> float:
    """Wall seconds of the bare client run as a program of its own, as `monitor run` is run."""
    urls = work / "urls.txt"
    urls.write_text("\n".join(sites.urls()) + "\n")
    start = time.perf_counter()
    subprocess.run([sys.executable, str(Path(__file__).parent / "bare_client.py"), str(urls)], check=True)
    return time.perf_counter() - start


# --------------------------------------------------------------------------------------------------
# monitor runs


def rss_method() -> str:
    return "GNU time %M (max RSS of the process)" if os.path.exists(GNU_TIME) else "getrusage(RUSAGE_CHILDREN)"


def _descendants(root: int) -> list[int]:
    """`root` and every process below it, from /proc/*/stat."""
    parent: dict[int, list[int]] = defaultdict(list)
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                stat = Path(f"/proc/{d}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
            parent[ppid].append(int(d))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += parent.get(pid, [])
    return out


def _tree_memory(root: int, cpu: dict[int, float]) -> tuple[float, float]:
    """Summed PSS and RSS (MB) of a process tree, from /proc/PID/smaps_rollup; records each process's CPU
    seconds so far (utime + stime) in `cpu`."""
    pss = rss = 0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in _descendants(root):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            cpu[pid] = (int(fields[11]) + int(fields[12])) / tick
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    pss += int(line.split()[1])
                elif line.startswith("Rss:"):
                    rss += int(line.split()[1])
        except OSError:
            continue
    return pss / 1024, rss / 1024


class TreeSampler(threading.Thread):
    """Samples a process tree's memory every `period` seconds until stopped; keeps the peaks."""

    def __init__(self, root: int, period: float = 0.1):
        super().__init__(daemon=True)
        self.root, self.period = root, period
        self.pss = self.rss = 0.0
        self.cpu: dict[int, float] = {}  # pid -> CPU seconds last seen
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(self.period):
            pss, rss = _tree_memory(self.root, self.cpu)
            self.pss, self.rss = max(self.pss, pss), max(self.rss, rss)


def monitor_run(sources: Path, db: Path, extra_env: dict[str, str] | None = None) -> RunResult:
    cmd = [monitor_command(), "--sources", str(sources), "--db", f"sqlite:///{db}", "run"]
    env = {**os.environ, **(extra_env or {})}
    gnu = os.path.exists(GNU_TIME)
    load = os.getloadavg()[0]
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss_file:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        if gnu:
            cmd = [GNU_TIME, "-f", "%M %U %S", "-o", rss_file.name, *cmd]
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        sampler = TreeSampler(proc.pid)
        sampler.start()
        out, err = proc.communicate()
        seconds = time.perf_counter() - start
        sampler.done.set()
        sampler.join()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        # children's rusage misses worker processes nobody waited for; the samples miss each process's last
        # 0.1 s: take the larger
        cpu = max((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), sum(sampler.cpu.values()))
        if gnu:
            fields = Path(rss_file.name).read_text().strip().splitlines()[-1].split()
            kb = int(fields[0])
        else:
            # ru_maxrss of children is the largest child so far: only a lower bound after the first run
            kb = max(after.ru_maxrss, before.ru_maxrss)
    line = out.strip().splitlines()[-1] if out.strip() else err.strip()[-300:]
    return RunResult(seconds, kb / 1024, line, proc.returncode, cpu, sampler.pss, sampler.rss, load)


def db_bytes(db: Path) -> int:
    return sum(p.stat().st_size for p in (db, Path(f"{db}-wal")) if p.exists())


def db_used(db: Path) -> int:
    """Bytes of the database's pages in use (page_count - freelist_count), WAL checkpointed first."""
    import sqlite3

    con = sqlite3.connect(db)
    try:
        con.execute("pragma wal_checkpoint(TRUNCATE)")
        pages = con.execute("pragma page_count").fetchone()[0] - con.execute("pragma freelist_count").fetchone()[0]
        return int(pages * con.execute("pragma page_size").fetchone()[0])
    finally:
        con.close()


def fixed_cost(cfg: Config, work: Path) -> tuple[float, float]:
    """A cold and an unchanged `monitor run` of one page on one host without latency: what every run costs
    before it fetches anything (interpreter start-up, imports, opening and migrating the database)."""
    with Sites(work / "one", pages=1, hosts=1, latency=0.0, size_kb=cfg.size_kb, static=cfg.static) as sites:
        sources = work / "one.yaml"
        sources.write_text(sites.sources_yaml({"timeout": 60}))
        db = work / "one.db"
        return monitor_run(sources, db).seconds, monitor_run(sources, db).seconds


def _count(summary: str, word: str) -> int | None:
    m = re.search(rf"\b{word} (\d+)", summary)
    return int(m[1]) if m else None


def check(result: RunResult, what: str, expect: dict[str, int], problems: list[str]) -> None:
    if result.exit_code != 0:
        problems.append(f"{what}: exit {result.exit_code}: {result.summary}")
    for word, n in expect.items():
        got = _count(result.summary, word)
        if got != n:
            problems.append(f"{what}: expected {word} {n}, got {got} ({result.summary})")


def write_sources(cfg: Config, sites: Sites, work: Path) -> Path:
    """The sources file of a trial: the tool's own limits, or as many requests in flight as the floor uses."""
    defaults: dict[str, object] = {"timeout": 60}
    if not cfg.tool_limits:
        defaults |= {"concurrency": min(cfg.hosts, 1000), "per_host": 1}
    sources = work / "sources.yaml"
    sources.write_text(sites.sources_yaml(defaults))
    return sources


def trial(cfg: Config, work: Path) -> Trial:
    with Sites(
        work / "site", pages=cfg.pages, hosts=cfg.hosts, latency=cfg.latency, size_kb=cfg.size_kb, static=cfg.static
    ) as sites:
        sources = write_sources(cfg, sites, work)
        db = work / "monitor.db"
        floor(sites)  # warm the page cache and the servers; not counted
        fl, fl_bytes, fl_cpu = floor(sites)
        fl_program = floor_program(sites, work)
        problems: list[str] = []
        cold = monitor_run(sources, db)
        check(cold, "cold", {"checked": cfg.pages, "new": cfg.pages, "failed": 0}, problems)
        after_cold = db_bytes(db)
        used_after_cold = db_used(db)  # checkpoints: the unchanged run starts from an empty WAL
        after_cold_ckpt = db_bytes(db)
        unchanged = monitor_run(sources, db)
        check(unchanged, "unchanged", {"checked": cfg.pages, "unchanged": cfg.pages, "failed": 0}, problems)
        grown = db_bytes(db) - after_cold_ckpt
        used_grown = db_used(db) - used_after_cold
        changed_pages = list(range(0, cfg.pages, 10))
        for i in changed_pages:
            sites.set_version(i, 1)
        changed = monitor_run(sources, db)
        check(changed, "changed", {"checked": cfg.pages, "changed": len(changed_pages), "failed": 0}, problems)
    fixed = fixed_cost(cfg, work)
    return Trial(
        fl,
        fl_bytes,
        fl_cpu,
        fl_program,
        cold,
        unchanged,
        changed,
        grown / cfg.pages,
        used_grown / cfg.pages,
        after_cold,
        *fixed,
        problems,
    )


def run_config(cfg: Config, repeat: int) -> list[Trial]:
    trials = []
    for k in range(repeat):
        work = Path(tempfile.mkdtemp(prefix="monitor-perf-"))
        try:
            t = trial(cfg, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        trials.append(t)
        print(
            f"  [{k + 1}/{repeat}] floor {t.floor:.2f}s (as a program {t.floor_program:.2f}s)  "
            + "  ".join(
                f"{n} {r.seconds:.2f}s cpu {r.cpu_seconds:.1f}s ({r.peak_rss_mb:.0f}/{r.tree_pss_mb:.0f} MB)"
                for n, r in (("cold", t.cold), ("unchanged", t.unchanged), ("changed", t.changed))
            )
            + f"  +{t.unchanged_db_bytes_per_source:.0f} B/source  load {t.cold.load:.1f}",
            flush=True,
        )
        for p in t.problems:
            print(f"    PROBLEM {p}", flush=True)
    return trials


# --------------------------------------------------------------------------------------------------
# report


def med(values: list[float]) -> float:
    return statistics.median(values)


def table(cfg: Config, trials: list[Trial], large: bool) -> str:
    fl = med([t.floor for t in trials])
    rows = [
        "| | wall s (median) | all runs | x floor | time target | CPU s | RSS MB, main process | "
        "peak PSS MB, process tree | load avg |",
        "|---|---:|---|---:|---|---:|---:|---:|---:|",
        f"| (a) floor: bare httpx | {fl:.2f} | {', '.join(f'{t.floor:.2f}' for t in trials)} | 1.00 | | "
        f"{med([t.floor_cpu for t in trials]):.2f} | | | |",
        f"| (a') the same bare client as a program of its own (start-up and imports count, as for the runs "
        f"below) | {med([t.floor_program for t in trials]):.2f} | "
        f"{', '.join(f'{t.floor_program:.2f}' for t in trials)} | "
        f"{med([t.floor_program / t.floor for t in trials]):.2f} | | | | | |",
    ]
    mem_target = 200 if large else 100
    for key, name, target in (
        ("cold", "(b) cold `monitor run`", 1.5),
        ("unchanged", "(c) unchanged run", 1.2),
        ("changed", "(d) 10% of pages changed", None),
    ):
        runs: list[RunResult] = [getattr(t, key) for t in trials]
        s = med([r.seconds for r in runs])
        ratio = med([r.seconds / t.floor for r, t in zip(runs, trials, strict=True)])
        rss = med([r.peak_rss_mb for r in runs])
        pss = med([r.tree_pss_mb for r in runs])
        tgt = f"<= {target}x: {'met' if ratio <= target else '**missed**'}" if target else ""
        mem = f"< {mem_target}: met" if pss < mem_target else f"< {mem_target}: **missed**"
        rows.append(
            f"| {name} | {s:.2f} | {', '.join(f'{r.seconds:.2f}' for r in runs)} | {ratio:.2f} | {tgt} | "
            f"{med([r.cpu_seconds for r in runs]):.2f} | {rss:.0f} | {pss:.0f} ({mem}) | "
            f"{', '.join(f'{r.load:.1f}' for r in runs)} |"
        )
    grow = med([t.unchanged_db_bytes_per_source for t in trials])
    used = med([t.unchanged_used_bytes_per_source for t in trials])
    rows.append(
        f"| fixed cost: cold / unchanged run of 1 page, 0 ms | {med([t.fixed_cold for t in trials]):.2f} / "
        f"{med([t.fixed_unchanged for t in trials]):.2f} | | | | | | | |"
    )
    out = [f"**{cfg.label()}**, {len(trials)} run(s); floor fetched {trials[0].floor_bytes / 2**20:.1f} MiB.", ""]
    out += rows
    out += [
        "",
        f"- An unchanged run adds **{grow:.0f} bytes per source** to the database (.db + -wal; target < 100 B: "
        f"{'met' if grow < 100 else '**missed**'}; pages in use grew by {used:.0f} B per source); the database "
        f"after the cold run: "
        f"{med([t.db_bytes_after_cold for t in trials]) / 2**20:.1f} MiB "
        f"({med([t.db_bytes_after_cold for t in trials]) / cfg.pages / 1024:.1f} KiB per source).",
        f"- What the runs reported (last trial): cold `{trials[-1].cold.summary}`; unchanged "
        f"`{trials[-1].unchanged.summary}`; changed `{trials[-1].changed.summary}`.",
    ]
    problems = [p for t in trials for p in t.problems]
    if problems:
        out.append("- **Wrong results**: " + "; ".join(problems))
    return "\n".join(out)


def machine() -> str:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}){f', {cpu}' if cpu else ''}; "
        f"Python {platform.python_version()} on {platform.system()} {platform.release()}; "
        f"{dt.date.today().isoformat()}"
    )


def write_section(doc: Path, start: str, end: str, body: str, within: str | None = None) -> None:
    """Replace the text between the markers `start` and `end` with `body`; where they are missing, add the
    block before the marker `within` (or at the end of the document)."""
    text = doc.read_text() if doc.exists() else "# Benchmarks\n"
    block = f"{start}\n{body}\n{end}"
    if start in text and end in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end) :]
    elif within and within in text:
        text = text.replace(within, block + "\n\n" + within, 1)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    doc.write_text(text)


def block_key(cfg: Config) -> str:
    kind = "static" if cfg.static else "dynamic"
    return f"{cfg.pages}p-{cfg.hosts}h-{cfg.latency * 1000:g}ms-{cfg.size_kb:g}kb-{kind}" + (
        "-tool-limits" if cfg.tool_limits else ""
    )


def profile(cfg: Config, out: Path, top: int = 25) -> str:
    """One cold run under cProfile; the top cumulative entries whose file is under policy_monitor/."""
    import pstats

    work = Path(tempfile.mkdtemp(prefix="monitor-prof-"))
    try:
        with Sites(
            work / "site", pages=cfg.pages, hosts=cfg.hosts, latency=cfg.latency, size_kb=cfg.size_kb, static=cfg.static
        ) as sites:
            sources = write_sources(cfg, sites, work)
            cmd = [
                sys.executable,
                "-m",
                "cProfile",
                "-o",
                str(out),
                monitor_command(),
                "--sources",
                str(sources),
                "--db",
                f"sqlite:///{work / 'p.db'}",
                "run",
            ]
            start = time.perf_counter()
            subprocess.run(cmd, check=False, capture_output=True)
            took = time.perf_counter() - start
    finally:
        shutil.rmtree(work, ignore_errors=True)
    stats = pstats.Stats(str(out))
    entries = []
    for (file, line, func), (_cc, nc, tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        if "policy_monitor" in file:
            rel = file[file.index("policy_monitor") :]
            entries.append((ct, tt, nc, f"{rel}:{line}({func})"))
    entries.sort(reverse=True)
    total = max((ct for (_f, _l, _fn), (_c, _n, _t, ct, _x) in stats.stats.items()), default=0.0)  # type: ignore[attr-defined]
    lines = [
        f"Cold run under cProfile ({cfg.label()}): {took:.2f} s wall (profiling slows it down), "
        f"{total:.2f} s cumulative in the top frame. Top cumulative entries in policy_monitor/:",
        "",
        "| cumulative s | own s | calls | function |",
        "|---:|---:|---:|---|",
    ]
    lines += [f"| {ct:.2f} | {tt:.2f} | {nc} | `{name}` |" for ct, tt, nc, name in entries[:top]]
    own = sorted(
        (
            (tt, nc, f"{_short(file)}:{line}({func})")
            for (file, line, func), (_c, nc, tt, _ct, _x) in stats.stats.items()
        ),  # type: ignore[attr-defined]
        reverse=True,
    )
    lines += ["", "Top own time, every module:", "", "| own s | calls | function |", "|---:|---:|---|"]
    lines += [f"| {tt:.2f} | {nc} | `{name}` |" for tt, nc, name in own[:15]]
    return "\n".join(lines)


def profile_analyse(cfg: Config, n: int = 40, top: int = 15) -> str:
    """Reading pages (normalise + extract) in this process under cProfile: the `monitor run` profile above
    cannot see it once it runs in worker processes."""
    import cProfile
    import pstats

    from _loopback import page_html

    from policy_monitor.analyse import PageRules, analyse

    pages = [page_html(i, 0, cfg.size_kb) for i in range(n)]
    rules = PageRules(None, (), ())
    analyse(pages[0], "text/html", rules)  # compile the patterns first
    cpu = time.process_time()
    for h in pages:
        analyse(h, "text/html", rules)
    per_page = (time.process_time() - cpu) / n
    prof = cProfile.Profile()
    prof.enable()
    for h in pages:
        analyse(h, "text/html", rules)
    prof.disable()
    stats = pstats.Stats(prof)
    entries = sorted(
        (
            (ct, tt, nc, f"{_short(file)}:{line}({func})")
            for (file, line, func), (_c, nc, tt, ct, _x) in stats.stats.items()  # type: ignore[attr-defined]
            if "policy_monitor" in file
        ),
        reverse=True,
    )
    lines = [
        f"Reading one ~{cfg.size_kb:g} KB page (`policy_monitor.analyse.analyse`: normalise + extract facts) costs "
        f"**{per_page * 1000:.1f} ms of CPU** (mean of {n} pages, no profiler). Under cProfile, "
        f"per {n} pages:",
        "",
        "| cumulative s | own s | calls | function |",
        "|---:|---:|---:|---|",
    ]
    lines += [f"| {ct:.3f} | {tt:.3f} | {nc} | `{name}` |" for ct, tt, nc, name in entries[:top]]
    return "\n".join(lines)


def _short(file: str) -> str:
    for marker in ("site-packages/", "policy_monitor/", "lib/python3"):
        if marker in file:
            return file[file.index(marker) :].removeprefix("site-packages/")
    return file


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pages", type=int, default=400)
    ap.add_argument("--hosts", type=int, default=40)
    ap.add_argument("--latency", type=float, default=0.1, help="seconds added to every request")
    ap.add_argument("--size", type=float, default=40, help="KB of policy text per page")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--static", action="store_true", help="byte-identical pages with ETag (304 when unchanged)")
    ap.add_argument("--tool-limits", action="store_true", help="keep the tool's default concurrency limits")
    ap.add_argument("--both", action="store_true", help="run dynamic and static pages")
    ap.add_argument("--large", action="store_true", help="also run 10,000 pages on 100 hosts, 0 ms, 4 KB, once")
    ap.add_argument("--skip-main", action="store_true", help="with --large: run only the 10,000-source variant")
    ap.add_argument("--profile", type=Path, default=None, help="also profile one cold run into this file")
    ap.add_argument("--profile-only", action="store_true", help="with --profile: the profile alone, no timed runs")
    ap.add_argument("--doc", type=Path, default=DOC)
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--json", type=Path, default=None, help="also write every trial as JSON here")
    args = ap.parse_args()

    configs = []
    kinds = [False, True] if args.both else [args.static]
    for static in kinds:
        configs.append(
            (Config(args.pages, args.hosts, args.latency, args.size, static, args.tool_limits), args.repeat, False)
        )
    if args.large:
        configs.append((Config(10_000, 100, 0.0, 4, False, args.tool_limits), 1, True))

    if args.skip_main:
        configs = [c for c in configs if c[2]]
    head = (
        f"Machine: {machine()}. Reproduce: `python bench/perf.py {' '.join(sys.argv[1:])}`"
        f" ({time.strftime('%H:%M UTC', time.gmtime())}). Main-process RSS: {rss_method()}."
    )
    dump = []
    for cfg, repeat, large in [] if args.profile_only else configs:
        print(cfg.label(), flush=True)
        trials = run_config(cfg, repeat)
        body = head + "\n\n" + table(cfg, trials, large)
        dump.append({"config": asdict(cfg), "trials": [asdict(t) for t in trials]})
        print()
        print(body)
        key = block_key(cfg)
        if not args.no_write:
            write_section(args.doc, f"<!-- perf:{key}:start -->", f"<!-- perf:{key}:end -->", body, within=END)
    if args.profile:
        prof = head + "\n\n" + profile(configs[0][0], args.profile) + "\n\n" + profile_analyse(configs[0][0])
        print(prof)
        if not args.no_write:
            write_section(args.doc, "<!-- perf:profile:start -->", "<!-- perf:profile:end -->", prof, within=END)
    if args.json:
        args.json.write_text(json.dumps(dump, indent=1))
    if not args.no_write:
        print(f"\nwrote {args.doc.relative_to(ROOT) if args.doc.is_relative_to(ROOT) else args.doc}")


if __name__ == "__main__":
    main()
