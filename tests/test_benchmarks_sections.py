"""The held-out headline set and its script (benchmarks/sections.py).

No threshold on the agreement here on purpose: the set measures the keywords and must never
become something they are tuned to pass.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

from digest.config import load_config

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "sections.py"
HEADLINES = ROOT / "benchmarks" / "headlines.tsv"
AGREEMENT = re.compile(r"^agreement: (\d+)/(\d+) \(\d+\.\d%\)$", re.MULTILINE)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def rows() -> list[tuple[str, str]]:
    lines = [
        line
        for line in HEADLINES.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "section\theadline"
    parsed = [tuple(line.split("\t")) for line in lines[1:]]
    assert all(len(row) == 2 and all(f.strip() for f in row) for row in parsed)
    return [(row[0], row[1]) for row in parsed]


def test_the_script_reports_agreement_on_the_set() -> None:
    done = run()
    assert done.returncode == 0, done.stderr
    found = AGREEMENT.search(done.stdout)
    assert found, done.stdout
    assert int(found.group(2)) == len(rows())
    assert "disagreements" in done.stdout


def test_the_script_takes_another_file(tmp_path: Path) -> None:
    tsv = tmp_path / "two.tsv"
    tsv.write_text(
        "# a comment\nsection\theadline\nSpace\tAn invented headline\n"
        "More headlines\tAnother invented headline\n",
        encoding="utf-8",
    )
    done = run("--tsv", str(tsv))
    assert done.returncode == 0, done.stderr
    found = AGREEMENT.search(done.stdout)
    assert found and found.group(2) == "2", done.stdout


def test_the_script_refuses_an_unknown_section(tmp_path: Path) -> None:
    tsv = tmp_path / "bad.tsv"
    tsv.write_text("section\theadline\nGardening\tRoses bloom early\n", encoding="utf-8")
    done = run("--tsv", str(tsv))
    assert done.returncode == 2
    assert "unknown section 'Gardening'" in done.stderr


def test_the_set_parses_and_names_only_configured_sections(tmp_path: Path) -> None:
    config = load_config(env={}, cwd=tmp_path)
    names = {rule.name for rule in config.sections}
    found = rows()
    assert {section for section, _ in found} <= names | {config.more_section}
    assert len({headline for _, headline in found}) == len(found), "a headline is repeated"
    counts = Counter(section for section, _ in found)
    assert all(counts[name] >= 5 for name in names), counts
    assert counts[config.more_section] >= 4, counts
    assert HEADLINES.read_text(encoding="utf-8").startswith("#"), "the held-out note is missing"
