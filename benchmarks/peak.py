"""Run a command and measure its peak RSS honestly.

`os.wait4` on a child of the benchmark is not enough: Linux carries the RSS high-water mark
of the process that forks across fork and execve, so a child of a benchmark that holds 300 MB
reports at least 300 MB whatever it uses itself. A small launcher process in between forks
the command from a few MB, and reports that child's own peak (and those of the processes it
forks and waits for).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from typing import IO

_LAUNCHER = """\
import os, sys, time
started = time.monotonic()
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
seconds = time.monotonic() - started
with open(sys.argv[1], "w") as out:
    out.write(f"{usage.ru_maxrss} {os.waitstatus_to_exitcode(status)} {seconds}")
"""


def run(
    command: Sequence[str],
    env: Mapping[str, str],
    output: IO[str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> tuple[int, float, float]:
    """(exit code, seconds, peak RSS in MB) of `command`, timed from its fork to its exit."""
    with tempfile.NamedTemporaryFile("r", suffix=".peak") as report:
        subprocess.run(
            [sys.executable, "-c", _LAUNCHER, report.name, *command],
            env=dict(env),
            cwd=cwd,
            stdout=output,
            stderr=subprocess.STDOUT if output is not None else None,
            check=False,
        )
        peak_kb, code, seconds = report.read().split()
    return int(code), float(seconds), int(peak_kb) / 1024


if __name__ == "__main__":  # python benchmarks/peak.py COMMAND...
    code, seconds, peak = run(sys.argv[1:], os.environ)
    print(f"exit {code}, {seconds:.2f} s, peak RSS {peak:.0f} MB", file=sys.stderr)
