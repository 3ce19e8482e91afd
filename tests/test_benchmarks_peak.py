"""benchmarks/peak.py measures a command's own peak RSS, not that of the process that ran it
(Linux carries the high-water mark of the forking process across fork and execve)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

MEASURE = """
import os, sys
sys.path.insert(0, sys.argv[1])
import peak
held = bytearray(300 * 1024 * 1024)
for i in range(0, len(held), 4096):
    held[i] = 1  # 300 MB resident in the measuring process
child = "b = bytearray(60 * 1024 * 1024)\\nfor i in range(0, len(b), 4096): b[i] = 1"
code, seconds, mb = peak.run([sys.executable, "-c", child], os.environ)
_, _, usage = os.wait4(os.spawnv(os.P_NOWAIT, sys.executable, [sys.executable, "-c", child]), 0)
print(code, mb, usage.ru_maxrss / 1024)
"""


def test_peak_rss_is_the_commands_own() -> None:
    result = subprocess.run(
        [sys.executable, "-c", MEASURE, str(ROOT / "benchmarks")],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env=os.environ,
    )
    code, measured, naive = result.stdout.split()
    assert int(code) == 0
    assert 60 <= float(measured) < 120  # the child's 60 MB and an interpreter
    assert float(naive) >= 300  # what a plain wait4 from the measuring process reports
