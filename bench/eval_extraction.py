"""Measure the facts extractor on the labelled corpus and write the result into docs/accuracy.md.

    python bench/eval_extraction.py [--corpus PATH] [--no-write]

Runs `extract()` over every labelled document, compares the API fields (and the consumer fields,
read with `extract_consumer()`) with the hand labels, checks that every evidence string is a verbatim
substring of its document, replays the documents listed in histories.json in order and reports which
consecutive versions change a summary field, and replays every version of each run in histories/
(archived versions of real pages, where no summary field changes: see histories/README.md). The
section between the extraction markers of docs/accuracy.md is rewritten; the rest of the file is
left as it is.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from policy_monitor.facts import EXTRACTOR_VERSION, extract, extract_consumer

ROOT = Path(__file__).resolve().parent.parent
API_FIELDS = ("retention", "flagged_retention", "training", "zdr_available")
CONSUMER_FIELDS = ("retention", "training")
START = "<!-- extraction:start -->"
END = "<!-- extraction:end -->"


@dataclass
class Miss:
    file: str
    field: str
    expected: object
    got: object
    evidence: str | None


@dataclass
class Result:
    docs: int = 0
    right: dict[str, int] = field(default_factory=dict)
    total: dict[str, int] = field(default_factory=dict)
    misses: list[Miss] = field(default_factory=list)
    not_verbatim: list[tuple[str, str]] = field(default_factory=list)
    history: list[str] = field(default_factory=list)
    slowest_ms: float = 0.0
    total_ms: float = 0.0

    def accuracy(self, prefix: str) -> tuple[int, int]:
        keys = [k for k in self.total if k.startswith(prefix)]
        return sum(self.right[k] for k in keys), sum(self.total[k] for k in keys)


def evaluate(corpus: Path) -> Result:
    result = Result()
    labels = [json.loads(line) for line in (corpus / "labels.jsonl").read_text().splitlines() if line.strip()]
    for label in labels:
        path = corpus / "docs" / label["file"]
        if not path.exists():
            continue
        text = path.read_text(encoding="utf-8")
        t0 = time.perf_counter()
        api = extract(text)
        elapsed = (time.perf_counter() - t0) * 1000
        result.slowest_ms = max(result.slowest_ms, elapsed)
        result.total_ms += elapsed
        consumer = extract_consumer(text)
        result.docs += 1
        for fact in api.facts:
            if fact.evidence not in text:
                result.not_verbatim.append((label["file"], fact.evidence))
        for audience, fields, got in (("api", API_FIELDS, api), ("consumer", CONSUMER_FIELDS, consumer)):
            expected_all = label.get(audience) or {}
            for name in fields:
                key = f"{audience}.{name}"
                expected = expected_all.get(name)
                value = getattr(got.summary, name)
                result.total[key] = result.total.get(key, 0) + 1
                if value == expected:
                    result.right[key] = result.right.get(key, 0) + 1
                else:
                    result.right.setdefault(key, 0)
                    result.misses.append(Miss(label["file"], key, expected, value, got.evidence.get(name)))
    histories = corpus / "histories.json"
    if histories.exists():
        for entry in json.loads(histories.read_text()):
            previous = None
            for name in entry["files"]:
                path = corpus / "docs" / name
                if not path.exists():
                    continue
                summary = extract(path.read_text(encoding="utf-8")).summary.to_dict()
                consumer = extract_consumer(path.read_text(encoding="utf-8")).summary.to_dict()
                current = {f"api.{k}": v for k, v in summary.items()}
                current.update({f"consumer.{k}": consumer[k] for k in CONSUMER_FIELDS})
                if previous is not None:
                    changed = [f"{k}: {previous[1][k]} -> {v}" for k, v in current.items() if previous[1][k] != v]
                    result.history.append(
                        f"`{previous[0]}` -> `{name}`: " + ("; ".join(changed) if changed else "no field changed")
                    )
                previous = (name, current)
            result.history.append(f"  - documented change: {entry['change']}")
    return result


@dataclass
class Run:
    """One run of archived versions (histories/<slug>/): the summary of its first version and every change."""

    slug: str
    versions: int
    first: dict[str, object]
    changes: list[str]


def replay_runs(corpus: Path) -> list[Run]:
    """Extract every version of each run in `corpus/histories/` in order; note each changed summary field."""
    runs = []
    for folder in sorted(p for p in (corpus / "histories").glob("*") if p.is_dir()):
        files = sorted(folder.glob("*.md"))
        previous: dict[str, object] | None = None
        run = Run(folder.name, len(files), {}, [])
        for path in files:
            text = path.read_text(encoding="utf-8")
            current: dict[str, object] = {f"api.{k}": v for k, v in extract(text).summary.to_dict().items()}
            consumer = extract_consumer(text).summary.to_dict()
            current.update({f"consumer.{k}": consumer[k] for k in CONSUMER_FIELDS})
            if previous is None:
                run.first = current
            else:
                changed = [k for k, v in current.items() if previous[k] != v]
                run.changes += [f"{path.name}: {k}: {previous[k]} -> {current[k]}" for k in changed]
            previous = current
        runs.append(run)
    return runs


def render(result: Result, speed: list[str] | None = None, runs: list[Run] | None = None) -> str:
    lines = [START, "", "## Extraction (facts extractor)", ""]
    lines.append(
        f"Extractor version {EXTRACTOR_VERSION}, {result.docs} labelled documents, produced by "
        "`python bench/eval_extraction.py`. Slowest document: "
        f"{result.slowest_ms:.0f} ms, mean {result.total_ms / max(result.docs, 1):.0f} ms "
        "(one pass, wall clock; `python bench/extract_speed.py` measures speed)."
    )
    lines += ["", "| field | right | of | accuracy |", "|---|---|---|---|"]
    for key in sorted(result.total):
        r, t = result.right[key], result.total[key]
        lines.append(f"| {key} | {r} | {t} | {100 * r / t:.1f}% |")
    for prefix in ("api.", "consumer."):
        r, t = result.accuracy(prefix)
        if t:
            lines.append(f"| **{prefix[:-1]} (all fields)** | {r} | {t} | **{100 * r / t:.1f}%** |")
    lines += ["", f"Evidence strings not verbatim in their document: {len(result.not_verbatim)}.", ""]
    if speed:
        lines += ["Speed (`python bench/extract_speed.py`, fastest run in CPU time):", ""]
        lines += [f"- {line}" for line in speed]
        lines += [""]
    lines += [
        "### Every miss",
        "",
        "| file | field | expected | got | our evidence |",
        "|---|---|---|---|---|",
    ]
    for m in result.misses:
        ev = (m.evidence or "").replace("|", "\\|").replace("\n", " ")
        if len(ev) > 200:
            ev = ev[:200] + "..."
        lines.append(f"| {m.file} | {m.field} | {m.expected} | {m.got} | {ev} |")
    lines += ["", "### Versions replayed in order (histories.json)", ""]
    lines += [f"- {h}" if not h.startswith("  ") else h for h in result.history]
    if runs:
        lines += ["", "### Archived versions of real pages (histories/), every version in order", ""]
        lines += ["| run | versions | summary of the first version | fields that change |", "|---|---|---|---|"]
        for run in runs:
            first = ", ".join(f"{k} {v}" for k, v in run.first.items() if v is not None) or "all null"
            lines.append(f"| `{run.slug}` | {run.versions} | {first} | {'; '.join(run.changes) or 'none'} |")
    lines += ["", END]
    return "\n".join(lines)


def write_section(doc: Path, section: str) -> None:
    if doc.exists():
        old = doc.read_text(encoding="utf-8")
        if START in old and END in old:
            head, rest = old.split(START, 1)
            tail = rest.split(END, 1)[1]
            new = head + section + tail
        else:
            new = old.rstrip("\n") + "\n\n" + section + "\n"
    else:
        new = "# Accuracy\n\n" + section + "\n"
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(new, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "accuracy.md")
    parser.add_argument("--no-write", action="store_true", help="print the report, do not touch docs/")
    args = parser.parse_args(argv)
    if not (args.corpus / "labels.jsonl").exists():
        print(f"Error: no labels.jsonl in {args.corpus}. Pass --corpus PATH.", file=sys.stderr)
        return 2
    result = evaluate(args.corpus)
    import extract_speed  # next to this script (bench/ is on sys.path when it runs)

    runs = replay_runs(args.corpus)
    section = render(result, extract_speed.measure(args.corpus), runs)
    if not args.no_write:
        write_section(args.output, section)
    for prefix in ("api.", "consumer."):
        r, t = result.accuracy(prefix)
        print(f"{prefix[:-1]}: {r}/{t} = {100 * r / max(t, 1):.1f}%")
    for key in sorted(result.total):
        print(f"  {key}: {result.right[key]}/{result.total[key]}")
    print(f"misses: {len(result.misses)}, evidence not verbatim: {len(result.not_verbatim)}")
    for run in runs:
        print(f"history {run.slug}: {run.versions} versions, changes: {'; '.join(run.changes) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
