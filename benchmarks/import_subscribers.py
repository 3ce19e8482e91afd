"""Import benchmark: rows a second and peak memory of `digest subscribers import`.

Fixed inputs: a CSV of N rows (default 1,000,000) made the same way every time: row i is
reader{i}@, one of twenty domains, a name, and one of eight section choices. It runs the real
`digest subscribers import` command as a new process into a fresh SQLite file (or a fresh
schema in a PostgreSQL database), then imports the same file again (every row unchanged), and
prints one table. The peak RSS is that of the command's own process (benchmarks/peak.py).

    .venv/bin/python benchmarks/import_subscribers.py
    .venv/bin/python benchmarks/import_subscribers.py --rows 200000
    .venv/bin/python benchmarks/import_subscribers.py --database-url postgresql+psycopg://postgres@127.0.0.1/test

--code runs another checkout's `digest` (say a `git worktree` of an older commit), to compare.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import peak as peak_rss
from databases import CHOICES, fresh_database
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
DOMAINS = 20


def write_rows(path: Path, n: int) -> None:
    """The fixed input: n distinct, valid rows."""
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("email,name,sections\n")
        for i in range(n):
            out.write(f"reader{i}@mail{i % DOMAINS}.example.com,Reader {i},{CHOICES[i % 8]}\n")


def run_import(code: Path, workdir: Path, url: str, csv_file: Path) -> tuple[float, float, str]:
    """Seconds, peak RSS (MB) and output of `digest subscribers import` run from `code`."""
    env = {**os.environ, "DIGEST_DATABASE_URL": url, "PYTHONPATH": str(code)}
    with tempfile.TemporaryFile("w+") as out:
        # The command's own peak RSS, not this process's (see peak.py).
        code_, seconds, peak = peak_rss.run(
            [sys.executable, "-m", "digest", "subscribers", "import", str(csv_file)],
            env,
            out,
            cwd=workdir,  # no digest.toml there: the default sections
        )
        out.seek(0)
        output = out.read().strip()
    if code_ != 0:
        sys.exit(f"digest subscribers import failed:\n{output}")
    return seconds, peak, output


def count_rows(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM subscribers")).scalar_one())
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL database to use (a fresh schema in it) instead of a fresh SQLite file",
    )
    parser.add_argument(
        "--code", type=Path, default=ROOT, help="the checkout whose digest to run (default: this)"
    )
    args = parser.parse_args()
    n = args.rows
    with tempfile.TemporaryDirectory(prefix="digest-import-") as tmp:
        workdir = Path(tmp)
        csv_file = workdir / "subscribers.csv"
        write_rows(csv_file, n)
        size = csv_file.stat().st_size
        url, drop = fresh_database(workdir, args.database_url, "bench_import")
        try:
            first = run_import(args.code, workdir, url, csv_file)
            print(first[2])
            again = run_import(args.code, workdir, url, csv_file)
            print(again[2])
            stored = count_rows(url)
        finally:
            drop()

    print()
    print(f"{'':28}{'rows':>10}{'seconds':>10}{'rows/s':>10}{'peak RSS':>12}")
    for label, (seconds, rss, _) in (("import (all new)", first), ("again (all unchanged)", again)):
        print(f"{label:28}{n:>10,}{seconds:>10.1f}{n / seconds:>10,.0f}{rss:>9.0f} MB")
    print(f"{'file size':28}{size / 1e6:>39.1f} MB")
    print(f"{'database':28}{'PostgreSQL' if args.database_url else 'SQLite':>42}")
    print(f"{'code':28}{args.code!s:>42}")
    if stored != n:
        sys.exit(f"FAIL: {stored:,} subscribers stored, not {n:,}")
    if f"import: {n} added" not in first[2] or f"{n} unchanged" not in again[2]:
        sys.exit("FAIL: unexpected import summary")


if __name__ == "__main__":
    main()
