#!/usr/bin/env python3
"""Does `monitor daemon` stay flat in memory over thousands of scheduled checks?

Serves `--sources` policy pages (see `_loopback.py`: dynamic pages with a per-request nonce, so every check
fetches, normalises and reads the whole page) from `--hosts` loopback servers, writes a sources.yaml that
schedules every source every minute (`defaults: {schedule: "* * * * *", jitter: 0}`: cron's finest step),
starts the installed `monitor daemon` on a fresh SQLite database, and every `--interval` seconds samples the
daemon's resident memory (VmRSS and VmHWM from /proc/PID/status) and the number of checks done
(`select count(*) from checks`). Every minute `--churn` of the pages change their retention sentence, so
snapshots, diffs and alerts are written too. After `--minutes` it stops the daemon with SIGTERM.

The RSS after the first pass, at the end, the peak, and the slope of RSS against checks after the first
pass (least squares, in MB per 1,000 checks) go to the section of docs/benchmarks.md between
`<!-- daemon:start -->` and `<!-- daemon:end -->`.

    python bench/daemon_memory.py [--sources 500] [--hosts 20] [--minutes 5] [--interval 5] [--no-write]
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _loopback import Sites, monitor_command  # noqa: E402
from perf import DOC, ROOT, _tree_memory, machine, write_section  # noqa: E402

START, END = "<!-- daemon:start -->", "<!-- daemon:end -->"


@dataclass
class Sample:
    seconds: float
    checks: int
    rss_mb: float
    hwm_mb: float
    tree_pss_mb: float  # the daemon and its page-reading worker processes, summed PSS


def proc_status(pid: int) -> tuple[float, float]:
    """VmRSS and VmHWM of a process, in MB."""
    rss = hwm = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) / 1024
        elif line.startswith("VmHWM:"):
            hwm = int(line.split()[1]) / 1024
    return rss, hwm


def count_checks(db: Path) -> int:
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return int(con.execute("select count(*) from checks").fetchone()[0])
        finally:
            con.close()
    except sqlite3.Error:
        return 0  # not created yet


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of y over x."""
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    den = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / den if den else 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sources", type=int, default=500, help="number of pages (sources)")
    ap.add_argument("--hosts", type=int, default=20)
    ap.add_argument("--size", type=float, default=20, help="KB of policy text per page")
    ap.add_argument("--latency", type=float, default=0.0)
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--interval", type=float, default=5.0, help="seconds between samples")
    ap.add_argument("--churn", type=float, default=0.02, help="share of pages changed every minute")
    ap.add_argument("--doc", type=Path, default=DOC)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the daemon (finally below) when stopped
    work = Path(tempfile.mkdtemp(prefix="monitor-daemon-"))
    db = work / "monitor.db"
    log_path = work / "daemon.log"
    samples: list[Sample] = []
    with Sites(work / "site", pages=args.sources, hosts=args.hosts, latency=args.latency, size_kb=args.size) as sites:
        sources = work / "sources.yaml"
        defaults = {"schedule": '"* * * * *"', "jitter": 0, "concurrency": args.hosts * 2, "per_host": 2, "timeout": 60}
        sources.write_text(sites.sources_yaml(defaults))
        cmd = [monitor_command(), "--sources", str(sources), "--db", f"sqlite:///{db}", "daemon"]
        with open(log_path, "w") as log:
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        print(f"daemon pid {proc.pid}, {args.sources} sources on {args.hosts} hosts, {args.minutes:g} min", flush=True)
        start = time.monotonic()
        next_churn = 60.0
        version = 1
        try:
            while (elapsed := time.monotonic() - start) < args.minutes * 60:
                if proc.poll() is not None:
                    raise SystemExit(f"daemon exited early with {proc.returncode}; see {log_path}")
                rss, hwm = proc_status(proc.pid)
                s = Sample(elapsed, count_checks(db), rss, hwm, _tree_memory(proc.pid, {})[0])
                samples.append(s)
                print(
                    f"  {s.seconds:6.0f}s  checks {s.checks:6d}  RSS {s.rss_mb:6.1f} MB  peak {s.hwm_mb:6.1f} MB  "
                    f"tree PSS {s.tree_pss_mb:6.1f} MB",
                    flush=True,
                )
                if elapsed >= next_churn and args.churn > 0:
                    step = max(1, round(1 / args.churn))
                    for i in range(0, args.sources, step):
                        sites.set_version(i, version % 2)
                    version += 1
                    next_churn += 60
                time.sleep(max(0.0, args.interval - (time.monotonic() - start - elapsed)))
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                code = proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                code = proc.wait()
        final_checks = count_checks(db)
    log_tail = [ln for ln in log_path.read_text().splitlines() if ln.strip()][-3:]
    errors = sum(1 for ln in log_path.read_text().splitlines() if " ERROR " in ln or "Traceback" in ln)
    with sqlite3.connect(db) as con:
        outcomes = dict(con.execute("select outcome, count(*) from checks group by outcome").fetchall())
        alerts = con.execute("select count(*) from alerts").fetchone()[0]
    db_mb = sum(p.stat().st_size for p in (db, Path(f"{db}-wal")) if p.exists()) / 2**20

    body = report(args, samples, final_checks, code, log_tail, errors, outcomes, alerts, db_mb)
    print()
    print(body)
    if not args.no_write:
        write_section(args.doc, START, END, body)
        print(f"\nwrote {args.doc.relative_to(ROOT) if args.doc.is_relative_to(ROOT) else args.doc}")
    import shutil

    shutil.rmtree(work, ignore_errors=True)


def report(args, samples, final_checks, code, log_tail, errors, outcomes, alerts, db_mb) -> str:  # noqa: ANN001
    # "after the first pass": the first sample at which every source has been checked once
    warm = next((s for s in samples if s.checks >= args.sources), samples[-1])
    after = [s for s in samples if s.seconds >= warm.seconds]
    k = slope([(s.checks / 1000, s.rss_mb) for s in after])
    k_tree = slope([(s.checks / 1000, s.tree_pss_mb) for s in after])
    last = samples[-1]
    peak = max(s.hwm_mb for s in samples)
    lines = [
        f"Machine: {machine()}.",
        "",
        "Reproduce: `python bench/daemon_memory.py " + " ".join(sys.argv[1:]) + "`",
        "",
        f"**{args.sources} sources on {args.hosts} loopback hosts, every source scheduled every minute, "
        f"~{args.size:g} KB dynamic pages, {args.churn:.0%} of pages changed each minute, {args.minutes:g} minutes.**",
        "",
        f"- Checks done: **{final_checks}** (outcomes: {', '.join(f'{k} {v}' for k, v in sorted(outcomes.items()))}); "
        f"alerts raised: {alerts}; database at the end: {db_mb:.1f} MiB. Exit code after SIGTERM: {code}. "
        f"Errors in the log: {errors}.",
        f"- RSS after the first pass ({warm.checks} checks, {warm.seconds:.0f} s): **{warm.rss_mb:.1f} MB**; "
        f"at the end ({last.checks} checks): **{last.rss_mb:.1f} MB**; peak (VmHWM): {peak:.1f} MB.",
        f"- Summed PSS of the daemon and its worker processes: after the first pass {warm.tree_pss_mb:.1f} MB, "
        f"at the end {last.tree_pss_mb:.1f} MB, largest sample {max(s.tree_pss_mb for s in samples):.1f} MB.",
        f"- Against checks after the first pass: RSS **{k:+.2f} MB per 1,000 checks**, process tree PSS "
        f"**{k_tree:+.2f} MB per 1,000 checks** (least squares over {len(after)} samples).",
        f"- Last lines of the daemon's log: `{' / '.join(ln[-160:] for ln in log_tail)}`",
        "",
        "| seconds | checks | RSS MB (daemon) | peak RSS MB (daemon) | PSS MB (daemon + workers) |",
        "|---:|---:|---:|---:|---:|",
    ]
    step = max(1, len(samples) // 20)
    shown = samples[::step] + ([samples[-1]] if (len(samples) - 1) % step else [])
    lines += [
        f"| {s.seconds:.0f} | {s.checks} | {s.rss_mb:.1f} | {s.hwm_mb:.1f} | {s.tree_pss_mb:.1f} |" for s in shown
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    if not os.path.exists("/proc/self/status"):
        raise SystemExit("needs /proc (Linux)")
    main()
