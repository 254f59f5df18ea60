"""How long `extract()` takes: a generated 37 KB policy page, and every document of the corpus.

    python bench/extract_speed.py [--corpus PATH] [--repeat N]

The generated page is canonical page text as `normalize()` gives it: 90 numbered sections of prose
about other things (account data, cookies, contact, security...) with a retention and a training
statement among them. Each figure is the fastest of `--repeat` runs in CPU time (the machine may be
busy); "first call" is the first extraction of the process, before the extractor has met the page's
words. Prints one line per measurement; nothing is written.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

from policy_monitor.facts import extract

ROOT = Path(__file__).resolve().parent.parent
FILLER = (
    "We collect information you provide directly to us, such as your name, email address and billing details.",
    "We use cookies and similar technologies to remember your preferences and to understand how the site is used.",
    "You can contact our privacy team at any time by writing to the address given at the end of this page.",
    "We share information with service providers who help us run our business, under written agreements.",
    "We protect your information with administrative, technical and physical safeguards.",
    "You have the right to access, correct or port the personal information we hold about you.",
    "Where required by law, we ask for your consent before sending you marketing messages.",
    "Our services are not directed to children, and we do not knowingly collect their information.",
)
FACTS = (
    "We retain API inputs and outputs for 30 days, after which they are deleted.",
    "We do not use your API inputs to train our models.",
)


def generated_page(sections: int = 90) -> str:
    """Canonical text of a long policy page: mostly other topics, two facts in the middle."""
    lines = ["Example Privacy Policy", "Last updated: March 3, 2026"]
    for i in range(sections):
        lines.append(f"{i + 1}. Section {i + 1}")
        lines.append(" ".join(FILLER[(i + k) % len(FILLER)] for k in range(4)))
        if i in (sections // 3, 2 * sections // 3):
            lines.append(FACTS[0] if i == sections // 3 else FACTS[1])
    return "\n".join(lines) + "\n"


def fastest(run: Callable[[], object], repeat: int) -> float:
    """The fastest of `repeat` runs, in milliseconds of CPU time.

    Before each run another text is read, so that no run finds its page's facts kept from the last call
    (`extract()` and `extract_consumer()` of the same text read it once).
    """
    best = float("inf")
    for _ in range(repeat):
        extract("")
        start = time.process_time()
        run()
        best = min(best, time.process_time() - start)
    return best * 1000


def measure(corpus: Path, repeat: int = 20) -> list[str]:
    """One line per measurement: the generated page (fastest run and first call), then the corpus."""
    page = generated_page()
    start = time.process_time()
    extract(page)
    first = (time.process_time() - start) * 1000
    lines = [
        f"generated page, {len(page) / 1000:.0f} KB: {fastest(lambda: extract(page), repeat):.1f} ms "
        f"(first call of the process: {first:.1f} ms)"
    ]
    texts = [d.read_text(encoding="utf-8") for d in sorted((corpus / "docs").glob("*.md"))]
    if texts:
        times = [fastest(lambda t=t: extract(t), max(1, repeat // 4)) for t in texts]
        size = sum(len(t) for t in texts) / 1000
        lines.append(
            f"corpus, {len(texts)} documents, {size:.0f} KB: {sum(times):.0f} ms in all, "
            f"{sum(times) / len(times):.1f} ms per document, slowest {max(times):.1f} ms"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    parser.add_argument("--repeat", type=int, default=20, help="runs per measurement (the fastest counts)")
    args = parser.parse_args(argv)
    if not (args.corpus / "docs").is_dir():
        print(f"Error: no docs/ folder in {args.corpus}. Pass --corpus PATH.", file=sys.stderr)
        return 2
    for line in measure(args.corpus, args.repeat):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
