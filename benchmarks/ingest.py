"""Ingest benchmark: documents a second for `digest ingest` of generated documents.

Fixed inputs: N documents (default 5,000) made from a folder of templates: one of each template
a day, each made a distinct story by shuffling the words of its paragraphs after the first few
(a paragraph keeps its length, first words and last word, so prose stays prose and a dateline
stays whole), with the document's number as the seed. Shapes:

- `samples/`: the project's sample day (dated text, related headlines);
- `layouts`: the project's own pages in every layout the parser knows
  (`tests/fixtures/layouts/`: headers, bylines, datelines, asides, tails);
- `../shared sample`: the real page in `../shared/samples/`, when it is there (read there,
  never copied into the project; longer, with 28 related headlines).

Each is ingested into a fresh SQLite file, with parsing on every core, as `digest ingest` does.

    .venv/bin/python benchmarks/ingest.py
    .venv/bin/python benchmarks/ingest.py --documents 20000
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from digest.jobs import ingest as ingest_jobs  # noqa: E402
from digest.store import Store  # noqa: E402

SAMPLES = ROOT / "samples" / "2026-11-26"
LAYOUTS = ROOT / "tests" / "fixtures" / "layouts"
SHARED = ROOT.parent / "shared" / "samples"
PROSE_WORDS = 12  # lines this long are paragraphs: their words are shuffled
KEEP_WORDS = 8  # a dateline that runs into the first sentence stays whole
_PREFIX = re.compile(r"^\s*date\s+\S+\s?")
FIRST_DAY = dt.date(2026, 1, 1)


def distinct(text: str, seed: int, day: dt.date) -> str:
    """The same page dated `day`, with the words of each paragraph after its first few in
    another order: another story, with paragraphs as long as the template's."""
    rng = random.Random(seed)
    lines = text.split("\n")
    lines[0] = _PREFIX.sub("", lines[0], count=1)
    out = [f" date {day.isoformat()} "]
    for line in lines:
        words = line.split()
        if len(words) >= PROSE_WORDS:
            middle = words[KEEP_WORDS:-1]
            rng.shuffle(middle)
            line = " ".join([*words[:KEEP_WORDS], *middle, words[-1]])
        out.append(line)
    # The prefix goes on the first line, as in the documents digest receives.
    return out[0] + "\n".join(out[1:])


def generate(folder: Path, templates: list[Path], n: int) -> None:
    """n documents; each day has one of each template, as a day has one of each story."""
    texts = [p.read_text(encoding="utf-8") for p in templates]
    folder.mkdir(parents=True)
    for i in range(n):
        day = FIRST_DAY + dt.timedelta(days=i // len(texts))
        page = distinct(texts[i % len(texts)], i, day)
        (folder / f"doc{i:05d}.txt").write_text(page, encoding="utf-8")


def time_ingest(workdir: Path, name: str, templates: list[Path], n: int) -> tuple[float, str]:
    """Documents a second, and the report's summary line."""
    folder = workdir / f"docs-{name}"
    generate(folder, templates, n)
    store = Store(f"sqlite:///{workdir / f'ingest-{name}.db'}")
    try:
        started = time.perf_counter()
        report = ingest_jobs.ingest(store, [folder])
        seconds = time.perf_counter() - started
    finally:
        store.close()
    if report.refused:
        raise SystemExit(f"{name}: refused {report.refused[0]}")
    return n / seconds, report.summary


def shapes() -> dict[str, list[Path]]:
    found = {
        "samples/": sorted(SAMPLES.glob("*.txt")),
        "layouts": sorted(LAYOUTS.glob("*.txt")),
        "../shared sample": sorted(SHARED.glob("*.txt")),
    }
    return {name: paths for name, paths in found.items() if paths}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--documents", type=int, default=5000)
    args = parser.parse_args()
    print(f"{'shape':20}{'documents':>10}{'docs/s':>10}  outcome")
    with tempfile.TemporaryDirectory(prefix="digest-ingest-") as tmp:
        for k, (name, templates) in enumerate(shapes().items()):
            rate, summary = time_ingest(Path(tmp), f"s{k}", templates, args.documents)
            print(f"{name:20}{args.documents:>10,}{rate:>10,.0f}  {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
