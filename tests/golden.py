"""Golden-file checks: compare output with tests/golden/NAME, printing a unified diff.

Set DIGEST_UPDATE_GOLDEN=1 to (re)write the files instead; review the change with git diff.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest

GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE_ENV = "DIGEST_UPDATE_GOLDEN"


def assert_golden(name: str, actual: str) -> None:
    """Fail with a readable diff when `actual` differs from the golden file `name`."""
    path = GOLDEN / name
    if os.environ.get(UPDATE_ENV) == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(actual.encode("utf-8"))  # bytes: no newline translation
        return
    if not path.is_file():
        pytest.fail(f"golden file {path} is missing: run with {UPDATE_ENV}=1 to create it")
    expected = path.read_bytes().decode("utf-8")
    if actual == expected:
        return
    diff = "".join(
        difflib.unified_diff(
            expected.splitlines(keepends=True),
            actual.splitlines(keepends=True),
            fromfile=f"golden/{name}",
            tofile="actual",
        )
    )
    pytest.fail(
        f"output differs from golden/{name} (rerun with {UPDATE_ENV}=1 to accept):\n{diff}",
        pytrace=False,
    )
