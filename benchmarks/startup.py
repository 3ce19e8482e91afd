"""Startup benchmark: how long a `digest` command takes from exec to exit (issue #16's target:
`digest --help`, `digest status` and `digest subscribers list` under 0.15 s).

Fixed inputs: a fresh SQLite file with the sample day ingested and composed and 100
subscribers; each command runs RUNS times (default 15) as a new process, and the median and
the fastest are printed. Run it on an idle machine: the figures are wall-clock times.

    .venv/bin/python benchmarks/startup.py
    .venv/bin/python benchmarks/startup.py --runs 30
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DIGEST = Path(sys.executable).with_name("digest")
DAY = "2026-11-26"
COMMANDS = [
    ["--help"],
    ["status", "--date", DAY],
    ["subscribers", "list"],
    ["compose", "--help"],
]


def run(args: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run([str(DIGEST), *args], env=env, cwd=cwd, capture_output=True, check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        env = {**os.environ, "DIGEST_DATABASE_URL": f"sqlite:///{work / 'digest.db'}"}
        subscribers = work / "subscribers.csv"
        subscribers.write_text(
            "email,name\n" + "".join(f"reader{i}@example.com,Reader {i}\n" for i in range(100))
        )
        for setup in (
            ["ingest", str(ROOT / "samples")],
            ["compose", "--date", DAY],
            ["subscribers", "import", str(subscribers)],
        ):
            subprocess.run(
                [str(DIGEST), *setup], env=env, cwd=work, capture_output=True, check=True
            )
        print(f"{'command':32} {'median':>8} {'fastest':>8}   ({runs} runs each)")
        for args in COMMANDS:
            times = [run(args, env, work) for _ in range(runs)]
            name = "digest " + " ".join(args)
            print(f"{name:32} {statistics.median(times):7.3f}s {min(times):7.3f}s")


if __name__ == "__main__":
    main()
