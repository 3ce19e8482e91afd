"""benchmarks/ingest.py runs, and every generated document parses (none refused)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ingest_benchmark_runs_and_refuses_nothing() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "ingest.py"), "--documents", "60"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines()[1:] if line.strip()]
    assert {row[:20].strip() for row in rows} >= {"samples/", "layouts"}
    for row in rows:
        assert row.endswith(" 0 refused"), row
        assert int(row[20:30].replace(",", "")) == 60
