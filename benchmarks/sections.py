"""Section assignment against a held-out set of headlines filed by hand.

benchmarks/headlines.tsv holds invented wire-style headlines, each with the one section a
careful editor would file it under. It was written from the section names and descriptions
only, without seeing the keywords, and must never be used to choose them: it measures how the
embedded default sections generalise, nothing more. This script files every headline with the
real classifier (the defaults, with no digest.toml or DIGEST_* variable in the way) and prints
the agreement overall and per section, then every disagreement. It exits 0 whatever the figure.

    .venv/bin/python benchmarks/sections.py
    .venv/bin/python benchmarks/sections.py --tsv other.tsv
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from digest.config import Config, load_config  # noqa: E402
from digest.sections import Classifier  # noqa: E402

HEADLINES = Path(__file__).resolve().parent / "headlines.tsv"
HEADER = ("section", "headline")


@dataclass(frozen=True)
class Case:
    line: int
    section: str
    headline: str


class BadFile(Exception):
    """The TSV does not parse, or names a section the config does not have."""


def default_config() -> Config:
    """The embedded defaults: no environment, and an empty folder so no digest.toml is read."""
    with tempfile.TemporaryDirectory() as empty:
        return load_config(env={}, cwd=Path(empty))


def read_cases(path: Path, sections: tuple[str, ...]) -> list[Case]:
    """Comment lines ('#') and blank lines are skipped; then a header, then section<TAB>headline."""
    cases: list[Case] = []
    header_seen = False
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not raw.strip() or raw.startswith("#"):
            continue
        fields = tuple(f.strip() for f in raw.split("\t"))
        if len(fields) != 2 or not all(fields):
            raise BadFile(f"{path}:{number}: want two non-empty tab-separated fields")
        if not header_seen:
            if fields != HEADER:
                raise BadFile(f"{path}:{number}: want the header 'section<TAB>headline'")
            header_seen = True
            continue
        if fields[0] not in sections:
            raise BadFile(f"{path}:{number}: unknown section {fields[0]!r}")
        cases.append(Case(number, fields[0], fields[1]))
    if not cases:
        raise BadFile(f"{path}: no headlines")
    return cases


def percent(n: int, total: int) -> str:
    return f"{100 * n / total:.1f}%" if total else "-"


def report(cases: list[Case], classifier: Classifier, sections: tuple[str, ...]) -> list[str]:
    got = [classifier.headline(case.headline) for case in cases]
    right = [case.section == g for case, g in zip(cases, got, strict=True)]
    total = Counter(case.section for case in cases)
    agree = Counter(case.section for case, ok in zip(cases, right, strict=True) if ok)
    # How often a section took a headline that belonged elsewhere: an over-eager section.
    taken = Counter(g for g, ok in zip(got, right, strict=True) if not ok)
    width = max(len(name) for name in sections)
    lines = [
        f"agreement: {sum(right)}/{len(cases)} ({percent(sum(right), len(cases))})",
        "",
        f"{'section':<{width}}  agree   wrongly filed here",
    ]
    for name in sections:
        if total[name] or taken[name]:
            score = f"{agree[name]}/{total[name]}"
            lines.append(f"{name:<{width}}  {score:<7} {taken[name]}")
    misses = [(c, g) for c, g, ok in zip(cases, got, right, strict=True) if not ok]
    lines += ["", f"disagreements ({len(misses)}), expected -> got: headline"]
    lines += [f"  {c.section} -> {g}: {c.headline}" for c, g in misses]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--tsv", type=Path, default=HEADLINES, help="section<TAB>headline file")
    args = parser.parse_args(argv)
    config = default_config()
    try:
        cases = read_cases(args.tsv, config.section_names)
    except (BadFile, OSError) as exc:
        print(f"sections benchmark: {exc}", file=sys.stderr)
        return 2
    classifier = Classifier.from_rules(config.sections, config.more_section)
    print(f"{args.tsv}: {len(cases)} headlines, the embedded default sections")
    print("\n".join(report(cases, classifier, config.section_names)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
