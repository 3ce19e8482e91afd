#!/usr/bin/env bash
# Quick start, part 2: the whole test suite, with the linters. Extra arguments go to pytest.
source "$(dirname "$0")/scripts/bootstrap.sh"
ruff check digest tests benchmarks
mypy
exec pytest "$@"
